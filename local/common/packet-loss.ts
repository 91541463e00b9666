/**
 * Packet loss between nodes for `local shape --loss`, on either bed: iptables `statistic` rules on
 * the node itself (the namespace bed: in the node's network namespace; the VM bed: inside the
 * guest), one chain per direction, so they shape exactly that node. Only packets to and from the
 * other nodes are dropped (`peers`), never the host's SSH sessions: the loss is between servers.
 */
import { CommandError, commandLine, RunResult } from "./host-command";
import { LossDirection } from "./shape-request";

/** Runs iptables with these arguments on the node (e.g. through nsenter, or over SSH in a guest). */
export type Iptables = (args: readonly string[]) => Promise<RunResult>;

/** Which packets count as "between nodes". */
export interface Peers {
  /** The nodes' network, e.g. "10.213.3.0/25". */
  readonly network: string;
  /** An address inside it that is not a node (the host's gateway), left alone. */
  readonly except?: string;
}

/**
 * Chains in the node's filter table. OUTPUT jumps to its chain first; INPUT at its end, below the
 * host firewall's jump (hostfw/), which must stay first: the loss chain only drops or returns, but
 * verify cannot tell an unknown jump above its chain from one that accepts, and bootstrap would move
 * it on every run. Members' packets still meet it (the firewall's chain returns them to INPUT).
 */
const CHAIN = { in: "HSW-LOSS-IN", out: "HSW-LOSS-OUT" } as const;
const BUILTIN = { in: "INPUT", out: "OUTPUT" } as const;

/** iptables on the node; returns stdout, or "" on failure when allowFail. */
async function ipt(run: Iptables, args: readonly string[], allowFail = false): Promise<string> {
  const r = await run(["-w", ...args]);
  if (r.code !== 0 && !allowFail) throw new CommandError(commandLine("iptables", args), r);
  return r.code === 0 ? r.stdout : "";
}

/** The loss in force on one direction of the node, in percent (0 when none), read from its rules. */
export async function readLoss(run: Iptables, dir: "in" | "out"): Promise<number> {
  const rules = await ipt(run, ["-S", CHAIN[dir]], true);
  const m = /--probability (\d*\.?\d+)/.exec(rules);
  return m ? Math.round(Number(m[1]) * 10_000) / 100 : 0;
}

/** Sets the loss of one direction: replaces the chain's rules; 0 removes the chain and its jump. */
async function setDirection(run: Iptables, peers: Peers, dir: "in" | "out", percent: number): Promise<void> {
  const chain = CHAIN[dir];
  const exists = (await ipt(run, ["-S", chain], true)) !== "";
  if (percent === 0) {
    if (!exists) return;
    while ((await run(["-w", "-D", BUILTIN[dir], "-j", chain])).code === 0);
    await ipt(run, ["-F", chain]);
    await ipt(run, ["-X", chain]);
    return;
  }
  if (!exists) {
    await ipt(run, ["-N", chain]);
    await ipt(run, dir === "in" ? ["-A", BUILTIN[dir], "-j", chain] : ["-I", BUILTIN[dir], "1", "-j", chain]);
  } else await ipt(run, ["-F", chain]);
  const peer = dir === "in" ? "-s" : "-d";
  if (peers.except) await ipt(run, ["-A", chain, peer, `${peers.except}/32`, "-j", "RETURN"]);
  await ipt(run, [
    "-A",
    chain,
    peer,
    peers.network,
    "-m",
    "statistic",
    "--mode",
    "random",
    "--probability",
    (percent / 100).toFixed(4),
    "-j",
    "DROP",
  ]);
}

/** Applies `percent` loss to the given direction(s); returns what changed, e.g. ["loss in 2% (was 0%)"]. */
export async function setLoss(
  run: Iptables,
  peers: Peers,
  percent: number,
  direction: LossDirection,
): Promise<string[]> {
  const done: string[] = [];
  for (const dir of direction === "both" ? (["in", "out"] as const) : [direction]) {
    const was = await readLoss(run, dir);
    if (Math.abs(was - percent) < 0.005) continue;
    await setDirection(run, peers, dir, percent);
    done.push(`loss ${dir} ${percent}% (was ${was}%)`);
  }
  return done;
}
