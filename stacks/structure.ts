/**
 * Reads a compose file into the few facts the encryption policy needs (networks, services, ports,
 * environment), reporting a broken structure as findings with lines instead of failing later
 * inside `docker stack deploy` with no position.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { entries, type Finding, keyLine, lineOf, mapAt, root, type StackSource } from "./source";
import { parsePorts, type PublishedPort } from "./ports";

export interface NetworkModel {
  /** Key under `networks:`. */
  readonly key: string;
  /** Name in the cluster: `name:` if set, else the key (stack deploy prefixes non-external ones). */
  readonly name: string;
  readonly external: boolean;
  /** `driver:`; absent means overlay in `docker stack deploy`. */
  readonly driver?: string;
  readonly encrypted: boolean;
  readonly line: number;
}

export interface EnvVar {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

export interface ServiceModel {
  readonly name: string;
  readonly line: number;
  /** Network keys the service joins; undefined when it has no `networks:` (it gets `default`). */
  readonly networks?: ReadonlyArray<{ readonly key: string; readonly line: number }>;
  readonly environment: readonly EnvVar[];
  readonly ports: readonly PublishedPort[];
}

export interface StackModel {
  readonly networks: readonly NetworkModel[];
  readonly services: readonly ServiceModel[];
  readonly secrets: readonly string[];
  readonly volumes: readonly string[];
}

// An array, not a Set: the Pulumi provider serializes module constants by value, and Sets do not survive it.
const TOP_LEVEL: readonly string[] = ["version", "name", "services", "networks", "volumes", "secrets", "configs"];

function scalarText(v: unknown): string | undefined {
  if (isScalar(v)) return v.value === null ? "" : String(v.value);
  return undefined;
}

/** Parses the structure; `findings` lists every structural problem (rule "compose-structure" or "yaml"). */
export function readStack(src: StackSource): { model: StackModel; findings: Finding[] } {
  const findings: Finding[] = [];
  const bad = (line: number, message: string, extra: { service?: string; network?: string } = {}): void => {
    findings.push({ file: src.file, line, stack: src.stack, rule: "compose-structure", message, ...extra });
  };
  for (const e of src.doc.errors) {
    findings.push({ file: src.file, line: e.linePos?.[0]?.line ?? 1, stack: src.stack, rule: "yaml", message: `YAML error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")} (column ${e.linePos?.[0]?.col ?? 1})` });
  }
  const empty: StackModel = { networks: [], services: [], secrets: [], volumes: [] };
  if (findings.length > 0) return { model: empty, findings };
  const top = root(src);
  if (!top) {
    bad(lineOf(src, src.doc.contents), "a stack file must be a mapping with a `services:` key");
    return { model: empty, findings };
  }
  for (const [key, , node] of entries(top)) {
    if (!TOP_LEVEL.includes(key) && !key.startsWith("x-")) bad(lineOf(src, node), `unknown top-level key "${key}"; expected services, networks, volumes, secrets, configs or an x- extension`);
  }
  const topMap = (key: string): YAMLMap | undefined => {
    const v = top.get(key, true);
    if (v === undefined || v === null || (isScalar(v) && v.value === null)) return undefined;
    if (!isMap(v)) bad(keyLine(src, top, key), `"${key}" must be a mapping of names`);
    return mapAt(top, key);
  };

  const networks = entries(topMap("networks")).map(([key, value, node]) => readNetwork(src, key, value, node, bad));
  const secrets = entries(topMap("secrets")).map(([k]) => k);
  const volumes = entries(topMap("volumes")).map(([k]) => k);
  const servicesMap = topMap("services");
  if (!servicesMap || servicesMap.items.length === 0) bad(keyLine(src, top, "services"), "a stack needs at least one service under `services:`");
  const services = entries(servicesMap).flatMap(([name, value, node]) => {
    if (!isMap(value)) {
      bad(lineOf(src, node), `service "${name}" must be a mapping with at least an image`, { service: name });
      return [];
    }
    return [readService(src, name, value, lineOf(src, node), { networks, secrets, volumes }, bad, findings)];
  });
  return { model: { networks, services, secrets, volumes }, findings };
}

type Bad = (line: number, message: string, extra?: { service?: string; network?: string }) => void;

function readNetwork(src: StackSource, key: string, value: unknown, node: Node | undefined, bad: Bad): NetworkModel {
  const line = lineOf(src, node);
  const map = isMap(value) ? value : undefined;
  if (value !== null && value !== undefined && !map && !(isScalar(value) && value.value === null)) {
    bad(line, `network "${key}" must be a mapping (or empty)`, { network: key });
  }
  const ext = map?.get("external");
  const external = ext === true || (isMap(map?.get("external", true)) as boolean);
  const driver = scalarText(map?.get("driver", true));
  const opts = map?.get("driver_opts", true);
  if (opts !== undefined && !isMap(opts)) bad(keyLine(src, map, "driver_opts"), `network "${key}": driver_opts must be a mapping such as {encrypted: ""}`, { network: key });
  const encrypted = isMap(opts) && opts.has("encrypted");
  const name = scalarText(map?.get("name", true)) ?? key;
  return { key, name, external, ...(driver !== undefined ? { driver } : {}), encrypted, line };
}

function refNames(src: StackSource, v: unknown, what: string, service: string, bad: Bad): Array<{ key: string; line: number }> {
  if (isSeq(v)) {
    return v.items.flatMap((it) => {
      if (isScalar(it)) return [{ key: String(it.value), line: lineOf(src, it) }];
      // Long syntax (`- source: x`) for secrets and configs.
      const source = isMap(it) ? scalarText(it.get("source", true)) : undefined;
      if (source !== undefined) return [{ key: source, line: lineOf(src, it as Node) }];
      bad(lineOf(src, it as Node), `service "${service}": each ${what} entry must be a name`, { service });
      return [];
    });
  }
  if (isMap(v)) return entries(v).map(([key, , node]) => ({ key, line: lineOf(src, node) }));
  bad(lineOf(src, v as Node), `service "${service}": ${what} must be a list of names`, { service });
  return [];
}

function readService(
  src: StackSource,
  name: string,
  svc: YAMLMap,
  line: number,
  declared: { networks: readonly NetworkModel[]; secrets: readonly string[]; volumes: readonly string[] },
  bad: Bad,
  findings: Finding[],
): ServiceModel {
  const image = svc.get("image", true);
  if (scalarText(image) === undefined || scalarText(image) === "") bad(line, `service "${name}" needs an image (stack deploy ignores build:)`, { service: name });
  const deploy = svc.get("deploy", true);
  if (deploy !== undefined && !isMap(deploy)) bad(keyLine(src, svc, "deploy"), `service "${name}": deploy must be a mapping`, { service: name });
  const netNode = svc.get("networks", true);
  let networks: Array<{ key: string; line: number }> | undefined;
  if (netNode !== undefined) {
    networks = refNames(src, netNode, "networks", name, bad);
    for (const n of networks) {
      if (n.key !== "default" && !declared.networks.some((d) => d.key === n.key)) {
        bad(n.line, `service "${name}" uses network "${n.key}", which is not declared under the top-level networks:`, { service: name, network: n.key });
      }
    }
  }
  const secNode = svc.get("secrets", true);
  if (secNode !== undefined) {
    for (const s of refNames(src, secNode, "secrets", name, bad)) {
      if (!declared.secrets.includes(s.key)) bad(s.line, `service "${name}" uses secret "${s.key}", which is not declared under the top-level secrets:`, { service: name });
    }
  }
  const volNode = svc.get("volumes", true);
  if (volNode !== undefined && !isSeq(volNode)) bad(keyLine(src, svc, "volumes"), `service "${name}": volumes must be a list`, { service: name });
  if (isSeq(volNode)) {
    for (const v of volNode.items) {
      const source = namedVolume(v);
      if (source !== undefined && !declared.volumes.includes(source)) {
        bad(lineOf(src, v as Node), `service "${name}" uses volume "${source}", which is not declared under the top-level volumes:`, { service: name });
      }
    }
  }
  const environment = readEnvironment(src, svc, name, bad);
  const ports = parsePorts(src, svc.get("ports", true), name, findings);
  return { name, line, ...(networks ? { networks } : {}), environment, ports };
}

/** The named volume a volume entry mounts, or undefined for binds, tmpfs and anonymous volumes. */
function namedVolume(v: unknown): string | undefined {
  const text = scalarText(v);
  if (text !== undefined) {
    const parts = text.split(":");
    // "name:/path[:ro]" mounts a named volume; "/host:/path" and "./rel:/path" are binds; "/path" is anonymous.
    return parts.length >= 2 && /^[A-Za-z0-9]/.test(parts[0]) ? parts[0] : undefined;
  }
  if (isMap(v) && (scalarText(v.get("type", true)) ?? "volume") === "volume") return scalarText(v.get("source", true)) || undefined;
  return undefined;
}

function readEnvironment(src: StackSource, svc: YAMLMap, service: string, bad: Bad): EnvVar[] {
  const env = svc.get("environment", true);
  if (env === undefined) return [];
  if (isMap(env)) {
    return entries(env).map(([key, value, node]) => ({ key, value: scalarText(value) ?? "", line: lineOf(src, node) }));
  }
  if (isSeq(env)) {
    return env.items.flatMap((it) => {
      const text = scalarText(it);
      if (text === undefined) {
        bad(lineOf(src, it as Node), `service "${service}": each environment entry must be KEY=value`, { service });
        return [];
      }
      const eq = text.indexOf("=");
      return [{ key: eq < 0 ? text : text.slice(0, eq), value: eq < 0 ? "" : text.slice(eq + 1), line: lineOf(src, it as Node) }];
    });
  }
  bad(keyLine(src, svc, "environment"), `service "${service}": environment must be a mapping or a list of KEY=value`, { service });
  return [];
}
