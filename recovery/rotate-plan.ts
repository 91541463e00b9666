/**
 * Pure judgement of a CA rotation's progress from what the swarm reports: the cluster's trust root
 * (`docker info`) and each node's (`docker node inspect`). Docker finishes a root rotation only once
 * every node holds a certificate of the new root; only then does the cluster's trust root change,
 * and each node reports the new root at its next heartbeat.
 */

export interface NodeRoot {
  readonly name: string;
  /** The node's trust root as it reports it (PEM). */
  readonly root: string;
  /** The node's status as the managers see it ("ready", "down", …). */
  readonly status: string;
}

export interface CaProgress {
  /** The cluster's trust root changed and every node reports it. */
  readonly done: boolean;
  /** Nodes that do not report the cluster's root yet (all of them while the rotation runs). */
  readonly behind: readonly string[];
  /** Of those, the nodes the managers see as down: they will not renew until they are back. */
  readonly down: readonly string[];
}

export function caProgress(before: string, root: string, nodes: readonly NodeRoot[]): CaProgress {
  const changed = root.trim() !== "" && root.trim() !== before.trim();
  const behind = nodes.filter((n) => !changed || n.root.trim() !== root.trim());
  return {
    done: changed && behind.length === 0,
    behind: behind.map((n) => n.name),
    down: behind.filter((n) => n.status === "down").map((n) => n.name),
  };
}
