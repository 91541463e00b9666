/**
 * `local shape` on the namespace bed: packet loss between nodes (../common/packet-loss), a CPU cap and freezing
 * (./cgroup-controls), and a stalled sshd. Each call inspects what is in force, changes only what
 * differs, and returns the actions taken; readShape reads everything back from the system.
 */
import * as path from "path";
import { cpuCap, isFrozen, setCpuCap, setFrozen } from "./cgroup-controls";
import { probeNetem } from "./kernel";
import { Iptables, Peers, readLoss, setLoss } from "../common/packet-loss";
import { BedContext, nodeProcesses } from "./node";
import { NodeRecord } from "./node-files";
import { run } from "../common/host-command";
import { NodeShape, ShapeAction, ShapeRequest } from "../common/shape-request";
import { processState } from "../common/process";

const rel = (ctx: BedContext, node: NodeRecord): string => path.join(ctx.names.cgroup, node.name);
/** iptables in the node's network namespace (not its cgroup: a frozen node must still be shaped). */
const iptablesIn =
  (node: NodeRecord): Iptables =>
  (args) =>
    run("nsenter", [`--net=/run/netns/${node.netns}`, "iptables", ...args], { allowFail: true });
/** The other nodes: the bed's node network, except the host's gateway address (its SSH sessions). */
const peersOf = (ctx: BedContext): Peers => ({ network: ctx.names.subnet, except: ctx.names.gateway });

/** The listening sshd and every per-connection sshd of the node. */
function sshdPids(ctx: BedContext, node: NodeRecord): number[] {
  const p = nodeProcesses(ctx, node);
  return [...(p.sshd !== undefined ? [p.sshd] : []), ...p.sshSessions];
}

/** True when the node's listening sshd is stopped (SIGSTOP): connections are accepted by the kernel but never answered. */
export function sshStalled(ctx: BedContext, node: NodeRecord): boolean {
  const pid = nodeProcesses(ctx, node).sshd;
  return pid !== undefined && processState(pid) === "T";
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // The session ended between listing and signalling.
    }
  }
}

/** What the namespace bed says when asked for latency: this kernel cannot add it, and nothing is faked. */
async function refuseDelay(node: NodeRecord): Promise<never> {
  const netem = await probeNetem();
  throw new Error(
    netem.available
      ? `${node.name}: the namespace bed does not add latency (its nodes share the host's kernel and the host's own SSH would be delayed too); use the VM bed for --delay`
      : `${node.name}: the namespace bed cannot add latency: this kernel has no netem (CONFIG_NET_SCH_NETEM is not set; ${netem.detail}). Nothing was faked; use the VM bed (local up --vm), whose guest kernel has netem`,
  );
}

/** Applies the request to one node; returns the changes made (none when it already holds). */
export async function shapeNode(ctx: BedContext, node: NodeRecord, req: ShapeRequest): Promise<ShapeAction[]> {
  if (req.delayMs !== undefined && req.delayMs > 0) await refuseDelay(node);
  const actions: ShapeAction[] = [];
  const act = (detail: string) => actions.push({ node: node.name, detail });
  // Thaw and resume first, freeze and stall last: the other changes are made from the host and
  // need nothing from the node, but a thawed node should see its new conditions at once.
  if (req.frozen === false && isFrozen(ctx.hierarchies, rel(ctx, node))) {
    await setFrozen(ctx.hierarchies, rel(ctx, node), false);
    act("thawed");
  }
  if (req.sshStalled !== undefined && isFrozen(ctx.hierarchies, rel(ctx, node))) {
    // A frozen task shows no job-control state, and a SIGCONT sent now would be lost on it.
    throw new Error(`${node.name} is frozen: thaw it (--thaw) before stalling or resuming its sshd`);
  }
  if (req.sshStalled === false && sshStalled(ctx, node)) {
    signalAll(
      sshdPids(ctx, node).filter((p) => processState(p) === "T"),
      "SIGCONT",
    );
    act("sshd resumed");
  }
  if (req.lossPercent !== undefined)
    for (const d of await setLoss(iptablesIn(node), peersOf(ctx), req.lossPercent, req.lossDirection ?? "both")) act(d);
  if (req.cpuPercent !== undefined) {
    const was = cpuCap(ctx.hierarchies, rel(ctx, node));
    const want = req.cpuPercent ?? undefined;
    if (was !== want) {
      setCpuCap(ctx.hierarchies, rel(ctx, node), want);
      act(
        want === undefined
          ? `cpu uncapped (was ${was}% of a core)`
          : `cpu capped at ${want}% of a core (was ${was === undefined ? "uncapped" : `${was}%`})`,
      );
    }
  }
  if (req.sshStalled === true && !sshStalled(ctx, node)) {
    const pids = sshdPids(ctx, node);
    if (pids.length === 0) throw new Error(`${node.name} runs no sshd to stall`);
    signalAll(pids, "SIGSTOP");
    act(`sshd stalled (${pids.length - 1} open session(s) stalled too)`);
  }
  if (req.frozen === true && !isFrozen(ctx.hierarchies, rel(ctx, node))) {
    await setFrozen(ctx.hierarchies, rel(ctx, node), true);
    act("frozen");
  }
  return actions;
}

/** What is in force on the node, read from its rules, cgroups and processes. */
export async function readShape(ctx: BedContext, node: NodeRecord): Promise<NodeShape> {
  const [lossInPercent, lossOutPercent] = await Promise.all([
    readLoss(iptablesIn(node), "in"),
    readLoss(iptablesIn(node), "out"),
  ]);
  const cpu = cpuCap(ctx.hierarchies, rel(ctx, node));
  const frozen = isFrozen(ctx.hierarchies, rel(ctx, node));
  return {
    node: node.name,
    lossInPercent,
    lossOutPercent,
    ...(cpu !== undefined ? { cpuPercent: cpu } : {}),
    frozen,
    ...(frozen ? {} : { sshStalled: sshStalled(ctx, node) }),
  };
}

/** One line on latency for `local shape`'s table: the namespace bed never shows a delay it cannot add. */
export async function latencyNote(): Promise<string> {
  const netem = await probeNetem();
  return netem.available ? "n/a (namespace bed)" : "unavailable: no netem";
}

/** Lifts every condition on the node (used before a power cut and by teardown). */
export async function clearNode(ctx: BedContext, node: NodeRecord): Promise<ShapeAction[]> {
  return shapeNode(ctx, node, { lossPercent: 0, cpuPercent: null, frozen: false, sshStalled: false });
}

/** Applies one request to several nodes at once; actions in node order. */
export async function shapeNodes(
  ctx: BedContext,
  nodes: readonly NodeRecord[],
  req: ShapeRequest,
): Promise<ShapeAction[]> {
  return (await Promise.all(nodes.map((n) => shapeNode(ctx, n, req)))).flat();
}
