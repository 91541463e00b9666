// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The last step of a run: every member's labels (the inventory's, the SSH bookkeeping labels and
 * the host firewall's) in one command on the manager (swarm/label-batch), one `docker node update`
 * per node, all at once. Nothing in the run reads them back, so they wait for nothing else.
 */
import { AllowListContext, AllowListRun, recordLabels } from "./allow-list";
import { LABEL_HOST_KEY, LABEL_SSH, Step } from "./plan";
import { redact } from "../transport/redact";

/** The inventory's labels and the collected firewall labels, one `docker node update` per node, all in one command. */
export async function writeLabels(
  run: AllowListRun,
  allow: AllowListContext,
  steps: ReadonlyArray<Extract<Step, { kind: "label" }>>,
): Promise<void> {
  let failed: Record<string, string>;
  try {
    failed = await recordLabels(allow, steps);
  } catch (err) {
    run.problems.push(
      `labelling ${steps.map((s) => s.node).join(", ") || "the members"} failed: ${redact((err as Error).message)}`,
    );
    return;
  }
  for (const step of steps) {
    if (failed[step.id] !== undefined) {
      run.problems.push(`label ${step.node} failed: ${redact(failed[step.id])}`);
      continue;
    }
    const own = Object.entries(step.labels).filter(([k]) => k !== LABEL_SSH && k !== LABEL_HOST_KEY);
    const bookkeeping = own.length < Object.keys(step.labels).length ? "ssh address and host key" : "";
    run.act({
      node: step.node,
      kind: "label",
      detail: [...own.map(([k, v]) => `${k}=${v}`), bookkeeping].filter((x) => x).join(", "),
    });
  }
}
