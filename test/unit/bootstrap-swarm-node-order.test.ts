/**
 * The order Pulumi must respect between servers and their SwarmNodes, read off the registration
 * requests under mocks: manager-1 initialises only once every manager's server exists, managers
 * join one after another, workers after manager-1, and every membership after its own server
 * (so on delete it goes first).
 */
import * as pulumi from "@pulumi/pulumi";
import { InventoryNode } from "../../inventory/inventory";

interface RegisterRequest {
  getName(): string;
  getType(): string;
  getDependenciesList(): string[];
}

const deps = new Map<string, string[]>();
pulumi.runtime.setMocks(
  { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
  "hcloud-swarm",
  "test",
  false,
);
const monitor = pulumi.runtime.getMonitor() as unknown as {
  registerResource: (req: RegisterRequest, cb: unknown) => unknown;
};
const register = monitor.registerResource.bind(monitor);
monitor.registerResource = (req, cb) => {
  deps.set(
    req.getName(),
    req
      .getDependenciesList()
      .map((urn) => urn.split("::").pop() as string)
      .sort(),
  );
  return register(req, cb);
};

class FakeServer extends pulumi.CustomResource {
  constructor(name: string) {
    super("test:index:Server", name, {});
  }
}

const node = (name: string, role: "manager" | "worker"): InventoryNode => ({
  name,
  role,
  host: "10.9.0.1",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAA",
  advertiseAddress: "10.9.0.1",
  labels: {},
});

it("orders SwarmNodes: manager-1 after all manager servers, managers in a chain, workers after manager-1", async () => {
  const { orderedSwarmNodes } = await import("../../bootstrap/swarm-node-order");
  const firewall = new FakeServer("fw");
  const names = ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"];
  const nodes = names.map((n) => ({
    name: n,
    role: n.startsWith("manager") ? ("manager" as const) : ("worker" as const),
    server: new FakeServer(`srv-${n}`),
    inventory: pulumi.output(node(n, n.startsWith("manager") ? "manager" : "worker")),
  }));
  const parent = new pulumi.ComponentResource("test:index:Cluster", "c");
  const ms = orderedSwarmNodes("c", nodes, { swarm: {}, privateKey: "k", dependsOn: [firewall] }, parent);
  await Promise.all(ms.map((m) => new Promise((r) => m.urn.apply(r))));
  expect(ms).toHaveLength(5);
  expect(deps.get("c-manager-1-swarm")).toEqual(["fw", "srv-manager-1", "srv-manager-2", "srv-manager-3"]);
  expect(deps.get("c-manager-2-swarm")).toEqual(["c-manager-1-swarm", "fw", "srv-manager-2"]);
  expect(deps.get("c-manager-3-swarm")).toEqual(["c-manager-2-swarm", "fw", "srv-manager-3"]);
  expect(deps.get("c-worker-1-swarm")).toEqual(["c-manager-1-swarm", "fw", "srv-worker-1"]);
  expect(deps.get("c-worker-2-swarm")).toEqual(["c-manager-1-swarm", "fw", "srv-worker-2"]);
});
