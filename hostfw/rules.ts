// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The host firewall of every node, as data. Pure: infra (cloud-init installs the baseline at first
 * boot) and bootstrap (keeps the allow-list in step as nodes join and leave) both build on this one
 * module, so the rules the two install can never drift apart.
 *
 * The rule set, in the node's own chain `HCLOUD-SWARM` (jumped to from INPUT), for IPv4 and IPv6:
 *   - loopback returns (the node talking to itself);
 *   - every cluster address on the allow-list returns (RETURN, not ACCEPT: Docker's own INPUT rules,
 *     such as the `--pol none` VXLAN drop that keeps encrypted overlays encrypted, still apply);
 *   - everything else to a swarm port (2377/tcp, 7946/tcp+udp, 4789/udp) or of protocol ESP is dropped.
 * An empty allow-list is the baseline: closed to all. Hetzner's cloud firewall does not filter private
 * networks, so this chain is what keeps other servers on the private network out.
 *
 * With the node's private interface known (bootstrap passes the node's private address), new
 * connections that arrive on it from anyone but a member, or a range the user opened
 * (`firewall.privateAllowedCidrs`), are dropped: sshd, host-network services and everything else.
 *
 * And a second own chain, `HCLOUD-SWARM-FWD`, jumped to from Docker's `DOCKER-USER` at position 1,
 * for forwarded (container and published-port) traffic:
 *   - containers may not reach the metadata service, which serves the node's user data (with its
 *     SSH host private key) for the server's whole life; this rule is installed first;
 *   - containers may not reach any node's swarm ports or send ESP: a container on member A is
 *     masqueraded to A's address and would pass member B's allow-list (raw VXLAN injection included).
 *     The nodes' own swarm traffic is sent and received by the host, never forwarded;
 *   - published ports (DNAT) admit members only on the private interface, like INPUT above.
 * `FORWARD`'s policy is DROP; Docker's own chains accept what its networks need.
 */
import { createHash } from "crypto";
import * as net from "net";

export const SWARM_PORTS: ReadonlyArray<{
  readonly protocol: "tcp" | "udp" | "esp";
  readonly port?: string;
  readonly what: string;
  readonly managersOnly?: true;
}> = [
  { protocol: "tcp", port: "2377", what: "swarm management (Raft)", managersOnly: true },
  { protocol: "tcp", port: "7946", what: "swarm gossip" },
  { protocol: "udp", port: "7946", what: "swarm gossip" },
  { protocol: "udp", port: "4789", what: "overlay VXLAN data path" },
  { protocol: "esp", what: "IPsec ESP of encrypted overlays" },
];

/** The node's own chain; nothing else writes to it, so it is replaced whole on every change. */
export const HOST_CHAIN = "HCLOUD-SWARM";
/** The node's own chain for forwarded traffic, jumped to from DOCKER-USER at position 1. */
export const FORWARD_CHAIN = "HCLOUD-SWARM-FWD";
/** Docker jumps to this chain first for every forwarded (container) packet and keeps it across restarts. */
export const DOCKER_USER_CHAIN = "DOCKER-USER";
/** Hetzner's metadata service; it serves the user data for the server's whole life. */
export const METADATA_ADDRESS = "169.254.169.254";
/** The node label recording which allow-list a member enforces (a hash), so in-step members are not contacted. */
export const LABEL_FIREWALL = "hcloud-swarm.firewall";

export type Family = 4 | 6;

/**
 * The canonical form of an allow-list address, or undefined when it is none: leading zeros (iptables
 * reads `010.0.0.1` as octal, 8.0.0.1), zone ids, prefixes, IPv4-mapped IPv6, whitespace and the
 * unspecified addresses are all refused rather than guessed at.
 */
export function canonicalAddress(text: string): string | undefined {
  if (typeof text !== "string" || text !== text.trim()) return undefined;
  const family = net.isIP(text);
  if (family === 4) return text === "0.0.0.0" ? undefined : text;
  if (family !== 6 || text.includes("%")) return undefined;
  const canonical = new URL(`http://[${text}]`).hostname.slice(1, -1);
  if (canonical === "::" || canonical.startsWith("::ffff:")) return undefined;
  return canonical;
}

export function familyOf(address: string): Family {
  return address.includes(":") ? 6 : 4;
}

export interface AllowList {
  /** Canonical addresses, sorted, without duplicates. */
  readonly addresses: readonly string[];
  /** Inputs that are no address, with the reason; they are left out, never widened. */
  readonly rejected: readonly string[];
}

/** Canonicalises, de-duplicates and sorts; anything that is not a single host address is rejected. */
export function allowList(addresses: Iterable<string>): AllowList {
  const out = new Set<string>();
  const rejected: string[] = [];
  for (const a of addresses) {
    const c = canonicalAddress(a);
    if (c === undefined) rejected.push(`${JSON.stringify(a)} is not a single IPv4 or IPv6 host address`);
    else out.add(c);
  }
  return { addresses: [...out].sort(), rejected };
}

/** Short, stable fingerprint of an allow-list: the value of the LABEL_FIREWALL node label. */
export function allowListHash(addresses: Iterable<string>): string {
  const list = allowList(addresses).addresses;
  return `${list.length}-${createHash("sha256").update(list.join("\n")).digest("hex").slice(0, 12)}`;
}

/** The DROP rules of the baseline (no allow-list): every swarm port and ESP, for one address family. */
export function baselineRules(): string[] {
  return SWARM_PORTS.map((p) =>
    p.port
      ? `-A ${HOST_CHAIN} -p ${p.protocol} -m ${p.protocol} --dport ${p.port} -j DROP`
      : `-A ${HOST_CHAIN} -p ${p.protocol} -j DROP`,
  );
}

/** The rule that lets one allow-listed address through to the rest of INPUT (or of FORWARD, for FORWARD_CHAIN). */
export function peerRule(address: string, chain: string = HOST_CHAIN): string {
  return `-A ${chain} -s ${address}/${familyOf(address) === 4 ? 32 : 128} -j RETURN`;
}

/** Forwarded packets to any swarm port or of protocol ESP come from containers: dropped, whoever the destination. */
export function containerSwarmRules(): string[] {
  return SWARM_PORTS.map((p) =>
    p.port
      ? `-A ${FORWARD_CHAIN} -p ${p.protocol} -m ${p.protocol} --dport ${p.port} -j DROP`
      : `-A ${FORWARD_CHAIN} -p ${p.protocol} -j DROP`,
  );
}

/** The node's private interface and the ranges the user opened on it; no interface: no members-only rule. */
export interface PrivateSide {
  readonly iface?: string;
  readonly open: readonly string[];
}

/** Written in iptables-save's own order (-s before -i), so `iptables -S` prints them back verbatim. */
export function privateRules(chain: string, family: Family, side: PrivateSide): string[] {
  if (!side.iface) return [];
  const open = side.open
    .filter((c) => familyOf(c) === family)
    .map((c) => `-A ${chain} -s ${c} -i ${side.iface} -j RETURN`);
  return [...open, `-A ${chain} -i ${side.iface} -m conntrack --ctstate NEW -j DROP`];
}

/**
 * The whole rule set of one family as the node must hold it, both chains, in order: what
 * `iptables -S CHAIN` prints back (verify compares against it).
 */
export function chainRules(
  family: Family,
  addresses: readonly string[],
  side: PrivateSide = { open: [] },
): { input: string[]; forward: string[] } {
  const peers = allowList(addresses).addresses.filter((a) => familyOf(a) === family);
  return {
    input: [
      LOOPBACK_RULE,
      ...peers.map((a) => peerRule(a)),
      ...baselineRules(),
      ...privateRules(HOST_CHAIN, family, side),
    ],
    forward: [
      ...(family === 4 ? [`-A ${FORWARD_CHAIN} ${METADATA_RULE}`] : []),
      ...containerSwarmRules(),
      ...(side.iface ? peers.map((a) => peerRule(a, FORWARD_CHAIN)) : []),
      ...privateRules(FORWARD_CHAIN, family, side),
    ],
  };
}

export const LOOPBACK_RULE = `-A ${HOST_CHAIN} -i lo -j RETURN`;

/**
 * The `iptables-restore --noflush` input (or ip6tables-restore for family 6) that replaces the
 * chain in one transaction: declaring the chain flushes it, so there is no moment without rules.
 */
export function restoreInput(family: Family, addresses: readonly string[], side: PrivateSide = { open: [] }): string {
  const r = chainRules(family, addresses, side);
  return [
    "*filter",
    `:${HOST_CHAIN} - [0:0]`,
    `:${FORWARD_CHAIN} - [0:0]`,
    ...r.input,
    ...r.forward,
    "COMMIT",
    "",
  ].join("\n");
}

/** The metadata rule's match and target (IPv4: the service has no IPv6 address). */
export const METADATA_RULE = `-d ${METADATA_ADDRESS}/32 -j DROP`;
