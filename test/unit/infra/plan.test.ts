import { validateConfig } from "../../../infra/config";
import { planCluster, planNode } from "../../../infra/plan";

const config = (raw: Record<string, unknown>) => validateConfig({ serverType: "cx23", ...raw }, "dev");

describe("planCluster", () => {
  it("names nodes manager-1… then worker-1… with cluster-prefixed server names", () => {
    const plan = planCluster(config({ managers: 3, workers: 2 }));
    expect(plan.nodes.map((n) => n.name)).toEqual(["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"]);
    expect(plan.nodes.map((n) => n.serverName)).toEqual([
      "dev-manager-1",
      "dev-manager-2",
      "dev-manager-3",
      "dev-worker-1",
      "dev-worker-2",
    ]);
    expect(plan.nodes.map((n) => n.role)).toEqual(["manager", "manager", "manager", "worker", "worker"]);
  });

  it("spreads nodes over the locations by their index", () => {
    const plan = planCluster(config({ managers: 3, workers: 4, locations: ["nbg1", "fsn1", "hel1"] }));
    expect(plan.nodes.map((n) => `${n.name}@${n.location}`)).toEqual([
      "manager-1@nbg1",
      "manager-2@fsn1",
      "manager-3@hel1",
      "worker-1@nbg1",
      "worker-2@fsn1",
      "worker-3@hel1",
      "worker-4@nbg1",
    ]);
  });

  it("uses the role's server type and labels nodes with cluster and role", () => {
    const plan = planCluster(config({ managerServerType: "cx33", workers: 1 }));
    expect(plan.nodes.map((n) => n.serverType)).toEqual(["cx33", "cx23"]);
    expect(plan.nodes[0].serverLabels).toEqual({ cluster: "dev", role: "manager", "managed-by": "hcloud-swarm" });
    expect(plan.nodes[1].serverLabels).toEqual({ cluster: "dev", role: "worker", "managed-by": "hcloud-swarm" });
    expect(plan.nodes[0].swarmLabels).toEqual({ location: "nbg1", edge: "true" });
    expect(plan.nodes[1].swarmLabels).toEqual({ location: "nbg1" });
    expect(plan.selectors).toEqual({
      all: "cluster=dev,managed-by=hcloud-swarm",
      managers: "cluster=dev,managed-by=hcloud-swarm,role=manager",
    });
  });

  it("splits spread placement groups at 10 servers per role and location", () => {
    const plan = planCluster(config({ managers: 7, workers: 25, locations: ["nbg1", "fsn1"] }));
    const members = new Map<string, number>();
    for (const n of plan.nodes) members.set(n.placementGroup, (members.get(n.placementGroup) ?? 0) + 1);
    expect(Object.fromEntries(members)).toEqual({
      "manager-nbg1-1": 4,
      "manager-fsn1-1": 3,
      "worker-nbg1-1": 10,
      "worker-fsn1-1": 10,
      "worker-nbg1-2": 3,
      "worker-fsn1-2": 2,
    });
    expect(plan.placementGroups.map((g) => g.key).sort()).toEqual([...members.keys()].sort());
    expect(plan.placementGroups.find((g) => g.key === "worker-fsn1-2")?.name).toBe("dev-worker-fsn1-2");
  });

  it("gives fixed private addresses in the first /24 of the network, and none in public-only mode", () => {
    const plan = planCluster(config({ managers: 3, workers: 2, networkCidr: "172.16.0.0/12" }));
    expect(plan.nodes.map((n) => n.privateIp)).toEqual([
      "172.16.0.11",
      "172.16.0.12",
      "172.16.0.13",
      "172.16.0.21",
      "172.16.0.22",
    ]);
    expect(plan.network).toEqual({ cidr: "172.16.0.0/12", subnetCidr: "172.16.0.0/24", zone: "eu-central" });
    const pub = planCluster(config({ privateNetwork: false }));
    expect(pub.network).toBeUndefined();
    expect(pub.nodes.every((n) => n.privateIp === undefined)).toBe(true);
  });

  it("sets the swarm's address pool and the overlay MTU of the underlay", () => {
    expect(planCluster(config({})).swarm).toEqual({
      defaultAddrPool: "10.128.0.0/16",
      defaultAddrPoolMaskLength: 24,
      overlayMtu: 1450,
    });
    expect(planCluster(config({ privateNetwork: false })).swarm.overlayMtu).toBe(1500);
  });

  it("keeps every existing node identical when workers grows or shrinks", () => {
    const small = planCluster(config({ managers: 3, workers: 9, locations: ["nbg1", "fsn1"] }));
    const big = planCluster(config({ managers: 3, workers: 31, locations: ["nbg1", "fsn1"] }));
    expect(big.nodes.slice(0, small.nodes.length)).toEqual(small.nodes);
    // Placement groups that existed keep their name; growing only adds groups.
    for (const g of small.placementGroups) expect(big.placementGroups).toContainEqual(g);
  });

  it("plans a node from its own index alone", () => {
    const c = config({ workers: 5, locations: ["nbg1", "hel1"] });
    expect(planNode(c, "worker", 5)).toEqual(planCluster(c).nodes[5]);
    expect(planNode(c, "worker", 5)).toEqual(planNode({ ...c, workers: 50 }, "worker", 5));
  });
});
