// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * A bootstrap run's node reconcile step (nodespec/): every ready member in scope gets one read and,
 * where it differs from the inventory's nodeSpec, the in-place changes (admin keys, kernel
 * modules' boot file). Changes that need the engine restarted are never made here: they are
 * warnings that name `hcloud-swarm upgrade`, which drains the node first. Nodes that run the spec
 * record it (file and LABEL_SPEC label); the label is written with the run's other labels.
 */
import type { AllowListRun } from "./allow-list";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { NodeFacts } from "../swarm/nodes";
import type { Step } from "./plan";
import { matchMembers } from "./plan";
import { reconcileNode } from "../nodespec/reconcile";
import { LABEL_SPEC } from "../nodespec/spec";
import { redact } from "../transport/redact";
import { SshSession, waitForSsh } from "../transport/ssh";
import { FIREWALL_SSH_WAIT_MS } from "./allow-list";

type LabelStep = Extract<Step, { kind: "label" }>;

/** Reconciles `nodes` (inventory nodes in scope); returns label steps for the spec each now runs. */
export async function reconcileSpecs(
  run: AllowListRun,
  inv: Inventory,
  nodes: readonly InventoryNode[],
  members: readonly NodeFacts[],
  gate: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<LabelStep[]> {
  const spec = inv.nodeSpec;
  const matched = matchMembers(inv, members);
  const labels: LabelStep[] = [];
  await Promise.all(
    nodes.map((n) =>
      gate(async () => {
        const m = matched.get(n.name);
        if (!m || m.status !== "ready") return;
        try {
          const s = await sessionOf(run, n);
          const r = await reconcileNode(s, spec ?? {}, { record: spec !== undefined });
          for (const c of r.applied) run.act({ node: n.name, kind: "reconcile", detail: `${c.item}: ${c.detail}` });
          for (const note of r.notes) run.log(`[${n.name}] node spec: ${note}`);
          for (const p of r.pending)
            run.warnings.push(
              `${n.name}: ${p.item} differs (${p.detail}); that needs the node drained: run \`hcloud-swarm upgrade --inventory FILE\` to roll it one node at a time`,
            );
          if (spec !== undefined && r.label !== undefined && m.labels[LABEL_SPEC] !== r.label)
            labels.push({ kind: "label", node: n.name, id: m.id, labels: { [LABEL_SPEC]: r.label } });
        } catch (err) {
          run.problems.push(`the node spec of ${n.name} could not be reconciled: ${redact((err as Error).message)}`);
        }
      }),
    ),
  );
  return labels;
}

async function sessionOf(run: AllowListRun, n: InventoryNode): Promise<SshSession> {
  const open = run.sessions.get(n.name);
  if (open?.isOpen()) return open;
  const s = await waitForSsh(n, run.o.privateKeyFor(n), {
    log: (l) => run.log(l),
    trace: run.o.trace,
    timeoutMs: FIREWALL_SSH_WAIT_MS,
  });
  run.keep(n.name, s);
  return s;
}

/** The run's label steps with the spec labels merged in (one update per node). */
export function withSpecLabels(steps: readonly LabelStep[], spec: readonly LabelStep[]): LabelStep[] {
  const out = steps.map((s) => ({ ...s, labels: { ...s.labels } }));
  for (const l of spec) {
    const same = out.find((s) => s.id === l.id);
    if (same) Object.assign(same.labels, l.labels);
    else out.push(l);
  }
  return out;
}
