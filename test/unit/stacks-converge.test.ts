/**
 * Why a service does not run, judged from task records a real swarm produced: the fixture is
 * written by test/integration/pins.test.ts (HCLOUD_SWARM_RECORD_TASK_ERRORS=…) from the tasks,
 * services and nodes Docker reported for each failure, not written by hand.
 */
import * as fs from "fs";
import * as path from "path";
import type { NodeFacts, ServiceFacts, TaskFacts } from "../../swarm/facts";
import { describeConvergence } from "../../stacks/deploy/converge";
import { judgeService, PERMANENT_AFTER_ATTEMPTS } from "../../stacks/deploy/task-verdict";

interface Recording {
  readonly services: ServiceFacts[];
  readonly tasks: TaskFacts[];
  readonly nodes: NodeFacts[];
}

const recorded = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "task-errors.json"), "utf8")) as Record<
  string,
  Recording
>;

function judge(name: string, pick: (r: Recording) => Recording = (r) => r, service?: string) {
  const r = pick(recorded[name]);
  const svc = service ? (r.services.find((x) => x.name === service) as ServiceFacts) : r.services[0];
  const names = new Map(r.nodes.map((n) => [n.id, n.hostname]));
  return judgeService(svc, r.tasks, r.nodes, (id) => names.get(id) ?? id);
}

/**
 * The same recording as it was when only the oldest `n` tasks existed: the newest of them was then
 * the live one, with the desired state the recording's live task has.
 */
const firstTasks =
  (n: number) =>
  (r: Recording): Recording => {
    const byAge = [...r.tasks].sort((a, b) => a.created - b.created);
    const live = byAge[byAge.length - 1].desired;
    return { ...r, tasks: byAge.slice(0, n).map((t, i) => (i === n - 1 ? { ...t, desired: live } : t)) };
  };

describe("judging a service that does not run", () => {
  it("holds real records of each failure", () => {
    expect(Object.keys(recorded).sort()).toEqual([
      "invalid-mount",
      "no-such-image",
      "pinned-node-removed",
      "restart-policy-gave-up",
      "slow-start",
    ]);
  });

  it("calls an image that cannot be found permanent once Docker has tried it three times, naming the image", () => {
    expect(judge("no-such-image")).toEqual({
      kind: "permanent",
      detail: expect.stringMatching(/^rejected on \S+: No such image: registry\.example\.invalid\/no-such-image:1\.0$/),
      reason: expect.stringMatching(
        /^image registry\.example\.invalid\/no-such-image:1\.0 cannot be found or pulled: Docker tried 3 times \(on .+\): No such image: /,
      ),
      fix: expect.stringMatching(/check the image name and tag/),
    });
  });

  it("keeps waiting while Docker has tried fewer times", () => {
    for (let n = 1; n < PERMANENT_AFTER_ATTEMPTS; n++)
      expect(judge("no-such-image", firstTasks(n)).kind).toBe("waiting");
  });

  it("calls a mount of a missing source permanent after the retries, with the fix", () => {
    expect(judge("invalid-mount")).toMatchObject({
      kind: "permanent",
      reason: expect.stringMatching(
        /^invalid mount: Docker tried 3 times .*bind source path does not exist: \/nonexistent\/hsw-data$/,
      ),
    });
    expect(judge("invalid-mount", firstTasks(2)).kind).toBe("waiting");
  });

  it("calls a service permanent when its restart policy gave up, and not while a task may still start", () => {
    expect(judge("restart-policy-gave-up")).toMatchObject({
      kind: "permanent",
      reason: expect.stringMatching(/restart policy gave up.*task: non-zero exit \(3\)/),
    });
    // The first failure alone, while its desired state still says "running"?
    const live = (r: Recording): Recording => ({
      ...r,
      tasks: r.tasks.map((t, i) => (i === 0 ? { ...t, desired: "running" } : t)),
    });
    expect(judge("restart-policy-gave-up", live).kind).toBe("waiting");
  });

  it("calls 'no suitable node' permanent when no ready, active node meets the constraints, and waits when one does", () => {
    const pinned = recorded["pinned-node-removed"];
    const db = pinned.services.find((x) => x.name === "wordpress_db") as ServiceFacts;
    expect(judge("pinned-node-removed", (r) => r, "wordpress_db")).toMatchObject({
      kind: "permanent",
      reason: expect.stringMatching(
        /^no ready, active node meets its placement constraints \(node\.labels\.wordpress-data == true\): no suitable node/,
      ),
    });
    // The same tasks, but a node now carries the label: the scheduler can still place it.
    const labelled = (r: Recording): Recording => ({
      ...r,
      nodes: r.nodes.map((n, i) => (i === 0 ? { ...n, labels: { ...n.labels, "wordpress-data": "true" } } : n)),
    });
    expect(judge("pinned-node-removed", labelled, db.name).kind).toBe("waiting");
    // The labelled node is down but active: it may come back by itself, so waiting may help.
    const down = (r: Recording): Recording =>
      labelled({ ...r, nodes: r.nodes.map((n, i) => (i === 0 ? { ...n, status: "down" } : n)) });
    expect(judge("pinned-node-removed", down, db.name).kind).toBe("waiting");
    // Drained, it takes no task until someone makes it active again.
    const drained = (r: Recording): Recording =>
      labelled({ ...r, nodes: r.nodes.map((n, i) => (i === 0 ? { ...n, availability: "drain" } : n)) });
    expect(judge("pinned-node-removed", drained, db.name)).toMatchObject({
      kind: "permanent",
      reason: expect.stringMatching(/; only \S+ \(ready, drain\) would: /),
      fix: expect.stringMatching(/--availability active/),
    });
  });

  it("does not count tasks of an earlier version of the service", () => {
    const newer = (r: Recording): Recording => ({
      ...r,
      services: r.services.map((x) => ({ ...x, updatedAt: Math.max(...r.tasks.map((t) => t.created)) + 1 })),
    });
    expect(judge("no-such-image", newer)).toEqual({ kind: "waiting", detail: "no task yet" });
  });

  it("reports a stop with each service's reason and fix", () => {
    const lines = describeConvergence("bad", {
      converged: false,
      seconds: 8.4,
      stoppedEarly: true,
      failing: [
        {
          service: "bad_app",
          running: 0,
          desired: 1,
          detail: "rejected",
          reason: "image x cannot be found or pulled",
          fix: "check the image name",
        },
      ],
    });
    expect(lines).toEqual([
      "stack bad: stopped waiting after 8.4 s, because waiting cannot help:",
      "  bad_app: 0/1 running: image x cannot be found or pulled",
      "    fix: check the image name",
    ]);
  });
});
