// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Why a service does not run yet, and whether waiting can still help, judged from facts Docker
 * reports (its tasks, its constraints, the nodes), never from how long we have waited:
 * - "no suitable node" is permanent when no node that meets the service's constraints is active
 *   (only drained or paused ones do, or none at all); otherwise (ports, resources, a node that is
 *   down but may come back) the scheduler may still place it;
 * - a node-side error that Docker has met on PERMANENT_AFTER_ATTEMPTS tasks in a row (an image
 *   that cannot be found or pulled, a mount whose source does not exist) is permanent: Docker
 *   retried and got the same answer;
 * - a service whose tasks Docker has stopped restarting (its restart policy gave up) is permanent;
 * - anything else (a pull in progress, a container that exits and is restarted) is worth waiting
 *   for, up to the deploy's timeout.
 * The error texts are those the engine reports in a task's Status.Err (recorded from a real swarm
 * in test/unit/fixtures/task-errors.json). Pure.
 */
import type { NodeFacts, ServiceFacts, TaskFacts } from "../../swarm/facts";
import { matchesAll, parseConstraint, type Constraint } from "../placement/constraints";
import { takesTasks } from "../placement/placement";

/**
 * Three tasks in a row with the same node-side error: the first attempt and two retries, which
 * Docker spaces by its restart delay (5 s by default), so a broken image stops deploy in about
 * 10–15 s, and a node that merely hiccupped once does not.
 */
export const PERMANENT_AFTER_ATTEMPTS = 3;

export type Verdict =
  | { readonly kind: "waiting"; readonly detail: string }
  | { readonly kind: "permanent"; readonly detail: string; readonly reason: string; readonly fix: string };

interface ErrorClass {
  readonly test: RegExp;
  readonly reason: (svc: ServiceFacts, err: string, tries: string) => string;
  readonly fix: string;
}

/** Node-side errors that do not change by retrying on the same nodes. */
const NODE_SIDE: readonly ErrorClass[] = [
  {
    // The engine pulls first and only logs a failed pull; creating the container then says this.
    test: /^No such image: /,
    reason: (svc, err, tries) => `image ${imageOf(err, svc)} cannot be found or pulled: ${tries}: ${err}`,
    fix: "check the image name and tag in the stack file; a private registry needs `docker login` on every node",
  },
  {
    test: /^invalid mount config\b/,
    reason: (_svc, err, tries) => `invalid mount: ${tries}: ${err}`,
    fix: "create the source path on the nodes the service may run on, constrain the service to the node that has it, or use a volume",
  },
];

// An array, not a Set: module values are copied into the serialized provider (docs/design/dynamic-providers.md, rule 1).
const STOPPED: readonly string[] = ["shutdown", "remove", "complete", "orphaned"];

function imageOf(err: string, svc: ServiceFacts): string {
  return /^No such image: (\S+)/.exec(err)?.[1] ?? svc.image;
}

function constraintsOf(svc: ServiceFacts): Constraint[] {
  return svc.constraints.flatMap((c) => {
    const p = parseConstraint(c);
    return p.ok ? [p.constraint] : [];
  });
}

/**
 * Judges one service that runs fewer tasks than desired, from the stack's tasks and the swarm's
 * nodes as they are now; `nodeName` turns a node ID into the name users know.
 */
export function judgeService(
  svc: ServiceFacts,
  tasks: readonly TaskFacts[],
  nodes: readonly NodeFacts[],
  nodeName: (id: string) => string,
): Verdict {
  // Tasks of the current spec: created since the manager last changed it.
  const current = tasks
    .filter((t) => t.serviceId === svc.id && t.created >= svc.updatedAt)
    .sort((a, b) => b.at - a.at || b.created - a.created);
  const latest = current[0];
  if (!latest) return { kind: "waiting", detail: "no task yet" };
  const where = latest.nodeId ? ` on ${nodeName(latest.nodeId)}` : "";
  const detail = `${latest.state}${where}${latest.err ? `: ${latest.err}` : ""}`;

  if (latest.err.startsWith("no suitable node")) {
    const cs = constraintsOf(svc);
    const fit = nodes.filter((n) => matchesAll(cs, n));
    // A matching node that is down but active may come back by itself (a reboot); a drained or
    // paused one only when someone makes it active again.
    if (!fit.some((n) => takesTasks(n) || n.availability === "active")) {
      const which = fit.map((n) => `${nodeName(n.id)} (${n.status}, ${n.availability})`);
      return {
        kind: "permanent",
        detail,
        reason: `no ready, active node meets its placement constraints (${svc.constraints.join(", ") || "none"})${which.length ? `; only ${which.join(", ")} would` : ""}: ${latest.err}`,
        fix: which.length
          ? "make that node active again (docker node update --availability active NODE)"
          : "fix the constraints in the stack file, or label a node that should run it",
      };
    }
  }

  const cls = NODE_SIDE.find((c) => c.test.test(latest.err));
  if (cls) {
    // The run of most recent tasks that all failed with this same kind of error.
    const run: TaskFacts[] = [];
    for (const t of current) {
      if (!cls.test.test(t.err)) break;
      run.push(t);
    }
    if (run.length >= PERMANENT_AFTER_ATTEMPTS) {
      const on = [...new Set(run.map((t) => (t.nodeId ? nodeName(t.nodeId) : "no node")))].join(", ");
      return {
        kind: "permanent",
        detail,
        reason: cls.reason(svc, latest.err, `Docker tried ${run.length} times (on ${on})`),
        fix: cls.fix,
      };
    }
  }

  if (current.every((t) => STOPPED.includes(t.desired))) {
    return {
      kind: "permanent",
      detail,
      reason: `Docker stopped starting new tasks (its restart policy gave up); the last one ended ${latest.state}${latest.err ? `: ${latest.err}` : ""}`,
      fix: "fix the cause above (the service's logs: docker service logs SERVICE) and deploy again",
    };
  }
  return { kind: "waiting", detail };
}
