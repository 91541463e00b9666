/**
 * One node through a roll, phase by phase, each judged by facts, never by a pause:
 *   drain      `docker node update --availability drain`, wait until the node's tasks have stopped
 *              (bootstrap/swarm-ops drain) and every service that must stay up runs its full count
 *              elsewhere again;
 *   act        ./act.ts (OS updates, the node spec's rolling changes, a dockerd restart, a reboot);
 *   ready      the node's engine is an active swarm member and the managers list it Ready (and
 *              reachable, for a manager); its host firewall is rebuilt from its saved list and
 *              judged (hostfw/probe.ts); the encryption rules the drained node had are back;
 *   reactivate `--availability active`;
 *   verify     every service that ran fully before the roll does again (pinned ones back on this
 *              node), and the node records the spec it runs.
 * A phase that fails throws RollStop naming the node, the phase and why. A node whose tasks could
 * not move is reactivated (nothing was done to it); a node that did not come back is left drained.
 */
import type { InventoryNode } from "../inventory/inventory";
import type { NodeSpec } from "../nodespec/spec";
import { LABEL_SPEC } from "../nodespec/spec";
import { reconcileNode } from "../nodespec/reconcile";
import { drain } from "../bootstrap/swarm-ops";
import { applyFirewall } from "../bootstrap/allow-list";
import { judgeHost, parseProbe, PROBE_SCRIPT } from "../hostfw/probe";
import { unlockWhenUp } from "../swarm/autolock";
import { addLabels, nodeUpdate } from "../swarm/node-update";
import { readNodes } from "../swarm/nodes";
import { shellQuote } from "../transport/shell";
import { redact } from "../transport/redact";
import type { SshSession } from "../transport/ssh";
import { waitFor } from "../common/time";
import { actOn } from "./act";
import { describeEnforcement, Enforcement, missingSince, readEnforcement } from "./enforcement";
import { ServiceCount, serviceCounts } from "./facts";
import { LABEL_ROLL, PlannedNode, RollRequest } from "./plan";

/** Tasks of a drained node are rescheduled within seconds; two minutes covers a slow image start elsewhere. */
export const TASKS_MOVED_TIMEOUT_MS = 120_000;
/** dockerd answers within ENGINE_START_TIMEOUT_MS (recovery/engine.ts); the managers see it Ready within a few 5 s heartbeats more. */
export const NODE_READY_TIMEOUT_MS = 180_000;
/**
 * Docker reprograms its xfrm policies and marks as the node's network sandboxes come back and its
 * peers' network gossip reaches it again. Measured on the namespace bed: 1.5–2 s on a worker, 47–61 s
 * on a restarted single manager (docs/lab/2026-12-08-s18roll.md); three minutes leave room for that.
 */
export const ENFORCEMENT_TIMEOUT_MS = 180_000;
/** Tasks coming back to a reactivated node (a pinned database's health check included). */
export const ROLL_CONVERGE_TIMEOUT_MS = 180_000;
/** Facts are read again this often while waiting: one short command on a manager or the node. */
const POLL_MS = 1_000;

export type RollPhase = "drain" | "act" | "ready" | "reactivate" | "verify";

/** The roll stopped at this node. Nothing after it was touched. */
export class RollStop extends Error {
  constructor(
    readonly node: string,
    readonly phase: RollPhase,
    readonly why: string,
    readonly leftDrained: boolean,
  ) {
    const message = `${node} did not come back (${phase}): ${why}; ${leftDrained ? `it is left drained: fix it, then re-run the same command to resume from ${node}` : `it was reactivated unchanged: re-run once the cause is fixed`}`;
    super(message);
    this.message = message;
    this.name = "RollStop";
  }
}

/** What rollNode needs from the run around it (./engine.ts gives it; so can the Pulumi side). */
export interface RollContext {
  readonly spec: NodeSpec;
  /** Record LABEL_SPEC: the inventory carries a nodeSpec. */
  readonly recordSpec: boolean;
  readonly request: RollRequest;
  readonly rollId: string;
  readonly privateKeyFor: (node: InventoryNode) => string;
  /** The swarm's unlock keys, newest first; [] when none are kept (autolock off, or the Pulumi side). */
  readonly unlockKeys: readonly string[];
  /** A manager session for swarm commands while `node` is maintained: another manager when there is one. */
  control(node: string): Promise<SshSession>;
  /** The node's own session (a new one after a reboot: see replace). */
  session(node: string): Promise<SshSession>;
  replace(node: string, s: SshSession): void;
  /** Services that ran their full count when the roll started. */
  readonly baseline: readonly ServiceCount[];
  /** Services (by stack or name) expected down while `node` is maintained (their data is pinned there). */
  pinnedDown(node: string): readonly string[];
  readonly stackOf: (service: string) => string;
  readonly log: (line: string) => void;
}

export interface NodeTimes {
  readonly drain: number;
  readonly act: number;
  readonly ready: number;
  readonly verify: number;
}

export interface NodeOutcome {
  readonly node: string;
  readonly did: readonly string[];
  readonly enforcement: string;
  readonly seconds: NodeTimes;
}

async function nodeId(m: SshSession, node: InventoryNode): Promise<string> {
  const members = await readNodes(m);
  const found =
    members.find((x) => x.hostname === node.name && x.status === "ready") ??
    members.find((x) => x.hostname === node.name || x.addr === node.advertiseAddress);
  if (!found) throw new Error(`${node.name} is not a member of the swarm`);
  return found.id;
}

/** Services of the baseline not at their full count now (skipping `except`), as "name 1/2". */
async function short(m: SshSession, ctx: RollContext, except: readonly string[]): Promise<string[]> {
  const now = await serviceCounts(m);
  return ctx.baseline
    .filter((b) => !except.includes(ctx.stackOf(b.name)))
    .flatMap((b) => {
      const c = now.find((x) => x.name === b.name);
      return c && c.running >= c.desired && c.desired > 0
        ? []
        : [`${b.name} ${c ? `${c.running}/${c.desired}` : "gone"}`];
    });
}

async function readyFacts(m: SshSession, s: SshSession, id: string, manager: boolean): Promise<string | undefined> {
  const local = await s
    .run("docker info --format '{{.Swarm.LocalNodeState}}'", { allowFailure: true, timeoutMs: 30_000 })
    .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
  if (local.code !== 0 || local.stdout.trim() !== "active")
    return `its engine reports swarm state ${JSON.stringify(local.stdout.trim() || local.stderr.trim().split("\n")[0] || "none")}`;
  const seen = await m.run(
    `docker node inspect ${shellQuote(id)} --format '{{.Status.State}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}'`,
    { allowFailure: true },
  );
  const [state, reach] = seen.stdout.trim().split(" ");
  if (state !== "ready") return `the managers list it as ${state || "unknown"}`;
  if (manager && reach !== "reachable") return `the managers list it as ${reach || "not"} reachable`;
  return undefined;
}

/** Runs every phase on one node; throws RollStop at the first that fails. */
export async function rollNode(ctx: RollContext, p: PlannedNode, node: InventoryNode): Promise<NodeOutcome> {
  const m = await ctx.control(p.name);
  let s = await ctx.session(p.name);
  const id = await nodeId(m, node);
  const times: Record<RollPhase | "ready", number> = { drain: 0, act: 0, ready: 0, reactivate: 0, verify: 0 };
  const log = (phase: RollPhase, line: string, t0: number) => {
    times[phase] = (Date.now() - t0) / 1000;
    ctx.log(`[${p.name}] ${phase}: ${line} (${times[phase].toFixed(1)} s)`);
  };
  const pinned = ctx.pinnedDown(p.name);
  const reactivate = () => nodeUpdate(m, `docker node update --availability active ${shellQuote(id)}`);

  let t0 = Date.now();
  try {
    const how = await drain(m, id, p.name);
    let missing: string[] = [];
    const moved = await waitFor(
      async () => (missing = await short(m, ctx, pinned)).length === 0,
      TASKS_MOVED_TIMEOUT_MS,
      POLL_MS,
    );
    if (!moved)
      throw new Error(
        `its tasks did not move within ${TASKS_MOVED_TIMEOUT_MS / 1000} s: short of their count: ${missing.join(", ")}`,
      );
    log(
      "drain",
      `${how}; every service that must stay up runs its full count elsewhere${pinned.length ? ` (down meanwhile: ${pinned.join(", ")})` : ""}`,
      t0,
    );
  } catch (err) {
    await reactivate().catch(() => undefined);
    throw new RollStop(p.name, "drain", redact((err as Error).message), false);
  }

  let before: Enforcement | undefined;
  let did: readonly string[] = [];
  t0 = Date.now();
  try {
    before = await readEnforcement(s).catch(() => undefined);
    const r = await actOn(s, node, ctx.privateKeyFor(node), ctx.spec, ctx.request);
    s = r.session;
    ctx.replace(p.name, s);
    did = r.did;
    // Autolock: a restarted manager keeps its Raft keys sealed until unlocked; without this it never
    // turns Ready and the roll would stop on a node that is fine.
    if (p.role === "manager" && ctx.unlockKeys.length > 0) {
      const outcome = await unlockWhenUp(s, ctx.unlockKeys);
      if (outcome === "wrong-key")
        throw new Error(
          "it came back locked and none of the kept unlock keys opens it: run hcloud-swarm unlock --key-file FILE with the swarm's current key, then upgrade again",
        );
      if (outcome === "unlocked") did = [...did, "unlocked (autolock)"];
    }
    log("act", did.join("; ") || "nothing left to do", t0);
  } catch (err) {
    throw new RollStop(p.name, "act", redact((err as Error).message), true);
  }

  t0 = Date.now();
  let enforcement = "";
  try {
    let why: string | undefined;
    const up = await waitFor(
      async () => (why = await readyFacts(m, s, id, p.role === "manager")) === undefined,
      NODE_READY_TIMEOUT_MS,
      POLL_MS,
    );
    if (!up) throw new Error(`not Ready within ${NODE_READY_TIMEOUT_MS / 1000} s: ${why}`);
    const readyAfter = (Date.now() - t0) / 1000;
    // The saved allow-list, applied again and read back: Docker's restart re-inserts its own chains.
    await applyFirewall(s, "restore", []);
    // The probe verify reads: bootstrap's firewall command no longer prints it (issue 24).
    const probe = (
      await s.run(PROBE_SCRIPT, { allowFailure: true, display: "host firewall, sshd and cloud-init probe" })
    ).stdout;
    const members = (await readNodes(m)).map((x) => x.addr);
    const failed = judgeHost(parseProbe(probe), {
      members,
      ...(node.privateAddress ? { privateAddress: node.privateAddress } : {}),
    }).filter((c) => c.status === "fail");
    if (failed.length) throw new Error(`host firewall: ${failed.map((c) => `${c.what}: ${c.detail}`).join("; ")}`);
    let now: Enforcement | undefined;
    if (before) {
      const b = before;
      const back = await waitFor(
        async () => missingSince(b, (now = await readEnforcement(s))).length === 0,
        ENFORCEMENT_TIMEOUT_MS,
        POLL_MS,
      );
      if (!back || !now)
        throw new Error(
          `encryption rules not back within ${ENFORCEMENT_TIMEOUT_MS / 1000} s: missing ${missingSince(b, now ?? b).join(", ")}`,
        );
      enforcement = `${describeEnforcement(b, now)} (back ${((Date.now() - t0) / 1000).toFixed(1)} s into the phase)`;
    } else enforcement = "the encryption rules could not be read before the act (engine down?): nothing to compare";
    log(
      "ready",
      `engine active, Ready for the managers after ${readyAfter.toFixed(1)} s; host firewall judged; ${enforcement}`,
      t0,
    );
  } catch (err) {
    throw new RollStop(p.name, "ready", redact((err as Error).message), true);
  }

  t0 = Date.now();
  try {
    await reactivate();
    log("reactivate", "availability active", t0);
  } catch (err) {
    throw new RollStop(p.name, "reactivate", redact((err as Error).message), true);
  }

  t0 = Date.now();
  try {
    let missing: string[] = [];
    const ok = await waitFor(
      async () => (missing = await short(m, ctx, [])).length === 0,
      ROLL_CONVERGE_TIMEOUT_MS,
      POLL_MS,
    );
    if (!ok)
      throw new Error(
        `services not back to their full count within ${ROLL_CONVERGE_TIMEOUT_MS / 1000} s: ${missing.join(", ")}`,
      );
    const rec = await reconcileNode(s, ctx.spec, { record: ctx.recordSpec });
    const labels: Record<string, string> = { [LABEL_ROLL]: `${ctx.rollId}:done` };
    if (ctx.recordSpec && rec.label) labels[LABEL_SPEC] = rec.label;
    await addLabels(m, id, labels);
    log(
      "verify",
      `every service at its full count${rec.label && ctx.recordSpec ? `; runs node spec ${rec.label}` : ""}`,
      t0,
    );
  } catch (err) {
    throw new RollStop(p.name, "verify", redact((err as Error).message), false);
  }
  return {
    node: p.name,
    did,
    enforcement,
    seconds: { drain: times.drain, act: times.act, ready: times.ready, verify: times.verify },
  };
}
