/**
 * Resilience with every CPU starved on the namespace bed: every node capped at 20% of a core (its
 * dockerd, sshd, SSH sessions and containers together), and on top the faults of each scenario
 * (powered off, frozen, killed). See resilience-scenarios.ts for what "ends correct" means.
 */
import { LOCAL_IMAGE, useTestbed } from "../support/testbed";
import { verifyCluster } from "../../verify/run";
import { bootstrapScenarios, Condition, inventoryOf, nsGrowth, runScenario } from "./resilience-scenarios";

jest.setTimeout(900_000);
const bed = useTestbed({ name: "resilience-starved", nodes: 5, managers: 3 });

const condition: Condition = {
  name: "starved",
  description: "every node capped at 20% of a core",
  apply: async (b) => {
    await b.shape("all", { cpuPercent: 20 });
  },
};

describe("bootstrap holds with every node's CPU capped at 20% of a core", () => {
  for (const s of bootstrapScenarios(bed, LOCAL_IMAGE, nsGrowth(bed), () => bed().inventory.nodes.map((n) => n.name))) {
    it(s.name, async () => {
      await runScenario(bed(), condition, s);
    });
  }

  it("verify reports nothing failed (what this kernel cannot prove stays unprovable)", async () => {
    await condition.apply(bed());
    const summary = await verifyCluster(inventoryOf(bed(), ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2", "worker-3"]));
    expect(summary.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(summary.exitCode).not.toBe(1);
    await bed().clearShape();
  });
});
