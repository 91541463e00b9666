/**
 * Conditions on a test bed's nodes (`hcloud-swarm local shape`): what can be asked for, parsed and
 * checked here (pure), applied by the bed's own module (local/ns/shape.ts for the namespace bed, local/vm/shape.ts for the VM bed).
 * A request only names what changes; everything it leaves out stays as it is.
 */
import { throwIfProblems } from "../../common/problems";

export type LossDirection = "in" | "out" | "both";

export interface ShapeRequest {
  /** Drop this share (percent, 0–100) of the packets between the node and the other nodes; 0 lifts it. Default: unchanged. */
  readonly lossPercent?: number;
  /** Which packets `lossPercent` applies to: arriving at the node, leaving it, or both. Default "both". */
  readonly lossDirection?: LossDirection;
  /** Cap the node's CPU at this percent of one core; null lifts the cap. Default: unchanged. */
  readonly cpuPercent?: number | null;
  /** Freeze (true) or thaw (false) every process of the node, as a stalled VM. Default: unchanged. */
  readonly frozen?: boolean;
  /** Stop (true) or resume (false) the node's sshd and its open sessions: SSH stalls. Default: unchanged. */
  readonly sshStalled?: boolean;
  /** Added one-way delay on the node's packets to the other nodes, in ms (needs netem); 0 lifts it. Default: unchanged. */
  readonly delayMs?: number;
  /** Jitter around `delayMs`, in ms. Default 0. */
  readonly jitterMs?: number;
  /** The other nodes `delayMs` applies to (packets from this node to them). Default: every other node. */
  readonly to?: readonly string[];
}

/** An added delay on the packets from a node to one other node. */
export interface PeerDelay {
  readonly to: string;
  readonly delayMs: number;
  readonly jitterMs: number;
}

/** A node's conditions as read back from the system (never from a record of what was asked). */
export interface NodeShape {
  readonly node: string;
  /** Percent of packets from the other nodes that are dropped; undefined when it cannot be read (see note). */
  readonly lossInPercent?: number;
  /** Percent of packets to the other nodes that are dropped; undefined when it cannot be read. */
  readonly lossOutPercent?: number;
  /** CPU cap in percent of one core; undefined when uncapped. */
  readonly cpuPercent?: number;
  readonly frozen: boolean;
  /** Whether sshd is stopped; undefined while the node is frozen (a frozen task shows no job-control state). */
  readonly sshStalled?: boolean;
  /** Added delays to other nodes, where the bed can add latency (undefined where it cannot). */
  readonly delays?: readonly PeerDelay[];
  /** Why some of it could not be read (a frozen or powered-off VM). */
  readonly note?: string;
}

/** One change made by `local shape`, e.g. { node: "worker-1", detail: "loss in 2% (was 0%)" }. */
export interface ShapeAction {
  readonly node: string;
  readonly detail: string;
}

/** Options of `local shape` as the command line gives them (strings, not yet checked). */
export interface ShapeArgs {
  readonly loss?: string;
  readonly direction?: string;
  readonly cpu?: string;
  readonly freeze?: boolean;
  readonly thaw?: boolean;
  readonly stallSsh?: boolean;
  readonly resumeSsh?: boolean;
  readonly delay?: string;
  readonly jitter?: string;
  /** Comma-separated node names for --delay. */
  readonly to?: string;
  readonly clear?: boolean;
}

/** Everything lifted: what `--clear` asks for. */
export const CLEAR: ShapeRequest = {
  lossPercent: 0,
  lossDirection: "both",
  cpuPercent: null,
  frozen: false,
  sshStalled: false,
  delayMs: 0,
};

function percent(
  key: string,
  value: string,
  min: number,
  max: number,
  example: string,
  problems: string[],
): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || n < min || n > max) {
    problems.push(`${key} must be a percentage from ${min} to ${max} (e.g. ${key} ${example}), got "${value}"`);
    return undefined;
  }
  return n;
}

function millis(key: string, value: string, problems: string[]): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  const n = m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : NaN;
  if (!m || n > 10_000) {
    problems.push(`${key} must be a duration of at most 10 s, in ms or s (e.g. ${key} 25ms), got "${value}"`);
    return undefined;
  }
  return n;
}

/** Checks the command line's options, reporting every problem at once; the result names only what changes. */
export function parseShapeArgs(a: ShapeArgs, cores: number): ShapeRequest {
  const problems: string[] = [];
  if (a.freeze && a.thaw) problems.push("--freeze and --thaw contradict each other; give one");
  if (a.stallSsh && a.resumeSsh) problems.push("--stall-ssh and --resume-ssh contradict each other; give one");
  if (a.direction !== undefined && !["in", "out", "both"].includes(a.direction))
    problems.push(`--direction must be in, out or both, got "${a.direction}"`);
  if (a.direction !== undefined && a.loss === undefined)
    problems.push("--direction applies to --loss; give --loss too (e.g. --loss 2% --direction in)");
  if (a.jitter !== undefined && a.delay === undefined)
    problems.push("--jitter applies to --delay; give --delay too (e.g. --delay 25ms --jitter 5ms)");
  if (a.to !== undefined && a.delay === undefined)
    problems.push("--to applies to --delay; give --delay too (e.g. --delay 12ms --to manager-3,worker-3)");
  const to = a.to === undefined ? undefined : a.to.split(",").map((x) => x.trim());
  if (to && to.some((x) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(x)))
    problems.push(`--to must list node names separated by commas (e.g. --to manager-3,worker-3), got "${a.to}"`);
  const lossPercent = a.loss === undefined ? undefined : percent("--loss", a.loss, 0, 100, "2%", problems);
  const cpuPercent =
    a.cpu === undefined
      ? undefined
      : a.cpu === "none"
        ? null
        : percent("--cpu", a.cpu, 1, cores * 100, "20%", problems);
  const delayMs = a.delay === undefined ? undefined : millis("--delay", a.delay, problems);
  const jitterMs = a.jitter === undefined ? undefined : millis("--jitter", a.jitter, problems);
  if (delayMs !== undefined && jitterMs !== undefined && jitterMs > delayMs)
    problems.push(`--jitter (${jitterMs} ms) cannot exceed --delay (${delayMs} ms)`);
  throwIfProblems("local shape", problems);
  const base: ShapeRequest = a.clear ? CLEAR : {};
  return {
    ...base,
    ...(lossPercent !== undefined ? { lossPercent, lossDirection: (a.direction ?? "both") as LossDirection } : {}),
    ...(cpuPercent !== undefined ? { cpuPercent } : {}),
    ...(a.freeze || a.thaw ? { frozen: a.freeze === true } : {}),
    ...(a.stallSsh || a.resumeSsh ? { sshStalled: a.stallSsh === true } : {}),
    ...(delayMs !== undefined ? { delayMs, jitterMs: jitterMs ?? 0, ...(to ? { to } : {}) } : {}),
  };
}

/** True when the request changes nothing (then `local shape` only shows the conditions). */
export function isEmptyRequest(r: ShapeRequest): boolean {
  return Object.values(r).every((v) => v === undefined);
}

const pct = (n: number | undefined): string => (n === undefined ? "?" : `${Math.round(n * 100) / 100}%`);

/** "12.5 ms ± 1 ms to manager-3, worker-3; 6 ms ± 0.5 ms to manager-2", or "-" (pure). */
export function formatDelays(delays: readonly PeerDelay[]): string {
  const groups = new Map<string, string[]>();
  for (const d of delays) {
    const key = `${d.delayMs} ms ± ${d.jitterMs} ms`;
    groups.set(key, [...(groups.get(key) ?? []), d.to]);
  }
  return [...groups].map(([k, to]) => `${k} to ${to.join(", ")}`).join("; ") || "-";
}

/** The table `local shape` prints: one row per node, what is in force now; `latency` stands where the bed cannot add any. */
export function formatShapes(shapes: readonly NodeShape[], latency: string): string {
  const rows = [["NODE", "LOSS IN", "LOSS OUT", "CPU", "FROZEN", "SSH", "DELAY"]];
  for (const s of shapes) {
    const delay = s.note ?? (s.delays === undefined ? latency : formatDelays(s.delays));
    rows.push([
      s.node,
      pct(s.lossInPercent),
      pct(s.lossOutPercent),
      s.cpuPercent === undefined ? "uncapped" : `${pct(s.cpuPercent)} of a core`,
      s.frozen ? "FROZEN" : "no",
      s.sshStalled === undefined ? (s.frozen ? "(frozen)" : "-") : s.sshStalled ? "STALLED" : "ok",
      delay,
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(w[i]))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** The nodes a `local shape` call names ("all" for every node), every unknown name reported at once. */
export function selectNodes<N extends { readonly name: string }>(all: readonly N[], names: readonly string[]): N[] {
  if (names.includes("all")) return [...all];
  const unknown = names.filter((n) => !all.some((x) => x.name === n));
  throwIfProblems(
    "local shape",
    unknown.map((n) => `no node "${n}" in this bed; nodes: ${all.map((x) => x.name).join(", ")} (or all)`),
  );
  return all.filter((x) => names.includes(x.name));
}
