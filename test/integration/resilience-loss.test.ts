/**
 * Resilience under packet loss on the namespace bed: 1% of the packets dropped on the way into
 * and 1% on the way out of every node (about 2% on each path between two nodes), one node starved
 * at 5% of a core, and on top the faults of each scenario (powered off, frozen, killed).
 * See resilience-scenarios.ts for what "ends correct" means.
 */
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import { Condition, nsGrowth } from "./resilience-scenarios";
import { describeScenarios } from "./resilience-suite";

jest.setTimeout(900_000);
const bed = useBedFixture({ name: "resilience-loss", nodes: 5, managers: 3 });

const condition: Condition = {
  name: "loss",
  description: "1% loss in + 1% out on every node (~2% per path), worker-2 starved at 5% of a core",
  apply: async (b) => {
    await b.shape("all", { lossPercent: 1, lossDirection: "both" });
    await b.shape("worker-2", { cpuPercent: 5 });
  },
};

describeScenarios(
  "bootstrap holds under packet loss and a starved node",
  bed,
  condition,
  LOCAL_IMAGE,
  nsGrowth(bed),
  () => bed().inventory.nodes.map((n) => n.name),
);
