/**
 * `hcloud-swarm bootstrap --dry-run`: inspect as a run does (SSH with pinned host keys, cloud-init,
 * `docker info`, the members and ingress as the serving manager reads them), plan with the same pure
 * planners (./plan), and act on nothing. Reads only: no init, join, label, firewall or removal.
 *
 * It follows the first half of ./bootstrap.ts `reconcile` step for step; a change to how a run inspects or
 * plans belongs in both. What a run decides only after acting (labels of nodes that have just
 * joined) is planned here from the inventory (desiredLabels). The run also opens sessions to the
 * members that must admit newcomers while it inspects them, and checks every member's host
 * firewall at its end; a dry run opens and changes nothing for that.
 */
import type { ActionKind } from "./actions";
import { Inventory, InventoryNode } from "../inventory/inventory";
import {
  chooseEntry,
  checkManagerChanges,
  desiredLabels,
  LABEL_HOST_KEY,
  LABEL_SSH,
  matchMembers,
  pinRefusals,
  planMembership,
  planRemovals,
  planRolesAndLabels,
  Step,
} from "./plan";
import {
  BootstrapOptions,
  DEFAULT_OVERLAY_MTU,
  DOWN_NODE_SSH_WAIT_MS,
  inspectManagers,
  JOIN_CONCURRENCY,
  Run,
} from "./bootstrap";
import { limiter } from "../common/concurrency";
import { cliEscape, unknownForced } from "./force-remove";
import { readIngress } from "./swarm-ops";
import { readNodes, type NodeFacts } from "../swarm/nodes";
import type { SshSession } from "../transport/ssh";

export interface PlannedStep {
  readonly node: string;
  readonly kind: ActionKind;
  readonly detail: string;
}

export interface BootstrapPlan {
  /** The manager a run would go through, and whether it would create the swarm there; undefined when none can serve. */
  readonly entry?: { readonly node: string; readonly creates: boolean };
  /** What a run would do, in the order it would do it; empty when the swarm already matches. */
  readonly steps: readonly PlannedStep[];
  /** What a run would refuse or fail on; a run with any of these exits 1. */
  readonly problems: readonly string[];
  /** Things a run would leave as they are, e.g. a listed member that is down. */
  readonly warnings: readonly string[];
}

function labelDetail(labels: Readonly<Record<string, string>>): string {
  const own = Object.entries(labels).filter(([k]) => k !== LABEL_SSH && k !== LABEL_HOST_KEY);
  const bookkeeping = own.length < Object.keys(labels).length ? "ssh address and host key" : "";
  return [...own.map(([k, v]) => `${k}=${v}`), bookkeeping].filter((x) => x).join(", ");
}

function describe(step: Step, entry: string): PlannedStep {
  switch (step.kind) {
    case "join":
      return {
        node: step.node.name,
        kind: "join",
        detail: `join as ${step.role} via ${entry}${step.reset ? ` (leaving its unfinished join first: ${step.reset})` : ""}; every member's host firewall admits it first`,
      };
    case "promote":
    case "demote":
      return {
        node: step.node,
        kind: step.kind,
        detail: step.kind === "promote" ? "worker → manager" : "manager → worker",
      };
    case "label":
      return { node: step.node, kind: "label", detail: labelDetail(step.labels) };
    case "remove":
      return {
        node: step.node,
        kind: "remove",
        detail: `${step.entry.role === "manager" ? "demote, " : ""}drain, leave and docker node rm (it left the inventory)`,
      };
  }
}

/** Plans a bootstrap run of the whole inventory without changing anything. Never throws for what a run would refuse: that is a problem in the plan. */
export async function planBootstrap(inv: Inventory, o: BootstrapOptions): Promise<BootstrapPlan> {
  const run = new Run(o);
  try {
    const refusals = checkManagerChanges(inv, [], []);
    if (refusals.length) return { steps: [], problems: refusals, warnings: [] };
    const pending = await inspectManagers(
      run,
      inv.nodes.filter((n) => n.role === "manager"),
    );
    const entry = chooseEntry(inv, run.obs);
    if (entry.kind === "fail") return { steps: [], problems: [entry.problem], warnings: [] };
    const manager = run.sessions.get(entry.node.name) as SshSession;
    const steps: PlannedStep[] = [];
    const mtu = inv.swarm?.overlayMtu ?? DEFAULT_OVERLAY_MTU;
    let members: NodeFacts[] = [];
    if (entry.kind === "init") {
      steps.push({
        node: entry.node.name,
        kind: "init",
        detail: `swarm init --advertise-addr ${entry.node.advertiseAddress}${inv.swarm?.defaultAddrPool ? ` --default-addr-pool ${inv.swarm.defaultAddrPool}` : ""}`,
      });
      steps.push({
        node: entry.node.name,
        kind: "ingress",
        detail: `ingress network recreated encrypted, com.docker.network.driver.mtu=${mtu}`,
      });
    } else {
      const ingress = await readIngress(manager);
      if (!(ingress.exists && ingress.encrypted && ingress.mtu === String(mtu)))
        steps.push({
          node: entry.node.name,
          kind: "ingress",
          detail: `ingress network recreated encrypted, com.docker.network.driver.mtu=${mtu}`,
        });
      members = await readNodes(manager);
    }
    const matched = matchMembers(inv, members, run.obs);
    const todo = inv.nodes.filter((n) => n.name !== entry.node.name && matched.get(n.name)?.status !== "ready");
    const downButListed = (n: InventoryNode) => matched.get(n.name) !== undefined;
    for (const [name, p] of pending) if (!todo.some((n) => n.name === name)) p.abort.abort();
    const gate = limiter(o.concurrency ?? JOIN_CONCURRENCY);
    await Promise.all(
      todo.map(
        (n) =>
          pending.get(n.name)?.done ??
          gate(() => run.inspect(n, downButListed(n) ? DOWN_NODE_SSH_WAIT_MS : o.sshWaitTimeoutMs)),
      ),
    );
    const warnings: string[] = [];
    const considered = todo.filter((n) => {
      const ob = run.obs.get(n.name);
      if (downButListed(n) && ob && !ob.reachable) {
        warnings.push(
          `${n.name} is listed as ${matched.get(n.name)?.status} in the swarm and does not answer (${ob.error}); left as it is`,
        );
        return false;
      }
      return true;
    });
    const scope: Inventory = {
      ...inv,
      nodes: inv.nodes.filter((n) => n.name === entry.node.name || considered.includes(n) || !todo.includes(n)),
    };
    const membership = planMembership(scope, members, run.obs, entry.node);
    const roles = planRolesAndLabels(scope, members);
    const removals = planRemovals(inv, members, run.obs);
    const problems = [
      ...checkManagerChanges(inv, members, [...membership.steps, ...roles, ...removals]),
      ...unknownForced(o.forceRemove ?? [], [...inv.nodes.map((n) => n.name), ...members.map((m) => m.hostname)]),
      ...pinRefusals(removals, o.forceRemove ?? [], cliEscape),
      ...membership.problems,
    ];
    const joins = membership.steps.filter((s): s is Extract<Step, { kind: "join" }> => s.kind === "join");
    steps.push(
      ...[...joins, ...roles.filter((s) => s.kind !== "label"), ...removals].map((s) => describe(s, entry.node.name)),
    );
    // A run writes every label last, in one command (./write-labels): those of new members (and the
    // first manager after init) from the inventory here, as they have no labels yet.
    const fresh = [...(entry.kind === "init" ? [entry.node] : []), ...joins.map((s) => s.node)];
    steps.push(...fresh.map((n) => ({ node: n.name, kind: "label" as const, detail: labelDetail(desiredLabels(n)) })));
    steps.push(...roles.filter((s) => s.kind === "label").map((s) => describe(s, entry.node.name)));
    return { entry: { node: entry.node.name, creates: entry.kind === "init" }, steps, problems, warnings };
  } finally {
    run.closeAll();
  }
}

/** The dry run as the CLI prints it. */
export function formatPlan(plan: BootstrapPlan): string[] {
  const out: string[] = [];
  if (plan.entry)
    out.push(
      plan.entry.creates
        ? `dry run: no swarm yet; a run would create it on ${plan.entry.node}`
        : `dry run: a run would go through ${plan.entry.node}`,
    );
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  if (plan.steps.length === 0 && plan.problems.length === 0)
    out.push("no changes: the swarm already matches the inventory");
  else if (plan.steps.length > 0)
    out.push(
      `${plan.steps.length} action${plan.steps.length === 1 ? "" : "s"} a run would take:`,
      ...plan.steps.map((s) => `  ${s.node.padEnd(16)} ${s.kind.padEnd(8)} ${s.detail}`),
    );
  if (plan.problems.length > 0)
    out.push(
      `a run would fail with ${plan.problems.length} problem${plan.problems.length === 1 ? "" : "s"}:`,
      ...plan.problems.map((p) => `  - ${p}`),
    );
  out.push("nothing was changed (--dry-run)");
  return out;
}
