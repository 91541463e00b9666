/**
 * Resilience with every CPU starved on the namespace bed: every node capped at 20% of a core (its
 * dockerd, sshd, SSH sessions and containers together), and on top the faults of each scenario
 * (powered off, frozen, killed). See resilience-scenarios.ts for what "ends correct" means.
 */
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import { Condition, nsGrowth } from "./resilience-scenarios";
import { describeScenarios } from "./resilience-suite";

jest.setTimeout(900_000);
const bed = useBedFixture({ name: "resilience-starved", nodes: 5, managers: 3 });

const condition: Condition = {
  name: "starved",
  description: "every node capped at 20% of a core",
  apply: async (b) => {
    await b.shape("all", { cpuPercent: 20 });
  },
};

describeScenarios(
  "bootstrap holds with every node's CPU capped at 20% of a core",
  bed,
  condition,
  LOCAL_IMAGE,
  nsGrowth(bed),
  () => bed().inventory.nodes.map((n) => n.name),
);
