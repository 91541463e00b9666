/**
 * Packet loss between nodes for `local shape --loss`: iptables `statistic` rules inside the node's
 * own network namespace, one chain per direction, so they shape exactly that node and vanish with
 * it. Only packets to and from the other nodes are dropped; the host's SSH sessions (from the
 * bridge's gateway) are left alone, as the loss is meant to be between servers.
 * This kernel has no netem, so loss is all the namespace bed can add: no latency, no jitter.
 */
import { BedNames } from "./plan";
import { NodeRecord } from "./node-files";
import { CommandError, commandLine, run, RunResult } from "../run";
import { LossDirection } from "../shape";

/** Chains in the node's filter table, jumped to first from INPUT and OUTPUT. */
const CHAIN = { in: "HSW-LOSS-IN", out: "HSW-LOSS-OUT" } as const;
const BUILTIN = { in: "INPUT", out: "OUTPUT" } as const;

/** iptables in the node's network namespace; returns stdout, or "" on failure when allowFail. */
async function ipt(node: NodeRecord, args: readonly string[], allowFail = false): Promise<string> {
  const r = await iptResult(node, args);
  if (r.code !== 0 && !allowFail) throw new CommandError(commandLine("iptables", args), r);
  return r.code === 0 ? r.stdout : "";
}

function iptResult(node: NodeRecord, args: readonly string[]): Promise<RunResult> {
  return run("nsenter", [`--net=/run/netns/${node.netns}`, "iptables", "-w", ...args], { allowFail: true });
}

/** The loss in force on one direction of the node, in percent (0 when none), read from its rules. */
export async function readLoss(node: NodeRecord, dir: "in" | "out"): Promise<number> {
  const rules = await ipt(node, ["-S", CHAIN[dir]], true);
  const m = /--probability (\d*\.?\d+)/.exec(rules);
  return m ? Math.round(Number(m[1]) * 10_000) / 100 : 0;
}

/** Sets the loss of one direction: replaces the chain's rules; 0 removes the chain and its jump. */
async function setDirection(b: BedNames, node: NodeRecord, dir: "in" | "out", percent: number): Promise<void> {
  const chain = CHAIN[dir];
  const exists = (await ipt(node, ["-S", chain], true)) !== "";
  if (percent === 0) {
    if (!exists) return;
    while ((await iptResult(node, ["-D", BUILTIN[dir], "-j", chain])).code === 0);
    await ipt(node, ["-F", chain]);
    await ipt(node, ["-X", chain]);
    return;
  }
  if (!exists) {
    await ipt(node, ["-N", chain]);
    await ipt(node, ["-I", BUILTIN[dir], "1", "-j", chain]);
  } else await ipt(node, ["-F", chain]);
  const peer = dir === "in" ? "-s" : "-d";
  // The gateway is the host: its SSH sessions are not "between nodes".
  await ipt(node, ["-A", chain, peer, `${b.gateway}/32`, "-j", "RETURN"]);
  await ipt(node, ["-A", chain, peer, b.subnet, "-m", "statistic", "--mode", "random", "--probability", (percent / 100).toFixed(4), "-j", "DROP"]);
}

/** Applies `percent` loss to the given direction(s); returns what changed, e.g. ["loss in 2% (was 0%)"]. */
export async function setLoss(b: BedNames, node: NodeRecord, percent: number, direction: LossDirection): Promise<string[]> {
  const done: string[] = [];
  for (const dir of direction === "both" ? (["in", "out"] as const) : [direction]) {
    const was = await readLoss(node, dir);
    if (Math.abs(was - percent) < 0.005) continue;
    await setDirection(b, node, dir, percent);
    done.push(`loss ${dir} ${percent}% (was ${was}%)`);
  }
  return done;
}
