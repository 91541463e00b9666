/**
 * Which manager a backup stops, and what that costs: pure, from what the swarm reports.
 * Docker's procedure (engine/swarm/admin_guide.md): stop Docker on a manager that is not the
 * leader, and only with 3 or more managers, so that quorum holds while it is down.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { NodeFacts } from "../swarm/nodes";
import { matchMembers } from "../bootstrap/plan";

export type BackupSource =
  | {
      readonly kind: "source";
      readonly node: InventoryNode;
      readonly member: NodeFacts;
      /** Managers in the swarm. */
      readonly managers: number;
      /** Set when stopping this node pauses the swarm's control plane (fewer than 3 managers): what the user is told. */
      readonly pause?: string;
    }
  | { readonly kind: "fail"; readonly problem: string };

/** Picks the manager to stop: a ready, reachable non-leader when there are 3 or more; else the best there is, with the pause spelled out. */
export function chooseBackupSource(inv: Inventory, members: readonly NodeFacts[]): BackupSource {
  const matched = matchMembers(inv, members);
  const managers = members.filter((m) => m.role === "manager");
  const candidates = inv.nodes
    .filter((n) => n.role === "manager")
    .map((n) => ({ node: n, member: matched.get(n.name) }))
    .filter(
      (c): c is { node: InventoryNode; member: NodeFacts } =>
        c.member !== undefined &&
        c.member.role === "manager" &&
        c.member.status === "ready" &&
        c.member.reachability === "reachable",
    );
  if (candidates.length === 0) {
    return {
      kind: "fail",
      problem: `no manager of the inventory is a ready, reachable manager of the swarm (managers: ${managers.map((m) => `${m.hostname} ${m.status}/${m.reachability ?? "?"}`).join(", ") || "none"}); run \`hcloud-swarm bootstrap\` or \`recover\` first`,
    };
  }
  const followers = candidates.filter((c) => !c.member.leader);
  if (managers.length >= 3) {
    const down = managers.filter((m) => m.reachability !== "reachable").length;
    // Stopping one more must leave a majority: with 3 managers and one already down, it would not.
    if (managers.length - down - 1 < Math.floor(managers.length / 2) + 1) {
      return {
        kind: "fail",
        problem: `${down} of ${managers.length} managers are unreachable; stopping one more for the backup would lose quorum; bring them back first (or run \`recover\`)`,
      };
    }
    if (followers.length === 0)
      return {
        kind: "fail",
        problem: `no reachable non-leader manager of the inventory to stop for the backup (Docker's procedure keeps the leader running); managers: ${managers.map((m) => m.hostname).join(", ")}`,
      };
    return { kind: "source", node: followers[0].node, member: followers[0].member, managers: managers.length };
  }
  const pick = followers[0] ?? candidates[0];
  const pause =
    `the swarm has ${managers.length} manager${managers.length === 1 ? "" : "s"}: while dockerd on ${pick.node.name} is stopped for the copy, the swarm has no quorum, ` +
    `so its control plane pauses (no scheduling, no \`docker service\` or \`docker node\` commands) and the containers on ${pick.node.name} stop; ` +
    `the pause lasts one dockerd stop, the copy and one start (its length is printed when it ends); with 3 managers a backup pauses nothing`;
  return { kind: "source", node: pick.node, member: pick.member, managers: managers.length, pause };
}
