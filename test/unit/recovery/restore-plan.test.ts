import { planRestore } from "../../../recovery/restore-plan";
import type { Manifest } from "../../../recovery/manifest";
import type { Inventory, InventoryNode } from "../../../inventory/inventory";
import type { Observation } from "../../../bootstrap/plan";
import type { SwarmInfo } from "../../../bootstrap/swarm-state";

const node = (name: string, role: "manager" | "worker", i: number): InventoryNode => ({
  name,
  role,
  host: `10.0.0.${i}`,
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAA",
  advertiseAddress: `10.0.0.${i}`,
  labels: {},
});
const inv: Inventory = {
  cluster: "prod",
  nodes: [
    node("manager-1", "manager", 1),
    node("manager-2", "manager", 2),
    node("manager-3", "manager", 3),
    node("worker-1", "worker", 4),
  ],
};
const manifest = {
  cluster: "prod",
  clusterId: "abc",
  createdAt: "2026-12-07T20:00:00Z",
  source: { node: "manager-2", nodeId: "n2", advertiseAddress: "10.0.0.2" },
  nodes: [],
  files: [{ path: "swarm/raft/x", bytes: 1, sha256: "0".repeat(64) }],
  dockerVersion: "20.10",
} as unknown as Manifest;
const info = (state: SwarmInfo["state"], extra: Partial<SwarmInfo> = {}): Observation => ({
  reachable: true,
  info: { state, nodeId: "", controlAvailable: false, remoteManagers: [], error: "", ...extra },
});
const wiped = () => new Map<string, Observation>(inv.nodes.map((n) => [n.name, info("inactive")]));
const flags = { force: false, otherCluster: false };

describe("planRestore", () => {
  it("restores onto the manager the backup came from, after a wipe, with nobody to make leave", () => {
    const p = planRestore(inv, manifest, wiped(), flags, "a.hswb");
    expect(p.refusals).toEqual([]);
    expect(p.target?.name).toBe("manager-2");
    expect(p.leave).toEqual([]);
    expect(p.steps.join("\n")).toMatch(/manager-2: docker swarm init --force-new-cluster --advertise-addr 10\.0\.0\.2/);
  });

  it("takes another manager when the source is gone, and leaves out unreachable nodes", () => {
    const obs = wiped();
    obs.set("manager-2", { reachable: false, error: "connect ECONNREFUSED" });
    const p = planRestore(inv, manifest, obs, flags, "a.hswb");
    expect(p.target?.name).toBe("manager-1");
    expect(p.unreachable).toEqual(["manager-2"]);
  });

  it("refuses a running swarm without --force; with it, the other members leave first", () => {
    const obs = wiped();
    obs.set("manager-1", info("active", { controlAvailable: true, clusterId: "live", nodeId: "n1" }));
    obs.set("worker-1", info("active", { nodeId: "w1" }));
    const refused = planRestore(inv, manifest, obs, flags, "a.hswb");
    expect(refused.refusals).toEqual([
      expect.stringMatching(/the swarm is running: manager-1 is an active manager of swarm live .*pass --force/),
    ]);
    const forced = planRestore(inv, manifest, obs, { ...flags, force: true }, "a.hswb");
    expect(forced.refusals).toEqual([]);
    expect(forced.leave.map((n) => n.name)).toEqual(["manager-1", "worker-1"]);
  });

  it("does not count a manager without a leader (lost quorum) as a running swarm", () => {
    const obs = wiped();
    obs.set(
      "manager-1",
      info("active", { controlAvailable: true, nodeId: "n1", error: "The swarm does not have a leader" }),
    );
    expect(planRestore(inv, manifest, obs, flags, "a.hswb").refusals).toEqual([]);
  });

  it("refuses another cluster's backup unless told to, and reports every refusal at once", () => {
    const obs = wiped();
    obs.set("manager-1", info("active", { controlAvailable: true, clusterId: "live" }));
    const foreign = { ...manifest, cluster: "staging" } as Manifest;
    const p = planRestore(inv, foreign, obs, flags, "a.hswb");
    expect(p.refusals).toHaveLength(2);
    expect(p.refusals[0]).toMatch(
      /a\.hswb is a backup of cluster "staging" \(swarm abc\), but the inventory is cluster "prod"; pass --other-cluster/,
    );
    expect(planRestore(inv, foreign, wiped(), { force: false, otherCluster: true }, "a.hswb").refusals).toEqual([]);
  });

  it("refuses when no manager can be reached", () => {
    const obs = new Map<string, Observation>(inv.nodes.map((n) => [n.name, { reachable: false, error: "timeout" }]));
    expect(planRestore(inv, manifest, obs, flags, "a.hswb").refusals).toEqual([
      expect.stringMatching(/no manager of the inventory can be reached over SSH: manager-1 \(timeout\)/),
    ]);
  });
});
