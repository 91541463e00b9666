// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * What a node runs besides the swarm: the part of cloud-init's user data that matters after first
 * boot, as data. cloud-init applies it once; the node reconcile step (./reconcile.ts) applies it in
 * place on live nodes, so a changed `dockerVersion` or `adminSshKeys` never needs a new server.
 * Each node records the spec it runs as a version and a hash, in SPEC_FILE and in the LABEL_SPEC
 * node label. Pure.
 */
import * as crypto from "crypto";
import { RESERVED_PREFIX } from "../inventory/labels";

/** Raised when the meaning of the spec or its hash changes, so that every node is reconciled again. */
export const NODE_SPEC_VERSION = 1;
/** On the node: `version N` and `hash H`, written once nothing of the spec is pending. */
export const SPEC_FILE = "/var/lib/hcloud-swarm/node-spec";
/** Swarm node label: `<version>-<hash prefix>`. */
export const LABEL_SPEC = `${RESERVED_PREFIX}spec`;

/**
 * Kernel modules swarm needs. esp4 and xt_policy are required: without them IPsec overlays cannot
 * work. Docker's rules that force encryption need a packet-match module, xt_u32 or (newer Docker)
 * xt_bpf; one of the two is enough (MATCH_MODULES), and without either the rules silently go
 * missing (CVE-2023-28840). The rest (IPVS for the routing mesh, VXLAN) are loaded if present.
 */
export const REQUIRED_MODULES = ["esp4", "xt_policy"];
/** At least one of these must load. */
export const MATCH_MODULES = ["xt_u32", "xt_bpf"];
export const OPTIONAL_MODULES = [
  "overlay",
  "br_netfilter",
  "vxlan",
  "xfrm_user",
  "esp6",
  "ip_vs",
  "ip_vs_rr",
  "ip_vs_wrr",
  "ip_vs_sh",
  "nf_conntrack",
];
export const MODULES_CONF_PATH = "/etc/modules-load.d/hcloud-swarm.conf";

/** The modules-load.d file: every module, one a line (systemd-modules-load reads it at boot). */
export function modulesConf(): string {
  return [...REQUIRED_MODULES, ...MATCH_MODULES, ...OPTIONAL_MODULES].join("\n") + "\n";
}

/** daemon.json keys hcloud-swarm sets (no live-restore: swarm mode refuses it; bounded logs). Others on the node are kept. */
export const DAEMON_JSON_DEFAULTS: Readonly<Record<string, unknown>> = {
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "3" },
};
export const DAEMON_JSON_PATH = "/etc/docker/daemon.json";

/** The admin keys live between these lines in the SSH user's authorized_keys; lines outside are never touched. */
export const ADMIN_BLOCK_BEGIN = "# >>> hcloud-swarm adminSshKeys (managed: edits inside this block are replaced)";
export const ADMIN_BLOCK_END = "# <<< hcloud-swarm adminSshKeys";

export interface NodeSpec {
  /** Docker Engine release the package must carry ("28.5.1"); absent: the engine's version is not managed. */
  readonly dockerVersion?: string;
  /** Public keys of humans, kept in a managed block of authorized_keys; absent: the file is not touched. */
  readonly adminSshKeys?: readonly string[];
  /** daemon.json keys to set (merged into the node's file); absent: the file is not touched. */
  readonly daemonJson?: Readonly<Record<string, unknown>>;
}

const VERSION = /^\d+\.\d+\.\d+([.+~-][A-Za-z0-9.+~-]*)?$/;
const PUBLIC_KEY =
  /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$/;

/** Problems of a spec, each naming `where` and the key, all at once. */
export function nodeSpecProblems(value: unknown, where = "nodeSpec"): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`${where} must be an object such as {"dockerVersion": "28.5.1", "adminSshKeys": ["ssh-ed25519 AAAA…"]}`];
  const o = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o))
    if (!["dockerVersion", "adminSshKeys", "daemonJson"].includes(k))
      problems.push(`${where}.${k} is not a key of the node spec (dockerVersion, adminSshKeys, daemonJson)`);
  if (o.dockerVersion !== undefined && (typeof o.dockerVersion !== "string" || !VERSION.test(o.dockerVersion)))
    problems.push(
      `${where}.dockerVersion must be a Docker release such as "28.5.1", got ${JSON.stringify(o.dockerVersion)}`,
    );
  if (o.adminSshKeys !== undefined) {
    if (!Array.isArray(o.adminSshKeys)) problems.push(`${where}.adminSshKeys must be a list of public keys`);
    else
      o.adminSshKeys.forEach((k: unknown, i) => {
        if (typeof k !== "string" || !PUBLIC_KEY.test(k.trim()) || k.startsWith("#"))
          problems.push(
            `${where}.adminSshKeys[${i}] must be one public key line, "ssh-ed25519 AAAA… comment" (no options, no line breaks)`,
          );
      });
  }
  if (o.daemonJson !== undefined) {
    if (typeof o.daemonJson !== "object" || o.daemonJson === null || Array.isArray(o.daemonJson))
      problems.push(`${where}.daemonJson must be an object of daemon.json keys`);
    else if ((o.daemonJson as Record<string, unknown>)["live-restore"] === true)
      problems.push(`${where}.daemonJson."live-restore" cannot be true: Docker refuses it in swarm mode`);
  }
  return problems;
}

/** JSON with sorted object keys: equal specs hash equally whatever the order they were written in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (typeof v === "object" && v !== null)
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** The hash a node records: the spec's own keys, the kernel modules, and NODE_SPEC_VERSION. */
export function specHash(spec: NodeSpec): string {
  const material = canonicalJson({
    v: NODE_SPEC_VERSION,
    dockerVersion: spec.dockerVersion ?? null,
    adminSshKeys: spec.adminSshKeys?.map((k) => k.trim()) ?? null,
    daemonJson: spec.daemonJson ?? null,
    modules: modulesConf(),
  });
  return crypto.createHash("sha256").update(material).digest("hex");
}

/** The LABEL_SPEC value: version and the first 16 hex digits of the hash. */
export function specLabel(spec: NodeSpec): string {
  return `${NODE_SPEC_VERSION}-${specHash(spec).slice(0, 16)}`;
}

/** The SPEC_FILE text. */
export function specFileText(spec: NodeSpec): string {
  return `version ${NODE_SPEC_VERSION}\nhash ${specHash(spec)}\n`;
}

/**
 * authorized_keys with the managed block holding exactly `keys`. The first time (no block yet),
 * lines equal to a managed key (cloud-init appended them without markers) move into the block, so
 * removing that key later removes it; every other line stays as it is.
 */
export function withAdminBlock(current: string, keys: readonly string[]): string {
  const lines = current.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const begin = lines.indexOf(ADMIN_BLOCK_BEGIN);
  const end = begin < 0 ? -1 : lines.indexOf(ADMIN_BLOCK_END, begin);
  const wanted = keys.map((k) => k.trim());
  const outside =
    begin >= 0 && end > begin
      ? [...lines.slice(0, begin), ...lines.slice(end + 1)]
      : lines.filter((l) => !wanted.includes(l.trim()));
  const block = wanted.length ? [ADMIN_BLOCK_BEGIN, ...wanted, ADMIN_BLOCK_END] : [];
  const out = [...outside, ...block];
  return out.length ? out.join("\n") + "\n" : "";
}

/** daemon.json with `keys` set over what the node has (its other keys, e.g. a bed's cgroup-parent, are kept). */
export function mergedDaemonJson(current: string, keys: Readonly<Record<string, unknown>>): string {
  let base: Record<string, unknown> = {};
  if (current.trim() !== "") {
    const parsed: unknown = JSON.parse(current);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error(`${DAEMON_JSON_PATH} is not a JSON object`);
    base = parsed as Record<string, unknown>;
  }
  return JSON.stringify({ ...base, ...keys }, null, 2) + "\n";
}

/** True when the node's daemon.json already carries every key of `keys` with that value. */
export function daemonJsonHas(current: string, keys: Readonly<Record<string, unknown>>): boolean {
  try {
    const parsed = (current.trim() === "" ? {} : JSON.parse(current)) as Record<string, unknown>;
    return Object.entries(keys).every(([k, v]) => canonicalJson(parsed[k]) === canonicalJson(v));
  } catch {
    return false;
  }
}

/**
 * Whether an installed Debian package version carries Docker release `want`: the upstream part
 * (no epoch, no Debian revision) is `want` itself or `want` followed by a suffix (`+dfsg1`, `~rc`).
 */
export function packageCarries(pkgVersion: string, want: string): boolean {
  const noEpoch = pkgVersion.replace(/^\d+:/, "");
  const upstream = noEpoch.includes("-") ? noEpoch.slice(0, noEpoch.lastIndexOf("-")) : noEpoch;
  return upstream === want || upstream.startsWith(`${want}+`) || upstream.startsWith(`${want}~`);
}
