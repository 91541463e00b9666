import { parseSwarmInfo } from "../../bootstrap/swarm-state";
import { parseNodeInspect } from "../../swarm/nodes";
import { formatActions } from "../../bootstrap/actions";
import { limiter, mapLimit } from "../../common/concurrency";

describe("reading docker's swarm state", () => {
  it("reads an active manager from docker info", () => {
    const text = JSON.stringify({
      NodeID: "n1",
      NodeAddr: "10.0.0.2",
      LocalNodeState: "active",
      ControlAvailable: true,
      Error: "",
      RemoteManagers: [{ NodeID: "n1", Addr: "10.0.0.2:2377" }],
      Cluster: { ID: "c1" },
    });
    expect(parseSwarmInfo(text, "manager-1")).toEqual({
      state: "active",
      nodeId: "n1",
      controlAvailable: true,
      clusterId: "c1",
      remoteManagers: ["10.0.0.2:2377"],
      error: "",
      // No Spec.EncryptionConfig.AutoLockManagers in what the cluster says: autolock is off.
      autolock: false,
    });
  });

  it("reads an inactive engine, which has no cluster", () => {
    const text = JSON.stringify({
      NodeID: "",
      NodeAddr: "",
      LocalNodeState: "inactive",
      ControlAvailable: false,
      Error: "",
      RemoteManagers: null,
    });
    expect(parseSwarmInfo(text, "worker-1")).toEqual({
      state: "inactive",
      nodeId: "",
      controlAvailable: false,
      remoteManagers: [],
      error: "",
    });
  });

  it("names the node when docker info prints something unexpected", () => {
    expect(() => parseSwarmInfo("Cannot connect to the Docker daemon", "worker-3")).toThrow(/worker-3/);
    expect(() => parseSwarmInfo('{"LocalNodeState":"weird"}', "worker-3")).toThrow(
      /unexpected swarm state "weird" reported by docker on worker-3/,
    );
  });

  it("reads members, taking a manager's address from its manager status", () => {
    const text = JSON.stringify([
      {
        ID: "a",
        Spec: { Role: "manager", Availability: "active", Labels: {} },
        Description: { Hostname: "manager-1" },
        Status: { State: "ready", Addr: "0.0.0.0" },
        ManagerStatus: { Leader: true, Reachability: "reachable", Addr: "10.0.0.2:2377" },
      },
      {
        ID: "b",
        Spec: { Role: "worker", Availability: "drain", Labels: { edge: "true" } },
        Description: { Hostname: "worker-1" },
        Status: { State: "down", Addr: "10.0.0.3" },
      },
    ]);
    expect(parseNodeInspect(text)).toEqual([
      {
        id: "a",
        hostname: "manager-1",
        role: "manager",
        availability: "active",
        status: "ready",
        addr: "10.0.0.2",
        reachability: "reachable",
        leader: true,
        os: "",
        arch: "",
        labels: {},
        engineLabels: {},
        engineVersion: "",
      },
      {
        id: "b",
        hostname: "worker-1",
        role: "worker",
        availability: "drain",
        status: "down",
        addr: "10.0.0.3",
        leader: false,
        os: "",
        arch: "",
        labels: { edge: "true" },
        engineLabels: {},
        engineVersion: "",
      },
    ]);
  });
});

describe("action list", () => {
  it("says so when nothing was changed", () => {
    expect(formatActions([])).toBe("no changes: the swarm already matches the inventory");
  });

  it("lists each action with its node", () => {
    expect(formatActions([{ node: "worker-1", kind: "join", detail: "joined as worker via manager-1" }])).toMatch(
      /1 action taken:\n {2}worker-1 +join +joined as worker via manager-1/,
    );
  });
});

describe("bounded concurrency", () => {
  it("never runs more than the limit at once and keeps the order of results", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 6], 2, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x * 3));
      running--;
      return x * 10;
    });
    expect(peak).toBe(2);
    expect(out).toEqual([50, 10, 40, 20, 30, 60]);
  });

  it("lets at most `limit` tasks through a shared gate at once", async () => {
    const gate = limiter(3);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        gate(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5 + (i % 3)));
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});
