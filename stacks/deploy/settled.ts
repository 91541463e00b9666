// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The fast path of a redeploy that changed nothing. Deploy waits STABLE_MS for the same tasks to run
 * because a task that crashes right after a change is reported running for a moment. A deploy that
 * applied no action and left every service's spec version and update state as they were has changed
 * nothing, so there is nothing new to watch: the window has already passed when every task that
 * should run has been running for STABLE_MS by the manager's own clock. This is decided from those
 * facts, read after the deploy; when any one is missing, deploy waits as usual.
 */
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import { replicas, STACK_LABEL, stackTasks, type ServiceFacts } from "../../swarm/facts";
import { STABLE_MS, type ConvergeReport } from "./converge";

/**
 * Docker's update states after which a service's tasks no longer change by themselves ("" = never
 * updated). An array, not a Set: the Stacks provider serializes this module (docs/design/dynamic-providers.md, rule 1).
 */
const SETTLED_UPDATE_STATES: readonly string[] = ["", "completed", "rollback_completed"];

export type SettledCheck =
  { readonly settled: true; readonly report: ConvergeReport } | { readonly settled: false; readonly why: string };

/**
 * Whether the stack, left unchanged by a deploy that applied no action, is already converged.
 * `before` are the stack's services as read before the deploy.
 */
export async function settledWithoutChange(
  s: SshSession,
  stack: string,
  before: readonly ServiceFacts[],
  expectedServices: number,
): Promise<SettledCheck> {
  const started = Date.now();
  const filter = shellQuote(`label=${STACK_LABEL}=${stack}`);
  // The manager's clock first: task timestamps are the swarm's, not this machine's.
  const r = await s.run(
    `date +%s%3N; ids=$(docker service ls -q --filter ${filter}); [ -z "$ids" ] || docker service inspect --format '{{.ID}} {{.Version.Index}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' $ids`,
  );
  const [clock, ...lines] = r.stdout.split("\n").filter(Boolean);
  const now = Number(clock);
  const after = lines.map((l) => {
    const [id, version, state = ""] = l.trim().split(" ");
    return { id, version: Number(version), state };
  });
  const versionBefore = new Map(before.map((b) => [b.id, b.version]));
  const no = (why: string): SettledCheck => ({ settled: false, why });
  if (!Number.isFinite(now) || now <= 0) return no(`the manager's clock could not be read (${clock ?? "nothing"})`);
  if (after.length < expectedServices || after.length !== before.length)
    return no(`${before.length} service(s) before the deploy, ${after.length} after`);
  const changed = after.filter((a) => versionBefore.get(a.id) !== a.version);
  if (changed.length > 0) return no(`the spec of ${changed.length} service(s) changed`);
  const updating = after.filter((a) => !SETTLED_UPDATE_STATES.includes(a.state));
  if (updating.length > 0)
    return no(`${updating.length} service(s) still updating (${updating.map((u) => u.state).join(", ")})`);
  const behind = (await replicas(s, stack)).filter((x) => x.running < x.desired);
  if (behind.length > 0) return no(`${behind.map((b) => `${b.name} ${b.running}/${b.desired}`).join(", ")} running`);
  const live = (await stackTasks(s, stack)).filter((t) => t.desired === "running");
  // A task stamped in the future (a node's clock ahead of the manager's) is not counted as settled.
  const fresh = live.filter((t) => t.state !== "running" || !(t.at > 0 && now - t.at >= STABLE_MS));
  if (live.length === 0 || fresh.length > 0)
    return no(`${fresh.length} of ${live.length} task(s) not yet running for ${STABLE_MS / 1000} s`);
  return {
    settled: true,
    report: {
      converged: true,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      stoppedEarly: false,
      failing: [],
    },
  };
}
