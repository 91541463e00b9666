/**
 * The rolling plan: which nodes are maintained, in which order, what happens to each, and what goes
 * down meanwhile. Pure: the facts come in (./facts.ts reads them), the plan and its refusals go out.
 *
 * - Managers first, one at a time: the other managers (non-leaders) before the leader, so the
 *   leadership moves once. A manager is taken down only while the Ready managers left keep a Raft
 *   majority of all managers. A swarm with a single manager cannot keep one: its control plane is
 *   unavailable while that manager is maintained (running services go on); the plan says so.
 * - Then workers, `maxUnavailable` at a time, in inventory order.
 * - A node that needs nothing is skipped; a node done by an interrupted run of the same roll
 *   (LABEL_ROLL `<id>:done` while another planned node still shows `<id>:pending`) is skipped:
 *   a re-run resumes.
 * - A stack whose data is pinned to a node (hcloud-swarm.pin.* labels) is down while that node is
 *   maintained; a single-replica service restarts elsewhere (a short gap); a replicated one stays up.
 */
import { heldPins, RESERVED_PREFIX } from "../inventory/labels";
import type { NodeRole } from "../inventory/inventory";

/** Node label of a roll in progress: `<rollId>:pending` until the node is done, then `<rollId>:done`. */
export const LABEL_ROLL = `${RESERVED_PREFIX}roll`;

/**
 * Seconds each phase is expected to take, for the downtime announced before a roll starts (the roll
 * reports the real figures per node after). Why each: tasks get Docker's 10 s stop grace before they
 * are killed; a dockerd restart with swarm state answers in seconds; a package upgrade downloads and
 * unpacks ~100 MB; OS updates vary most; a reboot of a cloud server is about a minute and a half;
 * a node rejoining is seen by the managers within a few heartbeats (5 s each).
 */
export const ESTIMATE_S = {
  drain: 15,
  restartEngine: 15,
  dockerPackage: 90,
  os: 180,
  reboot: 90,
  ready: 15,
  verify: 10,
} as const;

export interface RollRequest {
  readonly restartEngine: boolean;
  readonly os: boolean;
  readonly rebootIfNeeded: boolean;
  readonly dockerVersion?: string;
  /** Only these nodes (inventory names); default every node. */
  readonly nodes?: readonly string[];
  /** Workers maintained at once. */
  readonly maxUnavailable: number;
}

/** One inventory node as the facts show it. */
export interface NodeView {
  readonly name: string;
  readonly role: NodeRole;
  /** undefined when the node is not a member of the swarm. */
  readonly status?: string;
  readonly availability?: string;
  readonly reachability?: string;
  readonly leader: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** The node's rolling changes still pending (node spec: daemon.json, the Docker package), as text. */
  readonly pending: readonly string[];
  /** The OS asks for a reboot (/var/run/reboot-required). */
  readonly rebootRequired: boolean;
}

/** A service and where its tasks run now (inventory names). */
export interface ServiceView {
  readonly name: string;
  readonly stack?: string;
  /** undefined for a global service. */
  readonly replicas?: number;
  readonly runningOn: readonly string[];
}

export interface PlannedNode {
  readonly name: string;
  readonly role: NodeRole;
  /** What happens to it, in order, as words. */
  readonly steps: readonly string[];
  readonly estimate: { readonly drain: number; readonly act: number; readonly ready: number; readonly verify: number };
}

export interface Downtime {
  readonly node: string;
  /** The stack (or the service, when it is in none). */
  readonly what: string;
  readonly seconds: number;
  readonly why: "pinned" | "single-replica";
}

export interface RollPlan {
  readonly rollId: string;
  readonly resumed: boolean;
  /** Batches in order; the nodes of one batch are maintained together. */
  readonly batches: readonly (readonly PlannedNode[])[];
  readonly skipped: ReadonlyArray<{ readonly name: string; readonly why: string }>;
  readonly downtime: readonly Downtime[];
  readonly notes: readonly string[];
  /** Reasons not to start at all; nothing is touched when there is one. */
  readonly refusals: readonly string[];
}

/** Raft: a majority of all managers must stay Ready. */
export function majority(managers: number): number {
  return Math.floor(managers / 2) + 1;
}

const readyManager = (n: NodeView) => n.role === "manager" && n.status === "ready" && n.reachability !== "unreachable";

/** The roll's identity: the same request on the same spec is the same roll, so a re-run resumes it. */
export function labelState(labels: Readonly<Record<string, string>>, rollId: string): "pending" | "done" | undefined {
  const v = labels[LABEL_ROLL];
  return v === `${rollId}:pending` ? "pending" : v === `${rollId}:done` ? "done" : undefined;
}

function stepsOf(n: NodeView, r: RollRequest): { steps: string[]; act: number } {
  const steps: string[] = [];
  let act = 0;
  if (r.os) {
    steps.push("apt-get upgrade");
    act += ESTIMATE_S.os;
  }
  let restart = r.restartEngine;
  for (const p of n.pending) {
    steps.push(p);
    if (p.startsWith("docker")) act += ESTIMATE_S.dockerPackage;
    else restart = true;
  }
  if (restart) {
    steps.push("restart dockerd");
    act += ESTIMATE_S.restartEngine;
  }
  if (r.rebootIfNeeded && (n.rebootRequired || r.os)) {
    steps.push(n.rebootRequired ? "reboot (the OS asks for one)" : "reboot if the updates ask for one");
    act += ESTIMATE_S.reboot;
  }
  return { steps, act };
}

export function planRoll(
  rollId: string,
  nodes: readonly NodeView[],
  services: readonly ServiceView[],
  r: RollRequest,
): RollPlan {
  const refusals: string[] = [];
  const notes: string[] = [];
  const skipped: Array<{ name: string; why: string }> = [];
  if (!Number.isInteger(r.maxUnavailable) || r.maxUnavailable < 1)
    refusals.push(`maxUnavailable must be a whole number of at least 1, got ${r.maxUnavailable}`);
  for (const name of r.nodes ?? [])
    if (!nodes.some((n) => n.name === name)) refusals.push(`--nodes names ${name}, which is not in the inventory`);
  const chosen = nodes.filter((n) => !r.nodes || r.nodes.includes(n.name));
  const resumed = chosen.some((n) => labelState(n.labels, rollId) === "pending");
  const todo: Array<{ n: NodeView; steps: string[]; act: number }> = [];
  for (const n of chosen) {
    if (resumed && labelState(n.labels, rollId) === "done") {
      skipped.push({ name: n.name, why: "done by the interrupted run of this roll" });
      continue;
    }
    const { steps, act } = stepsOf(n, r);
    if (steps.length === 0) {
      skipped.push({ name: n.name, why: "nothing to do: it runs the spec" });
      continue;
    }
    if (n.status === undefined) refusals.push(`${n.name} is not a member of the swarm: run bootstrap first`);
    else if (n.status !== "ready" && labelState(n.labels, rollId) !== "pending")
      refusals.push(
        `${n.name} is ${n.status || "not ready"} in the swarm: bring it back, or leave it out with --nodes, before a roll`,
      );
    todo.push({ n, steps, act });
  }
  const managers = nodes.filter((n) => n.role === "manager");
  const ready = managers.filter(readyManager);
  const need = majority(managers.length);
  const mgrTodo = todo.filter((t) => t.n.role === "manager").sort((a, b) => Number(a.n.leader) - Number(b.n.leader));
  if (managers.length === 1 && mgrTodo.length === 1)
    notes.push(
      `the swarm has a single manager: while ${mgrTodo[0].n.name} is maintained there is no control plane (running services go on; nothing can be deployed or rescheduled). With 3 managers a roll keeps a majority`,
    );
  else
    for (const t of mgrTodo) {
      // A manager that is already down costs no further Ready manager.
      const left = ready.length - (readyManager(t.n) ? 1 : 0);
      if (left < need)
        refusals.push(
          `maintaining manager ${t.n.name} would leave ${left} of ${managers.length} managers Ready, below the Raft majority of ${need}${
            ready.length < managers.length
              ? ` (not Ready now: ${managers
                  .filter((m) => !readyManager(m))
                  .map((m) => m.name)
                  .join(", ")})`
              : ""
          }: ${managers.length % 2 === 0 ? `run an odd number of managers (${managers.length + 1})` : "bring the other managers back first"}`,
        );
    }
  const planned = (t: { n: NodeView; steps: string[]; act: number }): PlannedNode => ({
    name: t.n.name,
    role: t.n.role,
    steps: ["drain", ...t.steps, "wait until Ready, firewall and encryption rules back", "reactivate", "verify"],
    estimate: { drain: ESTIMATE_S.drain, act: t.act, ready: ESTIMATE_S.ready, verify: ESTIMATE_S.verify },
  });
  const batches: PlannedNode[][] = mgrTodo.map((t) => [planned(t)]);
  const workers = todo.filter((t) => t.n.role === "worker");
  const size = Math.max(1, Math.floor(r.maxUnavailable) || 1);
  for (let i = 0; i < workers.length; i += size) batches.push(workers.slice(i, i + size).map(planned));
  return { rollId, resumed, batches, skipped, downtime: downtimeOf(batches, nodes, services), notes, refusals };
}

/** Seconds a node is out: drain, act and ready (its tasks come back once it is reactivated). */
export function outageSeconds(p: PlannedNode): number {
  return p.estimate.drain + p.estimate.act + p.estimate.ready;
}

function downtimeOf(
  batches: readonly (readonly PlannedNode[])[],
  nodes: readonly NodeView[],
  services: readonly ServiceView[],
): Downtime[] {
  const out: Downtime[] = [];
  for (const batch of batches) {
    const names = batch.map((p) => p.name);
    const seconds = Math.max(...batch.map(outageSeconds));
    for (const p of batch) {
      const view = nodes.find((n) => n.name === p.name);
      for (const pin of heldPins(view?.labels ?? {}))
        for (const stack of pin.stacks) out.push({ node: p.name, what: stack, seconds, why: "pinned" });
    }
    for (const s of services) {
      const what = s.stack ?? s.name;
      if (s.replicas === undefined || s.runningOn.length === 0) continue;
      // Every running task is on this batch: nothing answers until one is rescheduled (or, pinned, back).
      if (s.runningOn.every((n) => names.includes(n)) && !out.some((d) => d.what === what && names.includes(d.node)))
        out.push({ node: s.runningOn[0], what, seconds: ESTIMATE_S.drain, why: "single-replica" });
    }
  }
  return out;
}

/** The sentence announced before starting, one per stack and node. */
export function describeDowntime(d: Downtime): string {
  return d.why === "pinned"
    ? `${d.what} will be unavailable for about ${d.seconds} s while ${d.node} is maintained (its data is pinned there)`
    : `${d.what} has all its tasks on ${d.node}: it is down for about ${d.seconds} s while they move to another node`;
}
