/** The rolling planner (rolling/plan.ts): order, quorum, maxUnavailable, resume and the downtime it announces. */
import {
  describeDowntime,
  ESTIMATE_S,
  LABEL_ROLL,
  majority,
  NodeView,
  planRoll,
  RollRequest,
  ServiceView,
} from "../../rolling/plan";

const restart: RollRequest = { restartEngine: true, os: false, rebootIfNeeded: false, maxUnavailable: 1 };

function node(name: string, o: Partial<NodeView> = {}): NodeView {
  return {
    name,
    role: name.startsWith("manager") ? "manager" : "worker",
    status: "ready",
    availability: "active",
    ...(name.startsWith("manager") ? { reachability: "reachable" } : {}),
    leader: false,
    labels: {},
    pending: [],
    rebootRequired: false,
    ...o,
  };
}

const cluster = (managers: number, workers: number, leader = "manager-1"): NodeView[] => [
  ...Array.from({ length: managers }, (_, i) => node(`manager-${i + 1}`, { leader: `manager-${i + 1}` === leader })),
  ...Array.from({ length: workers }, (_, i) => node(`worker-${i + 1}`)),
];

const order = (p: ReturnType<typeof planRoll>) => p.batches.map((b) => b.map((n) => n.name));

describe("rolling plan", () => {
  it("majority: a Raft majority of all managers", () => {
    expect([1, 2, 3, 4, 5, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4]);
  });

  it("managers first, one at a time, the leader last; then workers in inventory order", () => {
    const p = planRoll("r1", cluster(3, 3, "manager-1"), [], restart);
    expect(p.refusals).toEqual([]);
    expect(order(p)).toEqual([["manager-2"], ["manager-3"], ["manager-1"], ["worker-1"], ["worker-2"], ["worker-3"]]);
  });

  it("workers go maxUnavailable at a time; managers stay one at a time whatever maxUnavailable says", () => {
    const p = planRoll("r1", cluster(3, 5, "manager-2"), [], { ...restart, maxUnavailable: 2 });
    expect(order(p)).toEqual([
      ["manager-1"],
      ["manager-3"],
      ["manager-2"],
      ["worker-1", "worker-2"],
      ["worker-3", "worker-4"],
      ["worker-5"],
    ]);
  });

  it("refuses a manager whose maintenance would break the majority, naming the managers not Ready", () => {
    const nodes = cluster(3, 1);
    nodes[2] = { ...nodes[2], status: "down", reachability: "unreachable" };
    const p = planRoll("r1", nodes, [], { ...restart, nodes: ["manager-1", "manager-2"] });
    expect(p.refusals).toEqual([
      expect.stringMatching(
        /^maintaining manager manager-2 would leave 1 of 3 managers Ready, below the Raft majority of 2 \(not Ready now: manager-3\)/,
      ),
      expect.stringMatching(/^maintaining manager manager-1 would leave 1 of 3/),
    ]);
  });

  it("an even manager count cannot lose one: 2 managers are refused, with the way out", () => {
    const p = planRoll("r1", cluster(2, 0), [], restart);
    expect(p.refusals[0]).toMatch(
      /would leave 1 of 2 managers Ready, below the Raft majority of 2: run an odd number of managers \(3\)/,
    );
  });

  it("a down manager being resumed costs no further Ready manager", () => {
    const nodes = cluster(3, 0);
    nodes[1] = { ...nodes[1], status: "down", reachability: "unreachable", labels: { [LABEL_ROLL]: "r1:pending" } };
    const p = planRoll("r1", nodes, [], restart);
    expect(p.refusals).toEqual([
      expect.stringMatching(/maintaining manager manager-3 would leave 1 of 3/),
      expect.stringMatching(/manager-1 would leave 1/),
    ]);
    expect(p.refusals.join()).not.toMatch(/manager-2 would/);
  });

  it("a single manager is allowed, and the plan says there is no control plane meanwhile", () => {
    const p = planRoll("r1", cluster(1, 2), [], restart);
    expect(p.refusals).toEqual([]);
    expect(p.notes[0]).toMatch(/single manager: while manager-1 is maintained there is no control plane/);
  });

  it("skips nodes that need nothing; pending node-spec changes make a node roll without any flag", () => {
    const nodes = cluster(1, 2);
    nodes[2] = { ...nodes[2], pending: ["daemon-json: /etc/docker/daemon.json: x set"] };
    const p = planRoll("r1", nodes, [], { ...restart, restartEngine: false });
    expect(order(p)).toEqual([["worker-2"]]);
    expect(p.batches[0][0].steps).toEqual(
      expect.arrayContaining(["daemon-json: /etc/docker/daemon.json: x set", "restart dockerd"]),
    );
    expect(p.skipped.map((s) => s.name)).toEqual(["manager-1", "worker-1"]);
  });

  it("resumes: done nodes of the same roll are skipped while another still shows pending; another roll's labels do not count", () => {
    const nodes = cluster(1, 2).map((n) => ({
      ...n,
      labels: { [LABEL_ROLL]: n.name === "worker-1" ? "r1:pending" : n.name === "worker-2" ? "r0:done" : "r1:done" },
    }));
    const p = planRoll("r1", nodes, [], restart);
    expect(p.resumed).toBe(true);
    expect(order(p)).toEqual([["worker-1"], ["worker-2"]]);
    expect(p.skipped).toEqual([{ name: "manager-1", why: "done by the interrupted run of this roll" }]);
    // Every node done: a new run of the same request is a fresh roll.
    const fresh = planRoll(
      "r1",
      cluster(1, 1).map((n) => ({ ...n, labels: { [LABEL_ROLL]: "r1:done" } })),
      [],
      restart,
    );
    expect(fresh.resumed).toBe(false);
    expect(order(fresh)).toEqual([["manager-1"], ["worker-1"]]);
  });

  it("refuses nodes that are down (unless resumed), not members, or unknown to the inventory", () => {
    const nodes = cluster(1, 2);
    nodes[1] = { ...nodes[1], status: "down" };
    nodes[2] = { ...nodes[2], status: undefined };
    const p = planRoll("r1", nodes, [], { ...restart, nodes: ["worker-1", "worker-2", "worker-9"] });
    expect(p.refusals).toEqual([
      "--nodes names worker-9, which is not in the inventory",
      expect.stringMatching(/^worker-1 is down in the swarm: bring it back, or leave it out with --nodes/),
      "worker-2 is not a member of the swarm: run bootstrap first",
    ]);
    expect(planRoll("r1", cluster(1, 1), [], { ...restart, maxUnavailable: 0 }).refusals).toEqual([
      "maxUnavailable must be a whole number of at least 1, got 0",
    ]);
  });

  it("announces the downtime of stacks pinned to a node, with the node's estimate; replicated services stay up", () => {
    const nodes = cluster(1, 2);
    nodes[1] = { ...nodes[1], labels: { "hcloud-swarm.pin.wordpress-data": "wordpress" } };
    const services: ServiceView[] = [
      { name: "wordpress_db", stack: "wordpress", replicas: 1, runningOn: ["worker-1"] },
      { name: "web", replicas: 2, runningOn: ["worker-1", "worker-2"] },
      { name: "cron", replicas: 1, runningOn: ["worker-2"] },
      { name: "agent", runningOn: ["manager-1", "worker-1", "worker-2"] },
    ];
    const p = planRoll("r1", nodes, services, { ...restart, os: true });
    const out = ESTIMATE_S.drain + ESTIMATE_S.os + ESTIMATE_S.restartEngine + ESTIMATE_S.ready;
    expect(p.downtime).toEqual([
      { node: "worker-1", what: "wordpress", seconds: out, why: "pinned" },
      { node: "worker-2", what: "cron", seconds: ESTIMATE_S.drain, why: "single-replica" },
    ]);
    expect(describeDowntime(p.downtime[0])).toBe(
      `wordpress will be unavailable for about ${out} s while worker-1 is maintained (its data is pinned there)`,
    );
    expect(p.downtime.map((d) => d.what)).not.toContain("web");
  });

  it("with two workers maintained together, a service whose tasks are all on that batch is announced down", () => {
    const services: ServiceView[] = [{ name: "web", replicas: 2, runningOn: ["worker-1", "worker-2"] }];
    const p = planRoll("r1", cluster(1, 2), services, { ...restart, maxUnavailable: 2 });
    expect(p.downtime).toEqual([{ node: "worker-1", what: "web", seconds: ESTIMATE_S.drain, why: "single-replica" }]);
  });
});
