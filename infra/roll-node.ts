// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The seam between the Pulumi side of a day-2 change (infra/node-roll.ts: which node, which action,
 * in which order) and the rolling engine that maintains one node (drain, act, Ready, reactivate).
 *
 * `RollNode` is the interface the Pulumi side calls. The rolling engine of issue 18 (branch s18roll:
 * quorum guard, encryption enforcement checked back, stacks announced) is to implement it;
 * until it lands, `minimalRollNode` below is a MINIMAL ADAPTER: drain and wait for the node's tasks
 * to stop, act, wait for SSH, cloud-init and dockerd, wait until the managers see the node Ready,
 * reactivate. It does not check the node's encryption enforcement (xfrm policies, iptables marks)
 * nor the Raft majority; the Pulumi side keeps nodes strictly one at a time, managers first.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { drain, waitForMembersReady } from "../bootstrap/swarm-ops";
import { unlockWhenUp } from "../swarm/autolock";
import { type SshSession, waitForNodeReady, waitForSsh } from "../transport/ssh";
import { shellQuote } from "../transport/shell";

export interface RollRequest {
  /** The node to maintain. */
  readonly node: InventoryNode;
  /** The whole cluster: another manager runs the swarm commands while `node` is down. */
  readonly inventory: Inventory;
  /** The deploy key (root on every node). */
  readonly privateKey: string;
  /** What is done to the node, for the progress lines ("resize cx23 → cx33"). */
  readonly action: string;
  /** The swarm's unlock keys, newest first (autolock): a manager comes back locked. Default none. */
  readonly unlockKeys?: readonly string[];
  /** The action itself, run while the node is drained. */
  readonly act: () => Promise<void>;
  readonly log: (line: string) => void;
}

/** Maintains one node: drain, `act`, back to Ready, reactivate. Rejects, naming the node, if it does not come back. */
export type RollNode = (req: RollRequest) => Promise<void>;

async function session(node: InventoryNode, key: string, log: (l: string) => void): Promise<SshSession> {
  return waitForSsh(node, key, { log });
}

export const minimalRollNode: RollNode = async (req) => {
  const { node, inventory, privateKey, log } = req;
  const other = inventory.nodes.find((n) => n.role === "manager" && n.name !== node.name);
  const self = await session(node, privateKey, log);
  let id: string;
  try {
    id = (await self.run("docker info --format '{{.Swarm.NodeID}}'")).stdout.trim();
  } finally {
    self.close();
  }
  if (!id) throw new Error(`${node.name} is not a swarm member; run bootstrap first, then apply the change again`);
  // With one manager the node drains itself; the swarm is then without a manager while it is down.
  const viaOther = other ? await session(other, privateKey, log) : undefined;
  try {
    const before = viaOther ?? (await session(node, privateKey, log));
    try {
      log(`[${node.name}] drain: ${await drain(before, id, node.name)}`);
    } finally {
      if (!viaOther) before.close();
    }
    log(`[${node.name}] ${req.action}`);
    await req.act();
    const back = await session(node, privateKey, log);
    try {
      if (node.role === "manager" && req.unlockKeys?.length) {
        const outcome = await unlockWhenUp(back, req.unlockKeys);
        if (outcome === "wrong-key")
          throw new Error(
            "it came back locked and no kept unlock key opens it: run hcloud-swarm unlock with the current key",
          );
        if (outcome === "unlocked") log(`[${node.name}] unlocked (autolock)`);
      }
      await waitForNodeReady(back, log);
    } catch (err) {
      throw new Error(`${node.name} did not come back after ${req.action}: ${(err as Error).message}`);
    } finally {
      back.close();
    }
    const after = viaOther ?? (await session(node, privateKey, log));
    try {
      await waitForMembersReady(after, [id]);
      await after.run(`docker node update --availability active ${shellQuote(id)}`);
      log(`[${node.name}] Ready and active again`);
    } finally {
      if (!viaOther) after.close();
    }
  } finally {
    viaOther?.close();
  }
};
