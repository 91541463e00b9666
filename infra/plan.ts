/**
 * Config → node plan. Pure: no Pulumi, no I/O.
 *
 * Everything about a node (name, type, location, placement group, labels, private address) is a
 * function of its role and its own index only, never of the node count or of other nodes. So raising
 * or lowering `workers` adds or removes the last nodes and leaves every other server's inputs alone,
 * which matters because Hetzner replaces a server whose userData or sshKeys change.
 */
import type { NodeRole } from "../inventory/inventory";
import { cidr, firstSubnet, hostAddress } from "../common/cidr";
import type { ClusterConfig } from "./config";
import { configuredLabels } from "./node-labels";
import { type Placement, placeNodes } from "./locations";

/** Hetzner allows at most 10 servers in one spread placement group. */
export const MAX_SERVERS_PER_SPREAD_GROUP = 10;
/** Underlay MTU: Hetzner private interfaces have 1450, public ones 1500. */
export const PRIVATE_MTU = 1450;
export const PUBLIC_MTU = 1500;
/** Private addresses: manager-i gets .(10+i) and worker-j .(20+j) of the nodes' /24 (.1 is Hetzner's gateway). */
const MANAGER_IP_OFFSET = 10;
const WORKER_IP_OFFSET = 20;
const NODE_SUBNET_PREFIX = 24;
/** Swarm carves the address pool into /24 networks (--default-addr-pool-mask-length 24). */
export const POOL_MASK_LENGTH = 24;
/** Marks every Hetzner resource this program owns, so label selectors never catch foreign servers. */
export const MANAGED_BY = "hcloud-swarm";

export interface NodePlan {
  /** Stable node name, "manager-1", "worker-3": the inventory name and the Pulumi resource suffix. */
  readonly name: string;
  readonly role: NodeRole;
  /** 1-based index within the role. */
  readonly index: number;
  /** Hetzner server name (unique per project, a hostname): "<cluster>-worker-3". */
  readonly serverName: string;
  readonly serverType: string;
  readonly location: string;
  /** Key of the placement group in ClusterPlan.placementGroups. */
  readonly placementGroup: string;
  /** Hetzner labels: cluster, role, managed-by. */
  readonly serverLabels: Readonly<Record<string, string>>;
  /** Swarm node labels for bootstrap (`docker node update --label-add`). */
  readonly swarmLabels: Readonly<Record<string, string>>;
  /** Fixed address on the private network (private mode only). */
  readonly privateIp?: string;
}

export interface PlacementGroupPlan {
  /** "worker-nbg1-2": role, location and chunk of at most 10 servers. */
  readonly key: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface NetworkPlan {
  readonly cidr: string;
  readonly subnetCidr: string;
  readonly zone: string;
}

export interface ClusterPlan {
  readonly cluster: string;
  readonly nodes: readonly NodePlan[];
  readonly placementGroups: readonly PlacementGroupPlan[];
  /** Absent in public-only mode. */
  readonly network?: NetworkPlan;
  readonly swarm: {
    readonly defaultAddrPool: string;
    readonly defaultAddrPoolMaskLength: number;
    readonly overlayMtu: number;
  };
  /** Present only when the user opened the private interface to non-members (hcloud-swarm:privateAllowedCidrs). */
  readonly firewall?: { readonly privateAllowedCidrs: readonly string[] };
  /** Swarm autolock (hcloud-swarm:autolock); applied in place, so kept apart from the init-only swarm settings. */
  readonly autolock: boolean;
  /** Hetzner label selectors for the cluster's servers. */
  readonly selectors: { readonly all: string; readonly managers: string };
}

function baseLabels(config: ClusterConfig): Record<string, string> {
  return { cluster: config.clusterName, "managed-by": MANAGED_BY };
}

/** Round robin: where node `index` of a role goes in a cluster with no history. */
function roundRobin(config: ClusterConfig, index: number): Placement {
  const n = config.locations.length;
  return { location: config.locations[(index - 1) % n], ordinal: Math.floor((index - 1) / n) };
}

function placementGroupFor(
  config: ClusterConfig,
  role: NodeRole,
  { location, ordinal }: Placement,
): PlacementGroupPlan {
  // The node's ordinal among same-role nodes in its location decides its chunk of ten.
  const chunk = Math.floor(ordinal / MAX_SERVERS_PER_SPREAD_GROUP) + 1;
  const key = `${role}-${location}-${chunk}`;
  return { key, name: `${config.clusterName}-${key}`, labels: { ...baseLabels(config), role } };
}

/**
 * The plan of one node: a function of the config (not the counts), its own role and index, and
 * where it lives (default: round robin, as for a new cluster; see locations.ts).
 */
export function planNode(
  config: ClusterConfig,
  role: NodeRole,
  index: number,
  placement: Placement = roundRobin(config, index),
): NodePlan {
  const name = `${role}-${index}`;
  const location = placement.location;
  const subnet = firstSubnet(cidr(config.networkCidr), NODE_SUBNET_PREFIX);
  return {
    name,
    role,
    index,
    serverName: `${config.clusterName}-${name}`,
    serverType: role === "manager" ? config.managerServerType : config.workerServerType,
    location,
    placementGroup: placementGroupFor(config, role, placement).key,
    serverLabels: { ...baseLabels(config), role },
    // Managers carry the edge proxy (80/443 are open on them only). Configured labels come from
    // this node's role and name only, like everything else here.
    swarmLabels: {
      ...configuredLabels(config.nodeLabels, role, name),
      location,
      ...(role === "manager" ? { edge: "true" } : {}),
    },
    ...(config.privateNetwork
      ? { privateIp: hostAddress(subnet, (role === "manager" ? MANAGER_IP_OFFSET : WORKER_IP_OFFSET) + index) }
      : {}),
  };
}

/** `existing`: node name → the location it is in now (from the cloud); those nodes stay there. */
export function planCluster(config: ClusterConfig, existing: ReadonlyMap<string, string> = new Map()): ClusterPlan {
  const placed = placeNodes(config, existing);
  const node = (role: NodeRole, index: number) =>
    planNode(config, role, index, placed.get(`${role}-${index}`) ?? roundRobin(config, index));
  const nodes = [
    ...Array.from({ length: config.managers }, (_, i) => node("manager", i + 1)),
    ...Array.from({ length: config.workers }, (_, i) => node("worker", i + 1)),
  ];
  const groups = new Map<string, PlacementGroupPlan>();
  for (const n of nodes) {
    const g = placementGroupFor(config, n.role, placed.get(n.name) ?? roundRobin(config, n.index));
    groups.set(g.key, g);
  }
  const all = `${Object.entries(baseLabels(config))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}`;
  return {
    cluster: config.clusterName,
    nodes,
    placementGroups: [...groups.values()],
    ...(config.privateNetwork
      ? {
          network: {
            cidr: config.networkCidr,
            subnetCidr: firstSubnet(cidr(config.networkCidr), NODE_SUBNET_PREFIX).text,
            zone: config.networkZone,
          },
        }
      : {}),
    swarm: {
      defaultAddrPool: config.swarmAddressPool,
      defaultAddrPoolMaskLength: POOL_MASK_LENGTH,
      overlayMtu: config.privateNetwork ? PRIVATE_MTU : PUBLIC_MTU,
    },
    ...(config.privateAllowedCidrs.length > 0 ? { firewall: { privateAllowedCidrs: config.privateAllowedCidrs } } : {}),
    autolock: config.autolock,
    selectors: { all, managers: `${all},role=manager` },
  };
}
