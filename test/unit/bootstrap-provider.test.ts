import { InventoryNode } from "../../inventory/inventory";
import { checkInputs, diffInputs, SwarmNodeInputs, SwarmNodeOutputs, UNKNOWN } from "../../bootstrap/provider";

const m1: InventoryNode = {
  name: "manager-1",
  role: "manager",
  host: "10.9.0.11",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA9AJzDL9DCeIfFrGgll5NEoSKpdKVg9xBX64w2/kj2v",
  advertiseAddress: "10.9.0.11",
  labels: {},
};
const w1: InventoryNode = { ...m1, name: "worker-1", role: "worker", host: "10.9.0.21", advertiseAddress: "10.9.0.21" };
const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n";
const inputs: SwarmNodeInputs = { node: w1, managers: [m1], swarm: {}, privateKey: key };
const outs: SwarmNodeOutputs = { ...inputs, nodeId: "abc" };

describe("SwarmNode check()", () => {
  it("accepts good inputs", () => {
    expect(checkInputs({ ...inputs })).toEqual([]);
  });

  it("names the property of every problem and never quotes the key", () => {
    const failures = checkInputs({
      node: { ...w1, port: 0 },
      managers: [w1],
      swarm: { overlayMtu: 20 },
      privateKey: "secret-value-123",
    });
    expect([...new Set(failures.map((f) => f.property))].sort()).toEqual(["managers", "node", "privateKey", "swarm"]);
    expect(failures.find((f) => f.property === "node")?.reason).toMatch(/port must be a whole number/);
    expect(
      failures
        .filter((f) => f.property === "managers")
        .map((f) => f.reason)
        .join("\n"),
    ).toMatch(/"role": "manager"/);
    expect(JSON.stringify(failures)).not.toContain("secret-value-123");
  });

  it("skips values that are unknown during preview", () => {
    expect(
      checkInputs({
        node: { ...w1, host: UNKNOWN, hostKey: UNKNOWN },
        managers: UNKNOWN,
        swarm: {},
        privateKey: UNKNOWN,
      }),
    ).toEqual([]);
  });
});

describe("SwarmNode diff()", () => {
  it("reports no change when only entry points or init-time settings differ", () => {
    expect(
      diffInputs(outs, { ...inputs, managers: [m1, { ...m1, name: "manager-2" }], swarm: { overlayMtu: 1450 } })
        .changes,
    ).toBe(false);
  });

  it("updates in place for labels, role and key", () => {
    const d = diffInputs(outs, {
      ...inputs,
      node: { ...w1, role: "manager", labels: { a: "b" } },
      privateKey: key + " ",
    });
    expect(d).toMatchObject({ changes: true, replaces: [] });
  });

  it("replaces, deleting first, when the node is another machine", () => {
    expect(
      diffInputs(outs, { ...inputs, node: { ...w1, host: "10.9.0.99", hostKey: m1.hostKey + "x" } }),
    ).toMatchObject({ changes: true, replaces: ["node.host", "node.hostKey"], deleteBeforeReplace: true });
  });
});
