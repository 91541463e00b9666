// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Every node of the swarm as `docker node inspect` reports it, as bootstrap (membership) and stack
 * deploy (placement) both read it: one parser, one set of field names, one place for the race
 * between listing and inspecting. Field names follow docker's CLI: a node's `status` is the
 * STATUS column of `docker node ls` (a task's `state` is the CURRENT STATE of `docker service ps`).
 */
import type { SshSession } from "../transport/ssh";
import { onLeader } from "./leader";

/** Re-lists when a node vanished between `node ls` and `node inspect`; each removal is one more try. */
export const NODE_LIST_RETRIES = 5;

/** The JSON array of `docker node inspect` for every node, read through the leader. */
export async function inspectAllNodes(s: SshSession): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      // `node ls` and `node inspect` in one shell: both need the leader, so the retry covers the pair.
      return (await onLeader(s, "ids=$(docker node ls -q) && docker node inspect $ids")).stdout;
    } catch (err) {
      // A node removed between the two (another membership's scale-down; pulumi destroy removes
      // workers in parallel) is not an error: list again.
      if (attempt >= NODE_LIST_RETRIES || !/No such node/i.test((err as Error).message)) throw err;
    }
  }
}

/** One node as a manager sees it: what the scheduler matches constraints against, and its membership. */
export interface NodeFacts {
  readonly id: string;
  readonly hostname: string;
  /** The node's address as the cluster sees it (no port). */
  readonly addr: string;
  readonly role: "manager" | "worker";
  /** "active", "pause" or "drain": only active nodes take new tasks. */
  readonly availability: "active" | "pause" | "drain";
  /** "ready", "down", "unknown" or "disconnected" ("" when docker reports none). */
  readonly status: string;
  /** "reachable" | "unreachable" | "unknown" for managers; undefined for workers. */
  readonly reachability?: string;
  readonly leader: boolean;
  readonly os: string;
  readonly arch: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineLabels: Readonly<Record<string, string>>;
  /** Description.Engine.EngineVersion, e.g. "29.1.2"; "" when the node does not say. */
  readonly engineVersion?: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const strings = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k, str(x)]));

/** Parses `docker node inspect ID…` (a JSON array). */
export function parseNodeInspect(text: string): NodeFacts[] {
  const raw: unknown = JSON.parse(text.trim() === "" ? "[]" : text);
  if (!Array.isArray(raw)) throw new Error("`docker node inspect` did not return a list");
  return raw.map((n) => {
    const o = obj(n);
    const spec = obj(o.Spec);
    const status = obj(o.Status);
    const description = obj(o.Description);
    const platform = obj(description.Platform);
    const mgr = o.ManagerStatus === undefined || o.ManagerStatus === null ? undefined : obj(o.ManagerStatus);
    // Managers on some versions report Status.Addr as 0.0.0.0; their ManagerStatus.Addr is right.
    let addr = str(status.Addr);
    if ((addr === "" || addr === "0.0.0.0") && mgr) addr = str(mgr.Addr).replace(/:\d+$/, "");
    return {
      id: str(o.ID),
      hostname: str(description.Hostname),
      addr,
      role: spec.Role === "manager" ? "manager" : "worker",
      availability: (["active", "pause", "drain"].includes(str(spec.Availability))
        ? spec.Availability
        : "active") as NodeFacts["availability"],
      status: str(status.State),
      ...(mgr ? { reachability: str(mgr.Reachability) } : {}),
      leader: mgr?.Leader === true,
      os: str(platform.OS),
      arch: str(platform.Architecture),
      labels: strings(spec.Labels),
      engineLabels: strings(obj(description.Engine).Labels),
      engineVersion: str(obj(description.Engine).EngineVersion),
    };
  });
}

/** Every node of the swarm, read through the leader. */
export async function readNodes(s: SshSession): Promise<NodeFacts[]> {
  return parseNodeInspect(await inspectAllNodes(s));
}
