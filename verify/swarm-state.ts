/**
 * verify's view of each node's own swarm state: a manager that is locked (autolock on, its dockerd
 * restarted, nobody unlocked it) takes no part in the swarm and is named with the fix. Pure: the
 * state is what `docker info` prints on the node, collected by ./collect.ts.
 */
import type { NodeRole } from "../inventory/inventory";
import { lockedProblem } from "../swarm/autolock-plan";
import type { Check } from "./checks";

export interface SwarmStateEvidence {
  readonly node: string;
  readonly role: NodeRole;
  /** `docker info --format '{{.Swarm.LocalNodeState}}'` on the node; undefined when it could not be read. */
  readonly state?: string;
}

/** One failed check per locked node; nothing for the others (their membership is judged elsewhere). */
export function checkSwarmStates(nodes: readonly SwarmStateEvidence[]): Check[] {
  return nodes
    .filter((n) => n.state === "locked")
    .map((n) => ({
      status: "fail" as const,
      subject: `node ${n.node}`,
      what: "swarm unlocked",
      detail: lockedProblem(n.node, undefined),
    }));
}
