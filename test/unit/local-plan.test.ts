import { ValidationError } from "../../common/problems";
import { dirIdOf } from "../../local/common/bed-dir";
import {
  bedNames,
  isBedLink,
  isBedNetns,
  MAX_NODES,
  netnsOf,
  nodeAddress,
  planExtraNode,
  planNodes,
  vethOf,
} from "../../local/ns/plan";
import { splitRule } from "../../local/ns/network";

describe("local test bed plan", () => {
  it("makes the first nodes managers and numbers workers from 1", () => {
    expect(planNodes({ nodes: 4, managers: 2 })).toEqual([
      { name: "manager-1", role: "manager", octet: 11 },
      { name: "manager-2", role: "manager", octet: 12 },
      { name: "worker-1", role: "worker", octet: 13 },
      { name: "worker-2", role: "worker", octet: 14 },
    ]);
  });

  it("defaults to 3 nodes with 1 manager", () => {
    expect(planNodes({}).map((n) => n.role)).toEqual(["manager", "worker", "worker"]);
  });

  it("reports every bad count at once, naming the flag", () => {
    try {
      planNodes({ nodes: MAX_NODES + 1, managers: 0 });
      throw new Error("expected a ValidationError");
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const problems = (err as ValidationError).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toContain("--nodes");
      expect(problems[1]).toContain("--managers");
    }
    expect(() => planNodes({ nodes: 2, managers: 3 })).toThrow(/--managers \(3\) cannot exceed --nodes \(2\)/);
  });

  it("adds a node with the next free name of its role and the lowest free address", () => {
    const nodes = planNodes({ nodes: 3, managers: 1 }).filter((n) => n.name !== "worker-1");
    expect(planExtraNode(nodes, "worker")).toEqual({ name: "worker-1", role: "worker", octet: 12 });
    expect(planExtraNode(planNodes({ nodes: 3 }), "manager")).toEqual({
      name: "manager-2",
      role: "manager",
      octet: 14,
    });
  });

  it("keeps every bed inside 10.213.0.0/16 with its own /24 and hsw<K> names", () => {
    const b = bedNames(7, "abc");
    expect(b.bridge).toBe("hsw7");
    expect(b.subnet).toBe("10.213.7.0/25");
    expect(b.gateway).toBe("10.213.7.1");
    expect(b.outsiderAddress).toBe("10.213.7.130");
    expect(b.tag).toContain("hsw7 abc");
    expect(nodeAddress(7, 11)).toBe("10.213.7.11");
    expect(netnsOf(7, "worker-1")).toBe("hsw7-worker-1");
    expect(() => bedNames(0, "x")).toThrow();
    expect(() => bedNames(255, "x")).toThrow();
  });

  it("never mistakes another bed's links or namespaces for its own", () => {
    expect(vethOf(254, 126).length).toBeLessThanOrEqual(15);
    expect(isBedLink("hsw1", 1)).toBe(true);
    expect(isBedLink("hsw1n11", 1)).toBe(true);
    expect(isBedLink("hsw1o", 1)).toBe(true);
    expect(isBedLink("hsw12", 1)).toBe(false);
    expect(isBedLink("hsw12n11", 1)).toBe(false);
    expect(isBedLink("hsw1n11", 12)).toBe(false);
    expect(isBedNetns("hsw1-worker-1", 1)).toBe(true);
    expect(isBedNetns("hsw12-worker-1", 1)).toBe(false);
  });

  it("derives a stable directory id", () => {
    expect(dirIdOf("/a/b")).toBe(dirIdOf("/a/b"));
    expect(dirIdOf("/a/b")).not.toBe(dirIdOf("/a/c"));
    expect(dirIdOf("/a/b")).toMatch(/^[0-9a-f]{12}$/);
  });

  it("splits iptables -S lines with quoted comments into arguments", () => {
    expect(splitRule('-A INPUT -i hsw3 -m comment --comment "hcloud-swarm-bed hsw3 abc" -j hsw3-in')).toEqual([
      "-A",
      "INPUT",
      "-i",
      "hsw3",
      "-m",
      "comment",
      "--comment",
      "hcloud-swarm-bed hsw3 abc",
      "-j",
      "hsw3-in",
    ]);
  });
});
