import { compareRaft, parseRaftListing, planRecover, RaftPosition } from "../../../recovery/recover-plan";
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
  nodes: [1, 2, 3, 4, 5].map((i) => node(`manager-${i}`, "manager", i)).concat([node("worker-1", "worker", 9)]),
};
const info = (state: SwarmInfo["state"], extra: Partial<SwarmInfo> = {}): Observation => ({
  reachable: true,
  info: { state, nodeId: "", controlAvailable: false, remoteManagers: [], error: "", ...extra },
});
const noLeader = () => info("active", { controlAvailable: true, error: "The swarm does not have a leader" });
const gone = (): Observation => ({ reachable: false, error: "connect ETIMEDOUT" });
const pos = (snapshotTerm: number, snapshotIndex: number, walStartIndex: number, walBytes: number): RaftPosition => ({
  snapshotTerm,
  snapshotIndex,
  walStartIndex,
  walBytes,
});

describe("parseRaftListing", () => {
  it("reads the newest snapshot's term and index and the last WAL segment's start index from the file names", () => {
    const text =
      "0000000000000002-0000000000002710.snap\n0000000000000003-0000000000004e20.snap\n---\n0000000000000000-0000000000000000.wal\n0000000000000001-0000000000004e21.wal\n---\n128000012\twal-v3-encrypted\n";
    expect(parseRaftListing(text, "m")).toEqual(pos(3, 20000, 20001, 128000012));
  });
  it("accepts a manager without a snapshot yet, and refuses a directory without WAL", () => {
    expect(parseRaftListing("---\n0000000000000000-0000000000000000.wal\n---\n64000000\twal\n", "m")).toEqual(
      pos(0, 0, 0, 64000000),
    );
    expect(() => parseRaftListing("---\n---\n4096\twal\n", "manager-2")).toThrow(
      /cannot read the Raft log of manager-2/,
    );
  });
});

describe("planRecover", () => {
  it("forces the new cluster on the survivor with the newest Raft state, not the first one", () => {
    const obs = new Map<string, Observation>([
      ["manager-1", noLeader()],
      ["manager-2", noLeader()],
      ["manager-3", gone()],
      ["manager-4", gone()],
      ["manager-5", gone()],
      ["worker-1", info("active", { nodeId: "w" })],
    ]);
    const raft = new Map([
      ["manager-1", pos(3, 20000, 20001, 500)],
      ["manager-2", pos(3, 20000, 20001, 900)],
    ]);
    const p = planRecover(inv, obs, raft);
    expect(p.kind).toBe("force");
    if (p.kind !== "force") return;
    expect(p.survivor.name).toBe("manager-2");
    expect(p.rejoin.map((n) => n.name)).toEqual(["manager-1"]);
    expect(p.lost).toEqual(["manager-3", "manager-4", "manager-5"]);
    expect(p.steps.join("\n")).toMatch(
      /manager-2: docker swarm init --force-new-cluster --advertise-addr 10\.0\.0\.2[\s\S]*manager-1: docker swarm leave --force/,
    );
  });

  it("orders Raft positions by snapshot term, then index, then WAL start, then WAL size", () => {
    expect(compareRaft(pos(4, 0, 0, 0), pos(3, 99, 99, 99))).toBeGreaterThan(0);
    expect(compareRaft(pos(3, 10, 0, 0), pos(3, 9, 99, 99))).toBeGreaterThan(0);
    expect(compareRaft(pos(3, 10, 11, 0), pos(3, 10, 10, 99))).toBeGreaterThan(0);
    expect(compareRaft(pos(3, 10, 11, 5), pos(3, 10, 11, 5))).toBe(0);
  });

  it("forces nothing when a manager serves the swarm with a leader", () => {
    const obs = new Map<string, Observation>([
      ["manager-1", gone()],
      ["manager-2", info("active", { controlAvailable: true, clusterId: "c" })],
    ]);
    expect(planRecover(inv, obs, new Map())).toEqual({ kind: "healthy", leaderOn: "manager-2" });
  });

  it("refuses when no manager survives with its state, and points to restore", () => {
    const obs = new Map<string, Observation>([
      ["manager-1", info("inactive")],
      ["manager-2", gone()],
    ]);
    const p = planRecover(inv, obs, new Map());
    expect(p).toEqual({
      kind: "fail",
      problem: expect.stringMatching(
        /no surviving manager holds the swarm's state \(manager-1: swarm state inactive; manager-2: unreachable \(connect ETIMEDOUT\);.*hcloud-swarm restore/,
      ),
    });
  });
});
