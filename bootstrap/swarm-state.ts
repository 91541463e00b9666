/**
 * What docker reports about swarm membership, parsed into plain data. Two sources:
 * - `docker info --format '{{json .Swarm}}'` on a node: that engine's own view (is it in a swarm,
 *   which node ID, is it a manager), the way Ansible's docker_swarm inspects before acting;
 * - `docker node inspect` on a manager: the cluster's view of every member (role, status, labels).
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
}

/** One member as a manager sees it. */
export interface SwarmMember {
  readonly id: string;
  readonly hostname: string;
  readonly role: "manager" | "worker";
  readonly availability: "active" | "pause" | "drain";
  /** "ready", "down", "unknown" or "disconnected". */
  readonly status: string;
  /** The node's address as the cluster sees it (no port). */
  readonly addr: string;
  /** "reachable" | "unreachable" | "unknown" for managers; undefined for workers. */
  readonly reachability?: string;
  readonly leader: boolean;
  readonly labels: Readonly<Record<string, string>>;
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
  return {
    state: state as LocalNodeState,
    nodeId: str(raw.NodeID),
    controlAvailable: raw.ControlAvailable === true,
    ...(str(cluster.ID) ? { clusterId: str(cluster.ID) } : {}),
    remoteManagers: remotes.map((m) => str(obj(m).Addr)).filter((a) => a !== ""),
    error: str(raw.Error),
  };
}

/** Parses `docker node inspect ID…` (a JSON array) into members. */
export function parseNodeInspect(text: string): SwarmMember[] {
  const raw: unknown = JSON.parse(text.trim() === "" ? "[]" : text);
  if (!Array.isArray(raw)) throw new Error("`docker node inspect` did not return a list");
  return raw.map((n) => {
    const o = obj(n);
    const spec = obj(o.Spec);
    const status = obj(o.Status);
    const mgr = o.ManagerStatus === undefined || o.ManagerStatus === null ? undefined : obj(o.ManagerStatus);
    const labels = obj(spec.Labels);
    // Managers on some versions report Status.Addr as 0.0.0.0; their ManagerStatus.Addr is right.
    let addr = str(status.Addr);
    if ((addr === "" || addr === "0.0.0.0") && mgr) addr = str(mgr.Addr).replace(/:\d+$/, "");
    return {
      id: str(o.ID),
      hostname: str(obj(o.Description).Hostname),
      role: spec.Role === "manager" ? "manager" : "worker",
      availability: (["active", "pause", "drain"].includes(str(spec.Availability)) ? spec.Availability : "active") as SwarmMember["availability"],
      status: str(status.State),
      addr,
      ...(mgr ? { reachability: str(mgr.Reachability) } : {}),
      leader: mgr?.Leader === true,
      labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, str(v)])),
    };
  });
}
