/**
 * Waits until every service of a stack runs its desired number of tasks, or says which did not
 * and why, from `docker service ps --no-trunc`.
 */
import type { SshSession } from "../transport/ssh";
import { replicas, taskProblems } from "./cluster";
import { sleep } from "../common/time";

/** Image pulls on a fresh node can take a minute or two; longer than this means something is wrong. */
export const CONVERGE_TIMEOUT_MS = 180_000;
/** Poll interval: `docker stack services` is cheap, and tasks start within seconds. */
const POLL_MS = 1_000;

export interface ConvergeReport {
  readonly converged: boolean;
  readonly seconds: number;
  /** Services not at their desired count, each with the reasons Docker gives. */
  readonly failing: ReadonlyArray<{ readonly service: string; readonly running: number; readonly desired: number; readonly problems: readonly string[] }>;
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
  for (;;) {
    const reps = await replicas(s, stack);
    const behind = reps.filter((r) => r.running < r.desired);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    if (reps.length >= expectedServices && behind.length === 0) {
      opts.log?.(`${stack}: ${reps.length} service(s) converged in ${seconds} s`);
      return { converged: true, seconds, failing: [] };
    }
    const status = behind.map((b) => `${b.name} ${b.running}/${b.desired}`).join(", ");
    if (status !== reported) opts.log?.(`${stack}: waiting for ${status || "services to appear"}`);
    reported = status;
    if (Date.now() + POLL_MS > deadline) {
      const failing = [];
      for (const b of behind) failing.push({ service: b.name, running: b.running, desired: b.desired, problems: await taskProblems(s, b.name) });
      return { converged: false, seconds, failing };
    }
    await sleep(POLL_MS);
  }
}

export function describeConvergence(stack: string, r: ConvergeReport): string[] {
  if (r.converged) return [`stack ${stack}: all services converged (${r.seconds} s)`];
  return [
    `stack ${stack}: NOT converged after ${r.seconds} s:`,
    ...r.failing.flatMap((f) => [`  ${f.service}: ${f.running}/${f.desired} running`, ...f.problems.map((p) => `    ${p}`)]),
  ];
}
