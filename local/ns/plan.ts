/**
 * Pure planning for the local test bed: which names, addresses and roles a bed uses. No I/O here, so
 * the naming rules that keep concurrent beds apart are unit-tested without root.
 *
 * Address plan: the whole test bed lives in 10.213.0.0/16 and each bed owns one /24, 10.213.K.0/24.
 * The lower half (10.213.K.0/25) is the node network: gateway .1 on bridge `hsw<K>`, nodes from .11.
 * The upper half (10.213.K.128/25) is reserved for an "outsider" namespace on its own link, which
 * tests use to prove that nodes cannot reach anything outside the bed.
 */
import { NodeRole } from "../../inventory/inventory";
import { NodeCounts, planRoles } from "../common/node-roles";

/** The private range of every local test bed; documented in docs/guides/local-test-beds.md. */
export const BED_RANGE = "10.213.0.0/16";
const RANGE_PREFIX = "10.213";
/** Bed numbers K; 0 and 255 are skipped so no bed's /24 looks like a network or broadcast block. */
export const MIN_BED = 1;
export const MAX_BED = 254;
/** First host octet of a node (.2–.10 stay free for bed infrastructure). */
const FIRST_NODE_OCTET = 11;
/** Last node octet inside the /25 node network. */
const LAST_NODE_OCTET = 126;
export const MAX_NODES = LAST_NODE_OCTET - FIRST_NODE_OCTET + 1;
/** Swarm address pool written to the inventory: outside BED_RANGE, so overlays never shadow node addresses. */
export const LOCAL_ADDR_POOL = "10.214.0.0/16";

export interface PlannedNode {
  readonly name: string;
  readonly role: NodeRole;
  /** Last octet of the node's address; stable for the node's life. */
  readonly octet: number;
}

/** Every name and address one bed uses on the host. All carry the `hsw<K>` prefix so cleanup finds them. */
export interface BedNames {
  readonly k: number;
  /** Node bridge and the bed id used in messages. */
  readonly bridge: string;
  readonly outsiderNetns: string;
  readonly outsiderVeth: string;
  readonly chainIn: string;
  readonly chainFwd: string;
  /** Cgroup directory under every hierarchy root. */
  readonly cgroup: string;
  /** Comment on every iptables rule of this bed. */
  readonly tag: string;
  readonly subnet: string;
  readonly prefixLength: number;
  readonly gateway: string;
  /** Resolver written to the nodes' resolv.conf: the gateway, whose port 53 the bed rejects, so lookups fail at once. */
  readonly deadResolver: string;
  readonly outsiderSubnet: string;
  readonly outsiderGateway: string;
  readonly outsiderAddress: string;
}

export function bedNames(k: number, dirId: string): BedNames {
  if (!Number.isInteger(k) || k < MIN_BED || k > MAX_BED)
    throw new Error(`bed number must be ${MIN_BED}–${MAX_BED}, got ${k}`);
  const net = `${RANGE_PREFIX}.${k}`;
  return {
    k,
    bridge: `hsw${k}`,
    outsiderNetns: `hsw${k}-outsider`,
    outsiderVeth: `hsw${k}o`,
    chainIn: `hsw${k}-in`,
    chainFwd: `hsw${k}-fwd`,
    cgroup: `hsw${k}`,
    tag: `hcloud-swarm-bed hsw${k} ${dirId}`,
    subnet: `${net}.0/25`,
    prefixLength: 25,
    gateway: `${net}.1`,
    deadResolver: `${net}.1`,
    outsiderSubnet: `${net}.128/25`,
    outsiderGateway: `${net}.129`,
    outsiderAddress: `${net}.130`,
  };
}

export function nodeAddress(k: number, octet: number): string {
  return `${RANGE_PREFIX}.${k}.${octet}`;
}

export function netnsOf(k: number, node: string): string {
  return `hsw${k}-${node}`;
}

/** Host end of the node's veth; interface names are limited to 15 characters, hence the octet. */
export function vethOf(k: number, octet: number): string {
  return `hsw${k}n${octet}`;
}

/** True for links this bed created: the bridges and the host ends of its veths, never another bed's. */
export function isBedLink(name: string, k: number): boolean {
  return new RegExp(`^hsw${k}(n\\d+|o)?$`).test(name);
}

export function isBedNetns(name: string, k: number): boolean {
  return name.startsWith(`hsw${k}-`);
}

/** Names, roles and addresses for a new bed: the first `managers` nodes are managers, the rest workers. */
export function planNodes(counts: NodeCounts): PlannedNode[] {
  return planRoles(counts, MAX_NODES).map((n, i) => ({ ...n, octet: FIRST_NODE_OCTET + i }));
}

/** The next node to add to a running bed: the next free name of that role and the lowest free address. */
export function planExtraNode(existing: readonly PlannedNode[], role: NodeRole): PlannedNode {
  const used = new Set(existing.map((n) => n.octet));
  let octet = FIRST_NODE_OCTET;
  while (used.has(octet)) octet++;
  if (octet > LAST_NODE_OCTET)
    throw new Error(`the bed already has ${existing.length} nodes, the most its /25 node network holds`);
  const names = new Set(existing.map((n) => n.name));
  let i = 1;
  while (names.has(`${role}-${i}`)) i++;
  return { name: `${role}-${i}`, role, octet };
}
