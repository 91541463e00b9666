// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/dynamic-providers.md
/**
 * The encryption policy for stacks, applied to what Docker will deploy: a judge's reading
 * (judge.ts) of the exact text, with every finding placed on the line the user wrote. `stack lint`
 * runs it on files; `stack deploy` runs it on the rendered stack, with what it found in the
 * cluster, before anything is created, and deploys nothing if it fails. Rules: see RULES.
 */
import * as path from "path";
import { type DeclaredException } from "./exceptions";
import { type GoMap, divergentCharacters, type Located, readDockerYaml } from "./dialect";
import { dialectJudge, type Judgement } from "./judge";
import { readMeta, type StackMeta } from "./meta";
import { locate, type ValuePath } from "./origin";
import { type Finding, parseStack, type StackSource } from "./source";
import { type HostMount, readStack, type ServiceModel, type StackModel } from "./structure";

/** Every rule id, with what it refuses (the README's table says the same). */
export const RULES: ReadonlyArray<readonly [string, string]> = [
  ["unencrypted-overlay", "an overlay the stack creates without the encrypted option, or a service on the implicit plain <stack>_default"],
  ["external-network", "an external overlay (by its real name) that is plain in the cluster or not known to be encrypted"],
  ["plain-secret", "a credential in plain environment"],
  ["public-port", "a swarm, Docker API or database port published, or any port in ingress mode while ingress is plain"],
  ["host-access", "privileged, cap_add, network_mode: host or the host network, unless declared under x-hcloud-swarm allow:"],
  ["bind-mount", "a bind mount of the Docker socket or of a host path outside the allow-list, unless declared"],
  ["file-outside", "a secret, config or env_file read from outside the stack's directory"],
  ["yaml-dialect", "a character or construct that YAML readers read differently (U+2028, U+2029, U+0085, timestamps, tags)"],
  ["docker-config", "a file Docker's own loader refuses"],
  ["yaml", "invalid YAML"],
  ["compose-structure", "a broken compose structure"],
  ["template", "a malformed x-hcloud-swarm block"],
];

export interface LintContext {
  /** Networks seen in the cluster with the `encrypted` option. Default: none (a static lint). */
  readonly encryptedNetworks?: ReadonlySet<string>;
  /** Networks seen in the cluster without it; such an external network is always refused. Default: none. */
  readonly plainNetworks?: ReadonlySet<string>;
  /** The cluster's `ingress` network was seen encrypted. Default false. */
  readonly ingressEncrypted?: boolean;
}

export interface LintInput {
  /** The file the user wrote, named in every finding. */
  readonly file: string;
  readonly stack: string;
  /** Its text: findings carry its lines. */
  readonly sourceText: string;
  /** Docker's reading of what will be deployed (the source itself, or its rendering). */
  readonly judgement: Judgement;
  /** The stack's x-hcloud-swarm block. Default: read from sourceText (deploy passes the rendered stack's). */
  readonly meta?: StackMeta;
}

// Plain arrays rather than Map/Set: the Pulumi provider serializes module constants by value,
// and serialized Maps and Sets lose their internal slots.
/** Ports of Docker itself: no application publishes them. */
export const SWARM_PORTS: ReadonlyArray<readonly [number, string]> = [
  [2375, "Docker API (plain)"],
  [2376, "Docker API (TLS)"],
  [2377, "swarm management"],
  [7946, "swarm gossip"],
  [4789, "VXLAN data path"],
];
/** Back-end ports that never need to face the world: they talk to apps over an encrypted overlay. */
export const BACKEND_PORTS: ReadonlyArray<readonly [number, string]> = [
  [3306, "MySQL/MariaDB"],
  [5432, "PostgreSQL"],
  [6379, "Redis"],
  [11211, "memcached"],
  [27017, "MongoDB"],
  [9200, "Elasticsearch"],
  [5984, "CouchDB"],
  [9042, "Cassandra"],
];
/** Host paths any service may mount read-only: the node's time zone. Everything else must be declared. */
export const BIND_ALLOW_LIST: readonly string[] = ["/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo"];
export const DOCKER_SOCKETS: readonly string[] = ["/var/run/docker.sock", "/run/docker.sock"];

const SECRET_NAME = /(PASSW(OR)?D|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?KEY|SALT)/i;
/** Shell variables that contain "PWD" but hold directories. */
const SHELL_DIRS: readonly string[] = ["PWD", "OLDPWD"];
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^@\s]+@/i;
/** External networks that are not overlays. */
const NOT_OVERLAY: readonly string[] = ["none", "bridge"];

type At = (p: ValuePath, rule: string, message: string, extra?: { service?: string; network?: string }) => void;

/** Problems of the text itself, whatever judges it: the yaml package's errors (the renderer reads with it) and dialect differences. */
function textFindings(src: StackSource): Finding[] {
  const f = (line: number, rule: string, message: string): Finding => ({ file: src.file, line, stack: src.stack, rule, message });
  const out = divergentCharacters(src.text).map((p) => f(p.line, "yaml-dialect", p.message));
  for (const e of src.doc.errors) {
    out.push(f(e.linePos?.[0]?.line ?? 1, "yaml", `YAML error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")} (column ${e.linePos?.[0]?.col ?? 1})`));
  }
  return out;
}

/** What the renderer cannot render: YAML the `yaml` package cannot parse. Everything else is lint's, which names its judge. */
export function yamlFindings(src: StackSource): Finding[] {
  return textFindings(src).filter((f) => f.rule === "yaml");
}

/** Lints Docker's reading of a stack; see the module comment. */
export function lintJudged(input: LintInput, ctx: LintContext = {}): Finding[] {
  const src = parseStack(input.sourceText, input.file, input.stack);
  const findings = textFindings(src);
  if (src.doc.errors.length === 0) findings.push(...readMeta(src).findings);
  const meta = input.meta ?? readMeta(src).meta;
  const sourceAt: Located = readDockerYaml(input.sourceText).at;
  const data: GoMap | undefined = input.judgement.data;
  const lineOf = (p: ValuePath): number => locate(sourceAt, data, p);
  const at: At = (p, rule, message, extra = {}) => findings.push({ file: input.file, line: lineOf(p), stack: input.stack, rule, message, ...extra });
  // The judged text is the rendering when deploying: a --var value could carry what the template does not.
  if (input.judgement.text !== input.sourceText) {
    for (const d of divergentCharacters(input.judgement.text)) findings.push({ file: input.file, line: 1, stack: input.stack, rule: "yaml-dialect", message: `${d.message} (line ${d.line} of the rendered file)` });
  }
  const dialect = input.judgement.kind === "dialect";
  for (const p of input.judgement.problems) {
    // Docker's refusals are docker-config; the dialect reader's are placed by path (structure) or line (YAML).
    const rule = !dialect ? "docker-config" : p.path ? "compose-structure" : "yaml-dialect";
    const where = !dialect && p.line !== undefined && p.path === undefined ? ` (line ${p.line} of the judged file)` : "";
    findings.push({ file: input.file, line: p.path ? lineOf(p.path) : dialect && p.line ? p.line : 1, stack: input.stack, rule, message: `${p.message}${where}` });
  }
  if (!data) return dedupe(findings);
  const { model, problems } = readStack(data);
  for (const p of problems) at(p.path, "compose-structure", p.message, { ...(p.service ? { service: p.service } : {}), ...(p.network ? { network: p.network } : {}) });
  networkRules(input.stack, model, meta.externalNetworks, ctx, at);
  for (const svc of model.services) {
    secretRules(svc, at);
    portRules(svc, ctx, at);
  }
  hostRules(model, meta.exceptions, at, (line, message) => findings.push({ file: input.file, line, stack: input.stack, rule: "template", message }));
  fileRules(model, input.judgement.baseDir, at);
  return dedupe(findings).sort((a, b) => a.line - b.line);
}

function dedupe(findings: Finding[]): Finding[] {
  return findings.filter((f, i) => findings.findIndex((g) => g.line === f.line && g.rule === f.rule && g.message === f.message && g.service === f.service && g.network === f.network) === i);
}

function networkRules(stack: string, model: StackModel, guaranteed: readonly string[], ctx: LintContext, at: At): void {
  for (const n of model.networks) {
    const overlay = n.driver === undefined || n.driver === "overlay";
    if (!n.external) {
      const real = n.name !== n.key ? n.name : `${stack}_${n.key}`;
      if (overlay && !n.encrypted) {
        at(n.path, "unencrypted-overlay", `overlay network ${real} is not encrypted: traffic between nodes would cross the wire in clear; add driver_opts: {encrypted: ""}`, { network: n.key });
      }
      continue;
    }
    const named = n.name !== n.key ? ` (its real name; the key is "${n.key}")` : "";
    const where = n.name !== n.key ? [...n.path, "name"] : n.path;
    // The host network is judged per service that joins it (hostRules).
    if (n.name === "host") continue;
    if (NOT_OVERLAY.includes(n.name)) continue;
    if (ctx.plainNetworks?.has(n.name)) {
      at(where, "external-network", `external network "${n.name}"${named} exists in the cluster WITHOUT encryption, which cannot be added later; recreate it: docker network rm ${n.name} && docker network create -d overlay --attachable --opt encrypted ${n.name}`, { network: n.key });
    } else if (!guaranteed.includes(n.name) && !ctx.encryptedNetworks?.has(n.name)) {
      at(where, "external-network", `external network "${n.name}"${named} is not known to be encrypted; list it under x-hcloud-swarm: external-networks: so deploy creates it encrypted, or create it with --opt encrypted before deploying`, { network: n.key });
    }
  }
  if (model.networks.some((n) => n.key === "default")) return;
  for (const svc of model.services) {
    const ref = svc.networks?.find((r) => r.key === "default");
    if (svc.networks === undefined || ref) {
      at(ref?.path ?? svc.path, "unencrypted-overlay", `the service has no networks:, so stack deploy attaches it to the implicit overlay "${stack}_default", which is not encrypted; give it an encrypted network, or declare networks: default: driver_opts: {encrypted: ""}`, { service: svc.name, network: `${stack}_default` });
    }
  }
}

function secretRules(svc: ServiceModel, at: At): void {
  for (const env of svc.environment) {
    if (env.value === "" || env.key.toUpperCase().endsWith("_FILE") || env.value.startsWith("/run/secrets/") || SHELL_DIRS.includes(env.key)) continue;
    if (SECRET_NAME.test(env.key) || URL_PASSWORD.test(env.value)) {
      at(env.path, "plain-secret", `environment ${env.key} holds a credential in plain text (visible in docker service inspect); put it in a Docker secret and use ${env.key}_FILE=/run/secrets/<name>`, { service: svc.name });
    }
  }
}

function portRules(svc: ServiceModel, ctx: LintContext, at: At): void {
  for (const p of svc.ports) {
    const [lo, hi] = p.published ?? p.target;
    for (const [table, why] of [[SWARM_PORTS, "no service needs it, and publishing it exposes or hijacks the cluster's own plane"], [BACKEND_PORTS, "back ends belong on an encrypted overlay, not on every node's public address"]] as const) {
      for (const [port, what] of table) {
        if (port >= lo && port <= hi) at(p.path, "public-port", `publishes port ${port} (${what}) to the world: ${why}; remove it from ports:`, { service: svc.name });
      }
    }
    if (p.mode === "ingress" && !ctx.ingressEncrypted) {
      at(p.path, "public-port", `publishes ${p.published ? `port ${p.published[0]}` : "a random port"} in ingress mode: the routing mesh forwards clients between nodes over the unencrypted "ingress" overlay; publish with mode: host (long syntax), or encrypt the cluster's ingress network`, { service: svc.name, network: "ingress" });
    }
  }
}

function hostRules(model: StackModel, exceptions: readonly DeclaredException[], at: At, unused: (line: number, message: string) => void): void {
  const used = new Set<DeclaredException>();
  const allowed = (service: string, kind: DeclaredException["kind"], value: string): boolean => {
    const e = exceptions.find((x) => x.service === service && x.kind === kind && x.value === value);
    if (e) used.add(e);
    return e !== undefined;
  };
  const declare = (what: string) => `declare it under x-hcloud-swarm allow: (service, ${what}, reason) if the service really needs it`;
  for (const svc of model.services) {
    const s = { service: svc.name };
    if (svc.privileged && !allowed(svc.name, "privileged", "true")) at(svc.privileged, "host-access", `privileged: true gives the containers every capability and every host device: root on the node; remove it, or ${declare("privileged: true")}`, s);
    for (const c of svc.capAdd) if (!allowed(svc.name, "cap_add", c.cap)) at(c.path, "host-access", `cap_add ${c.cap} widens what the containers may do to the node's kernel; remove it, or ${declare(`cap_add: ${c.cap}`)}`, s);
    if (svc.networkMode?.value === "host" && !allowed(svc.name, "network_mode", "host")) at(svc.networkMode.path, "host-access", `network_mode: host shares the node's network stack (swarm ports, metadata address, every interface); remove it, or ${declare("network_mode: host")}`, s);
    for (const ref of svc.networks ?? []) {
      const n = model.networks.find((x) => x.key === ref.key);
      if (n?.external && n.name === "host" && !allowed(svc.name, "network_mode", "host")) {
        at(ref.path, "host-access", `network "${ref.key}" is the host network: the service shares the node's network stack (swarm ports, metadata address, every interface); remove it, or ${declare("network_mode: host")}`, { ...s, network: ref.key });
      }
    }
    for (const b of svc.binds) bindRule(b, svc.name, (source) => allowed(svc.name, "bind", source), at, declare);
  }
  for (const b of model.volumeBinds) bindRule(b, undefined, () => false, at, declare);
  for (const e of exceptions) {
    if (!used.has(e)) unused(e.line, `x-hcloud-swarm.allow: the exception for service "${e.service}" (${e.kind} ${e.value}) matches nothing in the stack; remove it so it cannot cover something added later`);
  }
}

function bindRule(b: HostMount, service: string | undefined, allowed: (source: string) => boolean, at: At, declare: (what: string) => string): void {
  const source = path.posix.normalize(b.source);
  const extra = service ? { service } : {};
  if (allowed(source)) return;
  if (DOCKER_SOCKETS.includes(source)) {
    at(b.path, "bind-mount", `mounts the Docker socket ${source}: whoever controls the container controls the node, and the whole swarm on a manager (read_only does not change that); remove it, or ${declare(`bind: ${source}`)}`, extra);
  } else if (!(b.readOnly && BIND_ALLOW_LIST.some((a) => source === a || source.startsWith(`${a}/`)))) {
    at(b.path, "bind-mount", `mounts the host path ${source}${b.readOnly ? "" : " read-write"}, outside the allow-list (read-only ${BIND_ALLOW_LIST.join(", ")}); use a named volume, or ${declare(`bind: ${source}`)}`, extra);
  }
}

function fileRules(model: StackModel, baseDir: string, at: At): void {
  for (const f of model.files) {
    const abs = path.posix.resolve(baseDir, f.file);
    const rel = path.posix.relative(path.posix.normalize(baseDir), abs);
    if (rel === "" || rel.startsWith("..") || path.posix.isAbsolute(rel)) {
      at(f.path, "file-outside", `${f.what} reads ${abs}, outside the stack's directory ${baseDir}: Docker reads it on the machine that deploys (a manager) and hands it to the service; keep the file next to the stack file, or use an external secret`);
    }
  }
}

/** Lints a stack file's text with the Docker-dialect judge (synchronous; tests and the demo use it). */
export function lintText(text: string, file: string, stack: string, ctx: LintContext = {}): Finding[] {
  const judgement = dialectJudge({ text, baseDir: path.posix.dirname(path.posix.resolve(file)) });
  return lintJudged({ file, stack, sourceText: text, judgement }, ctx);
}
