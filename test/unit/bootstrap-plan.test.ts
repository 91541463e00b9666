import { Inventory, InventoryNode } from "../../inventory/inventory";
import {
  awaitsLeader,
  checkManagerChanges,
  chooseEntry,
  departedTarget,
  desiredLabels,
  LABEL_HOST_KEY,
  LABEL_SSH,
  matchMembers,
  nodesToInspect,
  Observation,
  planMembership,
  planRemovals,
  planRolesAndLabels,
} from "../../bootstrap/plan";
import { SwarmInfo } from "../../bootstrap/swarm-state";
import type { NodeFacts } from "../../swarm/nodes";

const node = (
  name: string,
  role: "manager" | "worker",
  octet: number,
  labels: Record<string, string> = {},
): InventoryNode => ({
  name,
  role,
  host: `10.9.0.${octet}`,
  port: 22,
  user: "root",
  hostKey: `ssh-ed25519 AAAAkey${octet} root@${name}`,
  advertiseAddress: `10.9.0.${octet}`,
  labels,
});
const bookkeeping = (n: InventoryNode) => ({
  [LABEL_SSH]: `root@${n.host}:22`,
  [LABEL_HOST_KEY]: n.hostKey.split(" ").slice(0, 2).join(" "),
});
const inv = (...nodes: InventoryNode[]): Inventory => ({ nodes });
const m1 = node("manager-1", "manager", 11);
const m2 = node("manager-2", "manager", 12);
const m3 = node("manager-3", "manager", 13);
const w1 = node("worker-1", "worker", 21, { edge: "true" });
const w2 = node("worker-2", "worker", 22);

const member = (n: InventoryNode | string, id: string, over: Partial<NodeFacts> = {}): NodeFacts => {
  const isNode = typeof n !== "string";
  const role = isNode ? n.role : "worker";
  return {
    id,
    hostname: isNode ? n.name : n,
    role,
    availability: "active",
    status: "ready",
    addr: isNode ? n.advertiseAddress : "10.9.0.99",
    ...(role === "manager" ? { reachability: "reachable" } : {}),
    leader: false,
    os: "linux",
    arch: "x86_64",
    labels: {},
    engineLabels: {},
    ...over,
  };
};
const info = (over: Partial<SwarmInfo> = {}): SwarmInfo => ({
  state: "inactive",
  nodeId: "",
  controlAvailable: false,
  remoteManagers: [],
  error: "",
  ...over,
});
const up = (i: Partial<SwarmInfo> = {}): Observation => ({ reachable: true, info: info(i) });
const down = (error = "connect ECONNREFUSED"): Observation => ({ reachable: false, error });
const activeMgr = (id: string, cluster = "C1") =>
  up({ state: "active", nodeId: id, controlAvailable: true, clusterId: cluster });

describe("choosing the entry manager", () => {
  it("inits on the first manager when every manager is reachable and none is in a swarm", () => {
    const e = chooseEntry(
      inv(m1, m2, m3, w1),
      new Map([
        ["manager-1", up()],
        ["manager-2", up()],
        ["manager-3", up()],
      ]),
    );
    expect(e).toEqual({ kind: "init", node: m1 });
  });

  it("never inits while a manager is unreachable, because it may hold the swarm", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-1", down()],
        ["manager-2", up()],
        ["manager-3", up()],
      ]),
    );
    expect(e.kind).toBe("fail");
    expect((e as { problem: string }).problem).toMatch(/cannot reach manager-1: connect ECONNREFUSED/);
  });

  it("serves through another manager when the first one is unreachable", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-1", down()],
        ["manager-2", activeMgr("B")],
        ["manager-3", activeMgr("C")],
      ]),
    );
    expect(e).toEqual({ kind: "serve", node: m2, clusterId: "C1" });
  });

  it("refuses managers that belong to different swarms, naming them", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-1", activeMgr("A", "X")],
        ["manager-2", activeMgr("B", "Y")],
        ["manager-3", up()],
      ]),
    );
    expect((e as { problem: string }).problem).toMatch(/manager-1 \(cluster X\), manager-2 \(cluster Y\)/);
  });

  it("refuses to init when a manager is a worker of some swarm", () => {
    const e = chooseEntry(inv(m1), new Map([["manager-1", up({ state: "active", nodeId: "Z" })]]));
    expect((e as { problem: string }).problem).toMatch(
      /manager-1 is active in a swarm but not as a manager of it; run `docker swarm leave --force` on it/,
    );
  });

  // What docker reported on the bed while the swarm had no leader (after the leader's power cut).
  const electing = (
    id: string,
    error = "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.",
  ) => up({ state: "active", nodeId: id, controlAvailable: true, error });

  it("never counts a manager without a leader as serving, and never calls a majority of such managers 'not in a swarm'", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-1", down()],
        ["manager-2", electing("B")],
        ["manager-3", electing("C", "rpc error: code = DeadlineExceeded desc = context deadline exceeded")],
      ]),
    );
    expect(e.kind).toBe("fail");
    const problem = (e as { problem: string }).problem;
    expect(problem).not.toMatch(/no reachable manager is in a swarm/);
    expect(problem).toMatch(
      /^no manager can serve this run, and bootstrap will not create a new swarm while a manager is or may be in one: /,
    );
    // Every manager is named with its reason; the electing ones quote docker.
    expect(problem).toMatch(/cannot reach manager-1: connect ECONNREFUSED/);
    expect(problem).toMatch(
      /manager-2 is a manager of a swarm but no leader answered while bootstrap waited \(docker: rpc error: code = Unknown desc = The swarm does not have a leader/,
    );
    expect(problem).toMatch(
      /manager-3 is a manager of a swarm but no leader answered .*context deadline exceeded.*lost quorum.*--force-new-cluster` on manager-3/,
    );
  });

  it("serves through a manager whose leader answers, whatever the others report", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-1", electing("A")],
        ["manager-2", down()],
        ["manager-3", activeMgr("C")],
      ]),
    );
    expect(e).toEqual({ kind: "serve", node: m3, clusterId: "C1" });
  });

  it("names a manager that had not answered yet as such, not as absent from a swarm", () => {
    const e = chooseEntry(
      inv(m1, m2, m3),
      new Map([
        ["manager-2", up()],
        ["manager-3", up()],
      ]),
    );
    expect((e as { problem: string }).problem).toMatch(
      /manager-1 was still being inspected when the run had to decide; manager-2 is not in a swarm; manager-3 is not in a swarm$/,
    );
  });

  it("tells an election from a normal manager", () => {
    const infoOf = (o: Observation) => (o as { info: SwarmInfo }).info;
    expect(awaitsLeader(infoOf(electing("B")))).toBe(true);
    expect(awaitsLeader(infoOf(activeMgr("B")))).toBe(false);
    expect(awaitsLeader(info({ state: "active", nodeId: "W" }))).toBe(false);
  });
});

describe("membership", () => {
  it("matches members by hostname or address and prefers ready entries over stale ones", () => {
    const stale = member(w1, "OLD", { status: "down" });
    const fresh = member(w1, "NEW", { hostname: "something-else" });
    expect(matchMembers(inv(m1, w1), [stale, fresh]).get("worker-1")?.id).toBe("NEW");
  });

  it("matches a member whose hostname and address differ by its SSH bookkeeping label", () => {
    const m = member("dev-worker-1", "W1", { addr: "192.0.2.1", labels: { [LABEL_SSH]: "root@10.9.0.21:22" } });
    expect(matchMembers(inv(m1, w1), [m]).get("worker-1")?.id).toBe("W1");
    expect(planRemovals(inv(m1, w1), [member(m1, "A"), m])).toEqual([]);
  });

  it("keeps a member that has just joined and not yet reported its hostname or address, by its node ID", () => {
    // What a manager lists for a node in the first moments after its join.
    const fresh = member("", "W2", { addr: "0.0.0.0", status: "unknown" });
    const obs = new Map([["worker-2", up({ state: "active", nodeId: "W2" })]]);
    expect(planRemovals(inv(m1, w2), [member(m1, "A"), fresh], obs)).toEqual([]);
    // Without the ID the same member looks like a stranger: the test above can fail.
    expect(planRemovals(inv(m1, w2), [member(m1, "A"), fresh]).map((s) => s.kind === "remove" && s.entry.id)).toEqual([
      "W2",
    ]);
  });

  it("reaches only nodes that are not ready members", () => {
    const members = [member(m1, "A"), member(w1, "W1"), member(w2, "W2", { status: "down" })];
    expect(nodesToInspect(inv(m1, w1, w2, node("worker-3", "worker", 23)), members).map((n) => n.name)).toEqual([
      "worker-2",
      "worker-3",
    ]);
  });

  it("joins inactive nodes, managers first, and leaves members alone", () => {
    const members = [member(m1, "A"), member(w1, "W1")];
    const obs = new Map([
      ["manager-2", up()],
      ["manager-3", up()],
      ["worker-2", up()],
    ]);
    const plan = planMembership(inv(m1, w2, m2, m3, w1), members, obs, m1);
    expect(plan.steps.map((s) => s.kind === "join" && `${s.node.name}:${s.role}`)).toEqual([
      "manager-2:manager",
      "manager-3:manager",
      "worker-2:worker",
    ]);
    expect(plan.problems).toEqual([]);
  });

  it("tells a node removed from this swarm (still pointing at our managers) apart from a foreign one", () => {
    const plan = planMembership(
      inv(m1, w2),
      [member(m1, "A")],
      new Map([["worker-2", up({ state: "active", nodeId: "GONE", remoteManagers: ["10.9.0.11:2377"] })]]),
      m1,
    );
    expect(plan.problems[0]).toMatch(
      /worker-2 was removed from this swarm but its engine still believes it is a member/,
    );
  });

  it("refuses a node active in a different swarm instead of re-joining it", () => {
    const plan = planMembership(
      inv(m1, w2),
      [member(m1, "A")],
      new Map([["worker-2", up({ state: "active", nodeId: "FOREIGN", remoteManagers: ["10.1.1.1:2377"] })]]),
      m1,
    );
    expect(plan.steps).toEqual([]);
    expect(plan.problems[0]).toMatch(
      /worker-2 is active in a different swarm \(node FOREIGN, managers 10.1.1.1:2377\)/,
    );
  });

  it("reports unreachable and failing nodes but still joins the others", () => {
    const obs = new Map<string, Observation>([
      ["worker-1", down("host key mismatch for worker-1")],
      ["worker-2", up()],
      ["manager-2", up({ state: "error", nodeId: "OTHER", remoteManagers: ["10.1.1.1:2377"], error: "tls" })],
    ]);
    const plan = planMembership(inv(m1, m2, w1, w2), [member(m1, "A")], obs, m1);
    expect(plan.steps.map((s) => s.kind === "join" && s.node.name)).toEqual(["worker-2"]);
    expect(plan.problems.join("\n")).toMatch(/cannot reach worker-1: host key mismatch/);
    expect(plan.problems.join("\n")).toMatch(/docker on manager-2 reports a swarm error: tls/);
  });

  it("joins again, after leaving the attempt, a node whose own join never finished: error or pending with no certificate, or with an ID unknown here and our managers", () => {
    const deadline = "rpc error: code = DeadlineExceeded desc = context deadline exceeded";
    const obs = new Map<string, Observation>([
      ["worker-1", up({ state: "error", error: deadline })],
      ["worker-2", up({ state: "pending", nodeId: "HALF", remoteManagers: ["10.9.0.11:2377"] })],
    ]);
    const plan = planMembership(inv(m1, w1, w2), [member(m1, "A")], obs, m1);
    expect(plan.problems).toEqual([]);
    expect(plan.steps).toEqual([
      { kind: "join", node: w1, role: "worker", reset: `error: ${deadline}` },
      { kind: "join", node: w2, role: "worker", reset: "pending" },
    ]);
  });

  it("never resets an engine that another swarm or this one's members hold: error with a foreign ID, pending as a known member", () => {
    const obs = new Map<string, Observation>([
      ["worker-1", up({ state: "error", nodeId: "FOREIGN", remoteManagers: ["10.1.1.1:2377"], error: "tls" })],
      ["worker-2", up({ state: "pending", nodeId: "W2", remoteManagers: ["10.9.0.11:2377"] })],
    ]);
    const plan = planMembership(inv(m1, w1, w2), [member(m1, "A"), member(w2, "W2", { status: "down" })], obs, m1);
    expect(plan.steps).toEqual([]);
    expect(plan.problems).toEqual([
      expect.stringMatching(
        /^docker on worker-1 reports a swarm error: tls; fix it or run `docker swarm leave --force` there/,
      ),
      expect.stringMatching(
        /^worker-2 is a member of this swarm \(node W2\) that is still connecting to it \(pending\)/,
      ),
    ]);
  });

  it("takes no step when a node is active with an ID the swarm knows", () => {
    const plan = planMembership(
      inv(m1, w1),
      [member(m1, "A"), member(w1, "W1", { status: "down" })],
      new Map([["worker-1", up({ state: "active", nodeId: "W1" })]]),
      m1,
    );
    expect(plan).toEqual({ steps: [], problems: [] });
  });
});

describe("roles and labels", () => {
  it("adds missing or different labels, with the SSH bookkeeping labels, and never removes others", () => {
    const steps = planRolesAndLabels(inv(m1, w1), [
      member(m1, "A", { labels: bookkeeping(m1) }),
      member(w1, "W1", { labels: { edge: "false", team: "x", ...bookkeeping(w1) } }),
    ]);
    expect(steps).toEqual([{ kind: "label", node: "worker-1", id: "W1", labels: { edge: "true" } }]);
  });

  it("labels a new member with how to reach it and its pinned host key, without the key comment", () => {
    expect(desiredLabels(w1)).toEqual({
      edge: "true",
      [LABEL_SSH]: "root@10.9.0.21:22",
      [LABEL_HOST_KEY]: "ssh-ed25519 AAAAkey21",
    });
  });

  it("finds a departed member again from its labels, and not without them", () => {
    const m = member(w2, "W2", { labels: bookkeeping(w2) });
    expect(departedTarget(m)).toEqual({
      name: "worker-2",
      user: "root",
      host: "10.9.0.22",
      port: 22,
      hostKey: "ssh-ed25519 AAAAkey22",
    });
    expect(departedTarget(member(w2, "W2"))).toBeUndefined();
  });

  it("promotes and demotes members whose inventory role changed, promotions first", () => {
    const steps = planRolesAndLabels(inv(m1, node("manager-2", "worker", 12), node("worker-2", "manager", 22)), [
      member(m1, "A", { labels: bookkeeping(m1) }),
      member(m2, "B", { labels: bookkeeping(m2) }),
      member(w2, "W2", { labels: bookkeeping(w2) }),
    ]);
    expect(steps.map((s) => `${s.kind} ${s.node}`)).toEqual(["promote worker-2", "demote manager-2"]);
  });

  it("takes no step on a cluster that matches the inventory", () => {
    expect(
      planRolesAndLabels(inv(m1, w1), [
        member(m1, "A", { labels: bookkeeping(m1) }),
        member(w1, "W1", { labels: { edge: "true", ...bookkeeping(w1) } }),
      ]),
    ).toEqual([]);
  });
});

describe("scale-down and quorum", () => {
  it("removes members that left the inventory, workers first, then unreachable managers", () => {
    const members = [
      member(m1, "A"),
      member(m2, "B"),
      member(m3, "C", { reachability: "unreachable", status: "down" }),
      member(w1, "W1"),
    ];
    expect(planRemovals(inv(m1), members).map((s) => s.node)).toEqual(["worker-1", "manager-3", "manager-2"]);
  });

  it("removes a stale entry once the node re-joined under a new ID", () => {
    const members = [member(m1, "A"), member(w1, "OLD", { status: "down" }), member(w1, "NEW")];
    expect(planRemovals(inv(m1, w1), members).map((s) => s.kind === "remove" && s.entry.id)).toEqual(["OLD"]);
  });

  it("refuses an even number of managers", () => {
    expect(checkManagerChanges(inv(m1, m2, w1), [], [])[0]).toMatch(/the inventory has 2 managers; use an odd number/);
  });

  it("allows going from 3 managers to 1", () => {
    const members = [member(m1, "A"), member(m2, "B"), member(m3, "C")];
    expect(checkManagerChanges(inv(m1), members, planRemovals(inv(m1), members))).toEqual([]);
  });

  it("refuses a removal that would lose quorum", () => {
    // 3 managers, one already unreachable; removing a reachable one leaves 1 of 2 reachable.
    const members = [member(m1, "A"), member(m2, "B"), member(m3, "C", { reachability: "unreachable" })];
    const steps = [{ kind: "remove" as const, node: "manager-2", entry: members[1] }];
    expect(checkManagerChanges(inv(m1, m3, node("manager-4", "manager", 14)), members, steps)[0]).toMatch(
      /refusing to remove manager-2: 1 of the remaining 2 managers would be reachable/,
    );
  });

  it("refuses to remove the last manager", () => {
    const members = [member(m2, "B")];
    const steps = [{ kind: "remove" as const, node: "manager-2", entry: members[0] }];
    expect(checkManagerChanges(inv(m1), members, steps)).toContain(
      "refusing to remove manager-2: it is the last manager",
    );
  });

  it("reports a swarm that has already lost quorum", () => {
    const members = [
      member(m1, "A"),
      member(m2, "B", { reachability: "unreachable" }),
      member(m3, "C", { reachability: "unreachable" }),
    ];
    expect(checkManagerChanges(inv(m1, m2, m3), members, [])[0]).toMatch(/lost quorum: 1 of 3 managers/);
  });
});
