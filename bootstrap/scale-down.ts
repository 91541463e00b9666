// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Taking one member out of the swarm, in the order Docker documents: demote (keeps the manager
 * count and quorum as planned), drain and wait so its tasks are rescheduled first, leave on the
 * node itself when we can reach it, then `docker node rm` on a manager.
 */
import { ActionSink } from "./actions";
import { SshSession } from "../transport/ssh";
import { drain, leaveSwarm, removeMember, setRole } from "./swarm-ops";
import type { NodeFacts } from "../swarm/nodes";

/** `node` is the session on the departing node itself, when its address and host key are known. */
export async function scaleDown(
  manager: SshSession,
  entry: NodeFacts,
  name: string,
  node: SshSession | undefined,
  act: ActionSink,
): Promise<void> {
  if (entry.role === "manager") {
    await setRole(manager, entry.id, "worker");
    act({ node: name, kind: "demote", detail: "manager → worker (before removal)" });
  }
  if (entry.status === "ready") {
    // Also when already drained (a re-run after an interrupted removal): it waits for stragglers.
    const how = await drain(manager, entry.id, name);
    if (entry.availability !== "drain") act({ node: name, kind: "drain", detail: how });
  }
  let left = false;
  if (node) {
    await leaveSwarm(node);
    left = true;
    act({ node: name, kind: "leave", detail: "docker swarm leave on the node" });
  }
  await removeMember(manager, entry.id, name);
  act({
    node: name,
    kind: "remove",
    detail: `docker node rm ${entry.id}${left ? "" : " (the node itself was not reached: run `docker swarm leave --force` there before reusing it)"}`,
  });
}
