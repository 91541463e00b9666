/**
 * The encryption policy for stacks. `stack lint` runs it on files; `stack deploy` runs it with
 * what it found in the cluster before anything is created, and deploys nothing if it fails.
 *
 * Rules:
 * - unencrypted-overlay: a network the stack creates with driver overlay (or no driver: stack
 *   deploy makes it an overlay) and no `encrypted` driver option; also a service with no
 *   `networks:` (it joins the implicit `<stack>_default` overlay) unless `default` is declared encrypted.
 * - external-network: an external overlay that is neither listed under x-hcloud-swarm
 *   external-networks (deploy then creates it encrypted, or refuses it if it exists plain) nor
 *   seen encrypted in the cluster.
 * - plain-secret: a password-like variable (name contains PASSWORD, SECRET, TOKEN, API_KEY, …, and
 *   does not end in _FILE) with a value in `environment`, or a URL with user:password@.
 * - public-port: publishing a swarm port (2377, 7946, 4789) or the Docker API (2375, 2376), which
 *   no service needs; publishing a database/cache port (3306, 5432, 6379, 27017, …), which belongs
 *   on an encrypted overlay; and publishing in ingress mode (the default) unless the cluster's
 *   ingress network is known encrypted, because the routing mesh forwards client traffic between
 *   nodes over the plain `ingress` overlay. Edge services publish with `mode: host`.
 * - compose-structure / yaml / template: the file cannot be read as a stack (see structure.ts, meta.ts).
 */
import { readMeta } from "./meta";
import { type Finding, parseStack, type StackSource } from "./source";
import { readStack, type StackModel } from "./structure";

export interface LintContext {
  /** Networks seen in the cluster with the `encrypted` option. Default: none (a static lint). */
  readonly encryptedNetworks?: ReadonlySet<string>;
  /** Networks seen in the cluster without it; such an external network is always refused. Default: none. */
  readonly plainNetworks?: ReadonlySet<string>;
  /** The cluster's `ingress` network was seen encrypted. Default false. */
  readonly ingressEncrypted?: boolean;
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

const SECRET_NAME = /(PASSW(OR)?D|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?KEY|SALT)/i;
/** Shell variables that contain "PWD" but hold directories. */
const SHELL_DIRS: readonly string[] = ["PWD", "OLDPWD"];
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^@\s]+@/i;
/** Networks that are not overlays even though they are external. */
const NOT_OVERLAY: readonly string[] = ["host", "none", "bridge"];

/** Lints one parsed stack file. */
export function lintSource(src: StackSource, ctx: LintContext = {}): Finding[] {
  const { model, findings } = readStack(src);
  const meta = readMeta(src);
  findings.push(...meta.findings);
  if (findings.some((f) => f.rule === "yaml")) return findings;
  const at = (line: number, rule: string, message: string, extra: { service?: string; network?: string }): void => {
    findings.push({ file: src.file, line, stack: src.stack, rule, message, ...extra });
  };
  networkRules(src, model, new Set(meta.meta.externalNetworks), ctx, at);
  for (const svc of model.services) {
    for (const env of svc.environment) {
      if (env.value === "" || env.key.toUpperCase().endsWith("_FILE") || env.value.startsWith("/run/secrets/") || SHELL_DIRS.includes(env.key)) continue;
      if (SECRET_NAME.test(env.key) || URL_PASSWORD.test(env.value)) {
        at(env.line, "plain-secret", `environment ${env.key} holds a credential in plain text (visible in docker service inspect); put it in a Docker secret and use ${env.key}_FILE=/run/secrets/<name>`, { service: svc.name });
      }
    }
    for (const p of svc.ports) {
      const [lo, hi] = p.published ?? p.target;
      for (const [table, why] of [[SWARM_PORTS, "no service needs it, and publishing it exposes or hijacks the cluster's own plane"], [BACKEND_PORTS, "back ends belong on an encrypted overlay, not on every node's public address"]] as const) {
        for (const [port, what] of table) {
          if (port >= lo && port <= hi) at(p.line, "public-port", `publishes port ${port} (${what}) to the world: ${why}; remove it from ports:`, { service: svc.name });
        }
      }
      if (p.mode === "ingress" && !ctx.ingressEncrypted) {
        at(p.line, "public-port", `publishes ${p.published ? `port ${p.published[0]}` : "a random port"} in ingress mode: the routing mesh forwards clients between nodes over the unencrypted "ingress" overlay; publish with mode: host (long syntax), or encrypt the cluster's ingress network`, { service: svc.name, network: "ingress" });
      }
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}

type At = (line: number, rule: string, message: string, extra: { service?: string; network?: string }) => void;

function networkRules(src: StackSource, model: StackModel, guaranteed: ReadonlySet<string>, ctx: LintContext, at: At): void {
  for (const n of model.networks) {
    const overlay = n.driver === undefined || n.driver === "overlay";
    if (!n.external) {
      if (overlay && !n.encrypted) {
        at(n.line, "unencrypted-overlay", `overlay network is not encrypted: traffic between nodes would cross the wire in clear; add driver_opts: {encrypted: ""}`, { network: n.key });
      }
      continue;
    }
    if (NOT_OVERLAY.includes(n.name)) continue;
    if (ctx.plainNetworks?.has(n.name)) {
      at(n.line, "external-network", `external network "${n.name}" exists in the cluster WITHOUT encryption, which cannot be added later; recreate it: docker network rm ${n.name} && docker network create -d overlay --attachable --opt encrypted ${n.name}`, { network: n.key });
    } else if (!guaranteed.has(n.name) && !ctx.encryptedNetworks?.has(n.name)) {
      at(n.line, "external-network", `external network "${n.name}" is not known to be encrypted; list it under x-hcloud-swarm: external-networks: so deploy creates it encrypted, or create it with --opt encrypted before deploying`, { network: n.key });
    }
  }
  const defaultNet = model.networks.find((n) => n.key === "default");
  if (defaultNet) return;
  for (const svc of model.services) {
    const usesDefault = svc.networks === undefined || svc.networks.some((r) => r.key === "default");
    if (usesDefault) {
      const line = svc.networks?.find((r) => r.key === "default")?.line ?? svc.line;
      at(line, "unencrypted-overlay", `the service has no networks:, so stack deploy attaches it to the implicit overlay "${src.stack}_default", which is not encrypted; give it an encrypted network, or declare networks: default: driver_opts: {encrypted: ""}`, { service: svc.name, network: `${src.stack}_default` });
    }
  }
}

/** Lints a stack file's text; the stack name defaults to the one the path implies. */
export function lintText(text: string, file: string, stack: string, ctx: LintContext = {}): Finding[] {
  return lintSource(parseStack(text, file, stack), ctx);
}
