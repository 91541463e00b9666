/**
 * Resilience on real VMs shaped as three locations (`npm run test:chaos`; too slow for CI: a TCG VM
 * takes minutes to boot on a busy 2-core machine): nbg1, fsn1 and hel1, 0.2 ms round trip inside a
 * location, 12–25 ms between, with jitter, set with netem inside the guests (`local shape --delay`).
 * The same scenarios as the namespace bed's suites (see test/integration/resilience-scenarios.ts),
 * with 3→5→3 managers done by promoting and demoting two workers (every VM is booted up front).
 * RESILIENCE_ROUNDS=N runs them N times on the same bed, the swarm dissolved in between.
 */
import { LOCAL_IMAGE, locationRequests } from "../../local";
import { useVmBedFixture } from "../support/vm-bed-fixture";
import { Condition, Growth } from "../integration/resilience-scenarios";
import { describeScenarios } from "../integration/resilience-suite";

jest.setTimeout(60 * 60_000);
const bed = useVmBedFixture({ name: "resilience-vm", nodes: 6, managers: 3 });

const LOCATIONS = { nbg1: ["manager-1", "worker-1"], fsn1: ["manager-2", "worker-2"], hel1: ["manager-3", "worker-3"] };

const condition: Condition = {
  name: "locations",
  description: "VM bed as nbg1/fsn1/hel1: 0.2 ms inside a location, 12–25 ms between (RTT), jitter 10%",
  apply: async () => {
    for (const { node, req } of locationRequests(LOCATIONS)) await bed().shape(node, req);
  },
};

const growth: Growth = {
  thirdWorker: async () => undefined,
  fiveManagers: {
    nodes: ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"],
    roles: { "worker-1": "manager", "worker-2": "manager" },
  },
};

const rounds = Number(process.env.RESILIENCE_ROUNDS ?? 1);

for (let round = 1; round <= rounds; round++) {
  const dissolve = async () => {
    await bed().clearShape();
    for (const n of bed().inventory.nodes) await bed().exec(n.name, "docker swarm leave --force >/dev/null 2>&1; true");
  };
  describeScenarios(
    `bootstrap holds on VMs in three locations (round ${round} of ${rounds})`,
    bed,
    condition,
    LOCAL_IMAGE,
    growth,
    () => [],
    round > 1 ? dissolve : undefined,
  );
}
