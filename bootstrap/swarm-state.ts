// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * What one engine reports about its own swarm membership, `docker info --format '{{json .Swarm}}'`
 * (is it in a swarm, which node ID, is it a manager), the way Ansible's docker_swarm inspects
 * before acting. The cluster's view of every member, `docker node inspect` on a manager, is read
 * by swarm/nodes.ts (NodeFacts), shared with stack deploy.
 */

export type LocalNodeState = "inactive" | "pending" | "active" | "error" | "locked";

/** One engine's own swarm state. */
export interface SwarmInfo {
  readonly state: LocalNodeState;
  /** Empty when inactive. */
  readonly nodeId: string;
  /** True on a manager that can serve the control API. */
  readonly controlAvailable: boolean;
  /** Only set on managers: workers do not see the cluster object. */
  readonly clusterId?: string;
  /** Managers this engine knows, as "ip:port". */
  readonly remoteManagers: readonly string[];
  /** docker's error text for state "error". */
  readonly error: string;
  /** Whether the swarm locks its managers' keys at rest (autolock); only set on managers that read the cluster. */
  readonly autolock?: boolean;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Parses the output of `docker info --format '{{json .Swarm}}'`. */
export function parseSwarmInfo(text: string, node: string): SwarmInfo {
  let raw: Json;
  try {
    raw = obj(JSON.parse(text));
  } catch {
    throw new Error(`unexpected \`docker info\` output on ${node}: ${text.slice(0, 200)}`);
  }
  const state = str(raw.LocalNodeState);
  if (!["inactive", "pending", "active", "error", "locked"].includes(state)) {
    throw new Error(`unexpected swarm state ${JSON.stringify(state)} reported by docker on ${node}`);
  }
  const cluster = obj(raw.Cluster);
  const remotes = Array.isArray(raw.RemoteManagers) ? raw.RemoteManagers : [];
  const encryption = obj(obj(cluster.Spec).EncryptionConfig);
  return {
    state: state as LocalNodeState,
    nodeId: str(raw.NodeID),
    controlAvailable: raw.ControlAvailable === true,
    ...(str(cluster.ID) ? { clusterId: str(cluster.ID) } : {}),
    remoteManagers: remotes.map((m) => str(obj(m).Addr)).filter((a) => a !== ""),
    error: str(raw.Error),
    ...(str(cluster.ID) ? { autolock: encryption.AutoLockManagers === true } : {}),
  };
}
