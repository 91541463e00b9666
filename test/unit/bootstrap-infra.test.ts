/**
 * SwarmNode wired into SwarmCluster, through the real program under mocks (test/support/pulumi.ts):
 * one membership per node, the key only as a secret, and a new worker adds exactly one server and
 * one membership while every other resource keeps its inputs.
 */
import { runProgram, runProgramDetailed } from "../support/pulumi";

jest.setTimeout(60_000);

const SWARM_NODE = "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode";

describe("SwarmNodes in the Pulumi program", () => {
  it("creates one membership per node, with the node's inventory, all managers and the key as a secret input", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", managers: 3, workers: 2 });
    const ms = run.resources.filter((r) => r.type === SWARM_NODE);
    expect(ms.map((m) => m.name).sort()).toEqual([
      "swarm-manager-1-swarm",
      "swarm-manager-2-swarm",
      "swarm-manager-3-swarm",
      "swarm-worker-1-swarm",
      "swarm-worker-2-swarm",
    ]);
    const inventory = run.outputs.inventory as { nodes: { name: string }[] };
    for (const m of ms) {
      const node = m.inputs.node as { name: string; hostKey: string };
      expect(`swarm-${node.name}-swarm`).toBe(m.name);
      expect(inventory.nodes.map((n) => n.name)).toContain(node.name);
      expect((m.inputs.managers as { name: string }[]).map((x) => x.name)).toEqual([
        "manager-1",
        "manager-2",
        "manager-3",
      ]);
      expect(run.secretInputs[`${SWARM_NODE}::${m.name}`]).toEqual(["privateKey"]);
      expect(run.additionalSecretOutputs[`${SWARM_NODE}::${m.name}`]).toEqual(["privateKey"]);
      expect(m.inputs.swarm).toMatchObject({ defaultAddrPool: expect.any(String), overlayMtu: 1450 });
    }
  });

  it("adds exactly one server and one membership when workers grows, changing no other resource", async () => {
    const before = await runProgram({ serverType: "cx23", workers: 2 });
    const after = await runProgram({ serverType: "cx23", workers: 3 });
    // SwarmKeys' members gain the new worker on purpose (test/unit/infra/program.test.ts).
    for (const r of before.filter((x) => x.name !== "swarm-swarm-keys")) {
      const now = after.find((x) => x.name === r.name && x.type === r.type);
      expect({ name: r.name, inputs: now?.inputs }).toEqual({ name: r.name, inputs: r.inputs });
    }
    const added = after.filter((r) => !before.some((b) => b.name === r.name && b.type === r.type));
    expect(added.map((r) => `${r.type.split(":").pop()} ${r.name}`).sort()).toEqual([
      "Server swarm-worker-3",
      "SshKeyPair swarm-worker-3-host-key",
      "SwarmNode swarm-worker-3-swarm",
    ]);
  });
});
