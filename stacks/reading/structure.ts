// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Reads Docker's reading of a compose file (judge.ts) into the facts the policy needs: networks by
 * their real names, services with their networks, ports, environment, privileges and mounts, and
 * the files Docker would read. It accepts both the short syntax (Docker-dialect judge) and the long
 * one (`docker stack config` output). A broken structure is reported with the path of the value,
 * instead of failing later inside `docker stack deploy` with no position.
 */
import { type GoMap, type GoValue, isGoMap } from "./dialect";
import type { ValuePath } from "./origin";
import { parsePorts, type PortProblem, type PublishedPort } from "./ports";
import { localVolumeAccess, type VolumeHostAccess } from "./volume-drivers";

export interface NetworkModel {
  /** Key under `networks:`. */
  readonly key: string;
  /** Name in the cluster: `name:` when set (external or not), else the key, prefixed `<stack>_` unless external. */
  readonly name: string;
  readonly external: boolean;
  /** `driver:`; absent means overlay in `docker stack deploy`. */
  readonly driver?: string;
  /** The overlay driver only checks that the option is present (`encrypted: "false"` still encrypts). */
  readonly encrypted: boolean;
  readonly path: ValuePath;
}

export interface EnvVar {
  readonly key: string;
  readonly value: string;
  readonly path: ValuePath;
}

/** A mount of a host path into a service's containers. */
export interface HostMount {
  readonly source: string;
  readonly readOnly: boolean;
  readonly path: ValuePath;
}

export interface ServiceModel {
  readonly name: string;
  readonly path: ValuePath;
  /** Network keys the service joins; undefined when it has no `networks:` (it gets `default`). */
  readonly networks?: ReadonlyArray<{ readonly key: string; readonly path: ValuePath }>;
  readonly environment: readonly EnvVar[];
  readonly ports: readonly PublishedPort[];
  /** Where `privileged: true` is set. */
  readonly privileged?: ValuePath;
  readonly capAdd: ReadonlyArray<{ readonly cap: string; readonly path: ValuePath }>;
  readonly networkMode?: { readonly value: string; readonly path: ValuePath };
  readonly binds: readonly HostMount[];
}

/** A file Docker reads on the machine that deploys: `secrets`/`configs` with `file:`. */
export interface FileSource {
  readonly what: string;
  readonly file: string;
  readonly path: ValuePath;
}

export interface StackModel {
  readonly networks: readonly NetworkModel[];
  readonly services: readonly ServiceModel[];
  readonly secrets: readonly string[];
  readonly configs: readonly string[];
  readonly volumes: readonly string[];
  /** Named volumes whose local driver binds a host path (`driver_opts: {o: bind, device: …}`). */
  readonly volumeBinds: readonly HostMount[];
  /** Named volumes whose local driver mounts something of the host other than a bind (volume-drivers.ts). */
  readonly volumeHost: readonly VolumeHostAccess[];
  readonly files: readonly FileSource[];
}

export interface StructureProblem {
  readonly path: ValuePath;
  readonly message: string;
  readonly service?: string;
  readonly network?: string;
}

// An array, not a Set: the Pulumi provider serializes module constants by value, and Sets do not survive it.
const TOP_LEVEL: readonly string[] = ["version", "services", "networks", "volumes", "secrets", "configs"];

const text = (v: GoValue | undefined): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
const keysOf = (m: GoValue | undefined): string[] => (isGoMap(m) ? Object.keys(m) : []);

/** Reads the model; `problems` lists every structural problem, each with its path. */
export function readStack(data: GoMap): { model: StackModel; problems: StructureProblem[] } {
  const problems: StructureProblem[] = [];
  const bad = (path: ValuePath, message: string, extra: { service?: string; network?: string } = {}): void => {
    problems.push({ path, message, ...extra });
  };
  for (const key of Object.keys(data)) {
    if (key === "name")
      bad(
        [key],
        `top-level "name:" is refused by Docker's compose schema for stacks, and docker stack deploy names the stack from its command line anyway; remove it`,
      );
    else if (!TOP_LEVEL.includes(key) && !key.startsWith("x-"))
      bad(
        [key],
        `unknown top-level key "${key}"; expected services, networks, volumes, secrets, configs or an x- extension`,
      );
  }
  const section = (key: string): GoMap | undefined => {
    const v = data[key];
    if (v === undefined || v === null) return undefined;
    if (!isGoMap(v)) bad([key], `"${key}" must be a mapping of names`);
    return isGoMap(v) ? v : undefined;
  };
  const networks = keysOf(section("networks")).map((key) => readNetwork(key, (data.networks as GoMap)[key], bad));
  const secrets = keysOf(section("secrets"));
  const configs = keysOf(section("configs"));
  const volumes = keysOf(section("volumes"));
  const files: FileSource[] = [];
  for (const kind of ["secrets", "configs"]) {
    for (const key of keysOf(data[kind])) {
      const o = (data[kind] as GoMap)[key];
      const file = isGoMap(o) ? text(o.file) : undefined;
      if (file !== undefined && !(isGoMap(o) && o.external === true))
        files.push({ what: `${kind.slice(0, -1)} "${key}"`, file, path: [kind, key, "file"] });
    }
  }
  const volumeBinds: HostMount[] = [];
  const volumeHost: VolumeHostAccess[] = [];
  for (const key of volumes) {
    const a = localVolumeAccess(key, (data.volumes as GoMap)[key]);
    volumeBinds.push(...a.binds);
    volumeHost.push(...a.host);
  }
  const servicesMap = section("services");
  if (!servicesMap || Object.keys(servicesMap).length === 0)
    bad(["services"], "a stack needs at least one service under `services:`");
  const services = keysOf(servicesMap).flatMap((name) => {
    const svc = (servicesMap as GoMap)[name];
    if (!isGoMap(svc)) {
      bad(["services", name], `service "${name}" must be a mapping with at least an image`, { service: name });
      return [];
    }
    return [readService(name, svc, { networks, secrets, configs, volumes }, bad, problems, files)];
  });
  return { model: { networks, services, secrets, configs, volumes, volumeBinds, volumeHost, files }, problems };
}

type Bad = (path: ValuePath, message: string, extra?: { service?: string; network?: string }) => void;

function readNetwork(key: string, value: GoValue, bad: Bad): NetworkModel {
  const path = ["networks", key];
  const map = isGoMap(value) ? value : undefined;
  if (value !== null && !map) bad(path, `network "${key}" must be a mapping (or empty)`, { network: key });
  const external = map?.external === true || isGoMap(map?.external);
  // Stack deploy treats `driver: ""` as no driver: overlay (Docker's output drops the key).
  const driver = text(map?.driver) || undefined;
  const opts = map?.driver_opts;
  if (opts !== undefined && opts !== null && !isGoMap(opts))
    bad([...path, "driver_opts"], `network "${key}": driver_opts must be a mapping such as {encrypted: ""}`, {
      network: key,
    });
  const encrypted = isGoMap(opts) && Object.prototype.hasOwnProperty.call(opts, "encrypted");
  const extName = isGoMap(map?.external) ? text((map?.external as GoMap).name) : undefined;
  const name = text(map?.name) ?? extName ?? key;
  return { key, name, external, ...(driver !== undefined ? { driver } : {}), encrypted, path };
}

/** Names a service refers to: a list of names, a list of `{source: name}`, or a mapping keyed by name. */
function refNames(
  v: GoValue,
  at: ValuePath,
  what: string,
  service: string,
  bad: Bad,
): Array<{ key: string; path: ValuePath }> {
  if (Array.isArray(v)) {
    return v.flatMap((it, i) => {
      const key = text(it) ?? (isGoMap(it) ? text(it.source) : undefined);
      if (key !== undefined) return [{ key, path: [...at, String(i)] }];
      bad([...at, String(i)], `service "${service}": each ${what} entry must be a name`, { service });
      return [];
    });
  }
  if (isGoMap(v)) return Object.keys(v).map((key) => ({ key, path: [...at, key] }));
  bad(at, `service "${service}": ${what} must be a list of names`, { service });
  return [];
}

function readService(
  name: string,
  svc: GoMap,
  declared: {
    networks: readonly NetworkModel[];
    secrets: readonly string[];
    configs: readonly string[];
    volumes: readonly string[];
  },
  bad: Bad,
  problems: StructureProblem[],
  files: FileSource[],
): ServiceModel {
  const at = ["services", name];
  if (!text(svc.image)) bad(at, `service "${name}" needs an image (stack deploy ignores build:)`, { service: name });
  if (svc.deploy !== undefined && svc.deploy !== null && !isGoMap(svc.deploy))
    bad([...at, "deploy"], `service "${name}": deploy must be a mapping`, { service: name });
  let networks: Array<{ key: string; path: ValuePath }> | undefined;
  // `networks: []` and `networks: {}` attach the service to `default`, as no `networks:` does (Docker's output drops them).
  const emptyNets =
    (Array.isArray(svc.networks) && svc.networks.length === 0) ||
    (isGoMap(svc.networks) && Object.keys(svc.networks).length === 0);
  if (svc.networks !== undefined && svc.networks !== null && !emptyNets) {
    networks = refNames(svc.networks, [...at, "networks"], "networks", name, bad);
    for (const n of networks) {
      if (n.key !== "default" && !declared.networks.some((d) => d.key === n.key))
        bad(n.path, `service "${name}" uses network "${n.key}", which is not declared under the top-level networks:`, {
          service: name,
          network: n.key,
        });
    }
  }
  for (const kind of ["secrets", "configs"] as const) {
    if (svc[kind] === undefined || svc[kind] === null) continue;
    for (const s of refNames(svc[kind], [...at, kind], kind, name, bad)) {
      if (!declared[kind].includes(s.key))
        bad(
          s.path,
          `service "${name}" uses ${kind.slice(0, -1)} "${s.key}", which is not declared under the top-level ${kind}:`,
          { service: name },
        );
    }
  }
  const binds: HostMount[] = [];
  if (svc.volumes !== undefined && svc.volumes !== null && !Array.isArray(svc.volumes))
    bad([...at, "volumes"], `service "${name}": volumes must be a list`, { service: name });
  if (Array.isArray(svc.volumes)) {
    svc.volumes.forEach((v, i) => {
      const path = [...at, "volumes", String(i)];
      const m = isGoMap(v) ? v : undefined;
      const type = text(m?.type) ?? (typeof v === "string" ? (/^[./~]/.test(v) ? "bind" : "volume") : "volume");
      const source =
        typeof v === "string" ? (v.includes(":") ? v.slice(0, v.indexOf(":")) : undefined) : text(m?.source);
      if (type === "bind" && source !== undefined)
        binds.push({ source, readOnly: m?.read_only === true || (typeof v === "string" && /:ro(,|$)/.test(v)), path });
      else if (type === "volume" && source && !declared.volumes.includes(source))
        bad(path, `service "${name}" uses volume "${source}", which is not declared under the top-level volumes:`, {
          service: name,
        });
    });
  }
  const envFiles =
    svc.env_file === undefined || svc.env_file === null
      ? []
      : Array.isArray(svc.env_file)
        ? svc.env_file
        : [svc.env_file];
  envFiles.forEach((f, i) => {
    const file = text(isGoMap(f) ? f.path : f);
    if (file !== undefined)
      files.push({
        what: `service "${name}" env_file`,
        file,
        path: [...at, "env_file", ...(Array.isArray(svc.env_file) ? [String(i)] : [])],
      });
  });
  const portProblems: PortProblem[] = [];
  const ports = parsePorts(svc.ports, [...at, "ports"], name, portProblems);
  problems.push(...portProblems.map((p) => ({ ...p, service: name })));
  const capAdd = Array.isArray(svc.cap_add)
    ? svc.cap_add.flatMap((c, i) =>
        text(c) !== undefined ? [{ cap: text(c) as string, path: [...at, "cap_add", String(i)] }] : [],
      )
    : [];
  const mode = text(svc.network_mode);
  return {
    name,
    path: at,
    ...(networks ? { networks } : {}),
    environment: readEnvironment(svc.environment, [...at, "environment"], name, bad),
    ports,
    ...(svc.privileged === true ? { privileged: [...at, "privileged"] } : {}),
    capAdd,
    ...(mode !== undefined ? { networkMode: { value: mode, path: [...at, "network_mode"] } } : {}),
    binds,
  };
}

function readEnvironment(env: GoValue | undefined, at: ValuePath, service: string, bad: Bad): EnvVar[] {
  if (env === undefined || env === null) return [];
  if (isGoMap(env)) return Object.keys(env).map((key) => ({ key, value: text(env[key]) ?? "", path: [...at, key] }));
  if (Array.isArray(env)) {
    return env.flatMap((it, i) => {
      const t = text(it);
      if (t === undefined) {
        bad([...at, String(i)], `service "${service}": each environment entry must be KEY=value`, { service });
        return [];
      }
      const eq = t.indexOf("=");
      return [{ key: eq < 0 ? t : t.slice(0, eq), value: eq < 0 ? "" : t.slice(eq + 1), path: [...at, String(i)] }];
    });
  }
  bad(at, `service "${service}": environment must be a mapping or a list of KEY=value`, { service });
  return [];
}
