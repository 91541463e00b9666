/**
 * The rolling engine: reads the facts, plans (./plan.ts, pure), refuses before touching anything
 * when the plan says so, announces what goes down and for how long, then maintains the batches in
 * order (./node.ts), stopping at the first node that does not come back. Used by
 * `hcloud-swarm upgrade`; the Pulumi side can drive ./node.ts rollNode itself (docs/design/rolling.md).
 */
import * as crypto from "crypto";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { canonicalJson, NodeSpec, specLabel } from "../nodespec/spec";
import { planReconcile } from "../nodespec/plan";
import { readNodeState } from "../nodespec/reconcile";
import { matchMembers } from "../bootstrap/plan";
import { readNodes } from "../swarm/nodes";
import { addLabelsBatch } from "../swarm/label-batch";
import { redact } from "../transport/redact";
import { SshSession, waitForSsh } from "../transport/ssh";
import { REBOOT_REQUIRED_FILE } from "./act";
import { serviceCounts, serviceViews } from "./facts";
import { NodeOutcome, RollContext, rollNode, RollStop } from "./node";
import { describeDowntime, LABEL_ROLL, NodeView, planRoll, RollPlan, RollRequest } from "./plan";

/** A node that answers SSH at all does so within this; a roll never waits for a node that is off. */
export const ROLL_SSH_WAIT_MS = 20_000;

export interface RollOptions {
  readonly privateKeyFor: (node: InventoryNode) => string;
  readonly log: (line: string) => void;
  /** Plan and announce only. */
  readonly dryRun?: boolean;
  /**
   * The swarm's unlock keys, newest first (autolock): a manager restarted by the roll comes back
   * locked and is opened with them before its ready phase. Default none: a locked manager stops the roll.
   */
  readonly unlockKeys?: readonly string[];
}

export interface RollReport {
  readonly plan: RollPlan;
  readonly nodes: readonly NodeOutcome[];
  /** Set when the roll stopped at a node. */
  readonly stopped?: RollStop;
}

/** Same request on the same spec: same roll (a re-run resumes it). */
export function rollIdOf(r: RollRequest, spec: NodeSpec): string {
  const material = canonicalJson({
    restartEngine: r.restartEngine,
    os: r.os,
    rebootIfNeeded: r.rebootIfNeeded,
    dockerVersion: r.dockerVersion ?? null,
    spec: specLabel(spec),
  });
  return crypto.createHash("sha256").update(material).digest("hex").slice(0, 12);
}

class Sessions {
  readonly open: Map<string, SshSession>;
  constructor(
    readonly inv: Inventory,
    readonly key: (n: InventoryNode) => string,
  ) {
    this.open = new Map();
  }
  node(name: string): InventoryNode {
    return this.inv.nodes.find((n) => n.name === name) as InventoryNode;
  }
  async get(name: string): Promise<SshSession> {
    const s = this.open.get(name);
    if (s?.isOpen()) return s;
    const n = this.node(name);
    const fresh = await waitForSsh(n, this.key(n), { timeoutMs: ROLL_SSH_WAIT_MS });
    this.open.set(name, fresh);
    return fresh;
  }
  /** The first manager other than `except` that answers, else `except` itself (a single manager). */
  async manager(except?: string): Promise<SshSession> {
    const failures: string[] = [];
    for (const m of this.inv.nodes.filter((n) => n.role === "manager" && n.name !== except)) {
      try {
        const s = await this.get(m.name);
        if ((await s.run("docker node ls -q", { allowFailure: true })).code === 0) return s;
        failures.push(`${m.name}: not an active manager`);
      } catch (err) {
        failures.push(`${m.name}: ${redact((err as Error).message)}`);
      }
    }
    if (except) return this.get(except);
    throw new Error(`no manager answers: ${failures.join("; ")}`);
  }
  closeAll(): void {
    for (const s of this.open.values()) s.close();
  }
}

/** Plans the roll and, unless dryRun, runs it. Throws on refusals (nothing touched). */
export async function rollNodes(inv: Inventory, r: RollRequest, o: RollOptions): Promise<RollReport> {
  const sessions = new Sessions(inv, o.privateKeyFor);
  try {
    const spec = inv.nodeSpec ?? {};
    const rollId = rollIdOf(r, spec);
    const m = await sessions.manager();
    const members = await readNodes(m);
    const matched = matchMembers(inv, members);
    const nameOf = (hostname: string) =>
      [...matched.entries()].find(([, f]) => f.hostname === hostname)?.[0] ?? hostname;
    const refusals: string[] = [];
    const views: NodeView[] = await Promise.all(
      inv.nodes.map(async (n): Promise<NodeView> => {
        const f = matched.get(n.name);
        const base = {
          name: n.name,
          role: n.role,
          ...(f ? { status: f.status, availability: f.availability } : {}),
          ...(f?.reachability ? { reachability: f.reachability } : {}),
          leader: f?.leader === true,
          labels: f?.labels ?? {},
        };
        if (r.nodes && !r.nodes.includes(n.name)) return { ...base, pending: [], rebootRequired: false };
        try {
          const s = await sessions.get(n.name);
          const state = await readNodeState(s);
          if (!state.systemd && (r.dockerVersion || r.os || r.rebootIfNeeded))
            refusals.push(
              `${n.name}: ${[r.dockerVersion ? `--docker-version ${r.dockerVersion}` : "", r.os ? "--os" : "", r.rebootIfNeeded ? "--reboot-if-needed" : ""].filter(Boolean).join(", ")} cannot be applied: no systemd runs this host, so its engine, packages and kernel are not its own (on the namespace bed they are the host machine's; the engine there is ${state.engine || "?"}). --restart-engine works on every host`,
            );
          const plan = planReconcile(state, spec, r.dockerVersion);
          const reboot = (await s.run(`test -f ${REBOOT_REQUIRED_FILE}`, { allowFailure: true })).code === 0;
          return {
            ...base,
            pending: plan.changes.filter((c) => c.rolling).map((c) => `${c.item}: ${c.detail}`),
            rebootRequired: reboot,
          };
        } catch (err) {
          if (f?.status === "ready") refusals.push(`${n.name} does not answer SSH: ${redact((err as Error).message)}`);
          return { ...base, pending: [], rebootRequired: false };
        }
      }),
    );
    const services = await serviceViews(m, nameOf);
    const planned = planRoll(rollId, views, services, r);
    const plan: RollPlan = { ...planned, refusals: [...refusals, ...planned.refusals] };
    announce(plan, o.log);
    if (o.dryRun || plan.refusals.length) return { plan, nodes: [] };

    // Mark the roll on every node it will touch, so that a re-run after a stop resumes it.
    const ids = (names: readonly string[]) =>
      names.flatMap((n) => (matched.get(n) ? [{ name: n, id: (matched.get(n) as { id: string }).id }] : []));
    if (!plan.resumed) {
      const todo = ids(plan.batches.flat().map((p) => p.name));
      const out = await addLabelsBatch(
        m,
        todo.map((t) => ({ id: t.id, labels: { [LABEL_ROLL]: `${rollId}:pending` } })),
      );
      const bad = out.filter((x) => x.error !== undefined);
      if (bad.length) throw new Error(`could not mark the roll on the nodes: ${bad.map((b) => b.error).join("; ")}`);
    }
    const baseline = (await serviceCounts(m)).filter((c) => c.desired > 0 && c.running >= c.desired);
    const stackOf = (svc: string) => services.find((s) => s.name === svc)?.stack ?? svc;
    const ctx: RollContext = {
      spec,
      recordSpec: inv.nodeSpec !== undefined,
      request: r,
      rollId,
      privateKeyFor: o.privateKeyFor,
      unlockKeys: o.unlockKeys ?? [],
      control: (node) => sessions.manager(node),
      session: (node) => sessions.get(node),
      replace: (node, s) => void sessions.open.set(node, s),
      baseline,
      pinnedDown: (node) => plan.downtime.filter((d) => d.node === node && d.why === "pinned").map((d) => d.what),
      stackOf,
      log: o.log,
    };
    const done: NodeOutcome[] = [];
    for (const batch of plan.batches) {
      const results = await Promise.allSettled(batch.map((p) => rollNode(ctx, p, sessions.node(p.name))));
      for (const x of results) if (x.status === "fulfilled") done.push(x.value);
      const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed) {
        const stop =
          failed.reason instanceof RollStop
            ? failed.reason
            : new RollStop(batch[0].name, "drain", redact((failed.reason as Error).message), false);
        const rest = plan.batches
          .slice(plan.batches.indexOf(batch) + 1)
          .flat()
          .map((p) => p.name);
        o.log(`roll stopped at ${stop.node}: ${stop.why}${rest.length ? `; untouched: ${rest.join(", ")}` : ""}`);
        return { plan, nodes: done, stopped: stop };
      }
    }
    return { plan, nodes: done };
  } finally {
    sessions.closeAll();
  }
}

/** The plan as the user reads it before anything happens. */
export function announce(plan: RollPlan, log: (line: string) => void): void {
  log(`roll ${plan.rollId}${plan.resumed ? " (resuming an interrupted run of this roll)" : ""}:`);
  let i = 0;
  for (const batch of plan.batches) {
    i++;
    for (const p of batch)
      log(
        `  ${i}. ${p.name} (${p.role}): ${p.steps.join(" → ")}; out for about ${p.estimate.drain + p.estimate.act + p.estimate.ready} s`,
      );
  }
  if (plan.batches.length === 0) log("  no node needs anything");
  for (const s of plan.skipped) log(`  skipped ${s.name}: ${s.why}`);
  for (const d of plan.downtime) log(`  ${describeDowntime(d)}`);
  if (plan.batches.length && !plan.downtime.length)
    log("  every service keeps running: each has tasks on a node that is not maintained at the same time");
  for (const n of plan.notes) log(`  note: ${n}`);
  for (const x of plan.refusals) log(`  refused: ${x}`);
}
