// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Waits until every service of a stack runs its desired number of tasks (the same tasks on every
 * read through STABLE_MS), saying what it waits for as it changes (one line per change: each service's running/desired tasks and its latest
 * task's state or error). It stops early when waiting cannot help: when task-verdict.ts judges a
 * service's failure permanent on two reads in a row (a second read confirms it is not a moment
 * caught mid-change). Slow but healthy starts keep the full timeout.
 */
import type { SshSession } from "../../transport/ssh";
import { readNodes, replicas, stackServices, stackTasks } from "../../swarm/facts";
import { judgeService, type Verdict } from "./task-verdict";
import { sleep } from "../../common/time";

/** Image pulls on a fresh node can take a minute or two; longer than this means something is wrong. */
export const CONVERGE_TIMEOUT_MS = 180_000;
/** Poll interval: the reads are cheap, and tasks start within seconds. */
const POLL_MS = 1_000;
/**
 * How long the same tasks must be seen running before a stack counts as converged: Docker's own
 * window (its CLI prints "Waiting 5 seconds to verify that tasks are stable" before "Service
 * converged", the default update monitor). Why not one poll: a container that exits at once is
 * still reported running until its node's report of the exit reaches the manager, and in CI that
 * took longer than one poll (a service whose tasks all crashed counted as converged).
 */
export const STABLE_MS = 5_000;

export interface FailingService {
  readonly service: string;
  readonly running: number;
  readonly desired: number;
  /** The latest task's state and error, as shown while waiting. */
  readonly detail: string;
  /** Why waiting cannot help, and the fix; absent when the deploy simply ran out of time. */
  readonly reason?: string;
  readonly fix?: string;
}

export interface ConvergeReport {
  readonly converged: boolean;
  readonly seconds: number;
  /** True when deploy stopped before the timeout because waiting could not help. */
  readonly stoppedEarly: boolean;
  /** Services not at their desired count. */
  readonly failing: readonly FailingService[];
}

export async function waitForConvergence(
  s: SshSession,
  stack: string,
  expectedServices: number,
  opts: { readonly timeoutMs?: number; readonly log?: (line: string) => void } = {},
): Promise<ConvergeReport> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? CONVERGE_TIMEOUT_MS);
  let reported = "";
  let permanentBefore = new Set<string>();
  // undefined: not all services ran at the last read, so nothing has been stable yet.
  let runningBefore: string | undefined;
  let runningSince = 0;
  for (;;) {
    const reps = await replicas(s, stack);
    const behind = reps.filter((r) => r.running < r.desired);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    if (reps.length >= expectedServices && behind.length === 0) {
      // Converged only when the same tasks run on every read through STABLE_MS: a task that
      // crashes right after it started is caught running, and its service has not converged.
      const running = await runningTasks(s, stack);
      if (running !== runningBefore) {
        runningBefore = running;
        runningSince = Date.now();
      } else if (Date.now() - runningSince >= STABLE_MS) {
        opts.log?.(`${stack}: ${reps.length} service(s) converged in ${seconds} s`);
        return { converged: true, seconds, stoppedEarly: false, failing: [] };
      }
      if (Date.now() + POLL_MS > deadline) {
        const detail = `running, but its tasks did not stay the same for ${STABLE_MS / 1000} s (restarting?)`;
        return {
          converged: false,
          seconds,
          stoppedEarly: false,
          failing: reps.map((r) => ({ service: r.name, running: r.running, desired: r.desired, detail })),
        };
      }
      await sleep(POLL_MS);
      continue;
    }
    runningBefore = undefined;
    const verdicts = await judge(
      s,
      stack,
      behind.map((b) => b.name),
    );
    const line =
      reps.length === 0
        ? "services to appear"
        : reps
            .map(
              (r) =>
                `${r.name} ${r.running}/${r.desired}${verdicts.has(r.name) ? ` (${verdicts.get(r.name)?.detail})` : ""}`,
            )
            .join(", ");
    if (line !== reported) opts.log?.(`${stack}: waiting for ${line}`);
    reported = line;
    const permanent = new Set([...verdicts].filter(([, v]) => v.kind === "permanent").map(([name]) => name));
    const confirmed = [...permanent].filter((n) => permanentBefore.has(n));
    permanentBefore = permanent;
    const outOfTime = Date.now() + POLL_MS > deadline;
    if (confirmed.length > 0 || outOfTime) {
      const failing = behind.map((b): FailingService => {
        const v = verdicts.get(b.name) as Verdict | undefined;
        return {
          service: b.name,
          running: b.running,
          desired: b.desired,
          detail: v?.detail ?? "",
          ...(v?.kind === "permanent" ? { reason: v.reason, fix: v.fix } : {}),
        };
      });
      return { converged: false, seconds, stoppedEarly: confirmed.length > 0, failing };
    }
    await sleep(POLL_MS);
  }
}

/** The IDs of the stack's running tasks that should run, as one comparable text. */
async function runningTasks(s: SshSession, stack: string): Promise<string> {
  const tasks = await stackTasks(s, stack);
  return tasks
    .filter((t) => t.state === "running" && t.desired === "running")
    .map((t) => t.id)
    .sort()
    .join(",");
}

/** Verdicts for the services that are behind, from their tasks and the nodes as they are now. */
async function judge(s: SshSession, stack: string, behind: readonly string[]): Promise<Map<string, Verdict>> {
  const out = new Map<string, Verdict>();
  if (behind.length === 0) return out;
  const [services, tasks, nodes] = await Promise.all([stackServices(s, stack), stackTasks(s, stack), readNodes(s)]);
  const names = new Map(nodes.map((n) => [n.id, n.hostname]));
  const nodeName = (id: string) => names.get(id) ?? id.slice(0, 12);
  for (const svc of services.filter((x) => behind.includes(x.name)))
    out.set(svc.name, judgeService(svc, tasks, nodes, nodeName));
  return out;
}

export function describeConvergence(stack: string, r: ConvergeReport): string[] {
  if (r.converged) return [`stack ${stack}: all services converged (${r.seconds} s)`];
  const head = r.stoppedEarly
    ? `stack ${stack}: stopped waiting after ${r.seconds} s, because waiting cannot help:`
    : `stack ${stack}: NOT converged after ${r.seconds} s (timeout):`;
  return [
    head,
    ...r.failing.flatMap((f) => [
      `  ${f.service}: ${f.running}/${f.desired} running${f.reason ? `: ${f.reason}` : f.detail ? `; latest task: ${f.detail}` : ""}`,
      ...(f.fix ? [`    fix: ${f.fix}`] : []),
    ]),
  ];
}
