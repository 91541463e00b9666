/**
 * Jest wiring of the resilience suites (namespace bed and VM bed alike): the bootstrap scenarios
 * (./resilience-scenarios), the stacks deploy (./resilience-deploy) and verify, under one condition.
 */
import { verifyCluster } from "../../verify/collect";
import { DEPLOY_SCENARIO, runDeployScenario } from "./resilience-deploy";
import {
  bootstrapScenarios,
  Condition,
  Growth,
  inventoryOf,
  record,
  recordingFailure,
  runScenario,
  ScenarioBed,
} from "./resilience-scenarios";

/** The nodes every suite ends with; the stacks deploy and verify run on them. */
const FINAL_NODES = ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2", "worker-3"];

/**
 * Jest wiring shared by the suites: one test per bootstrap scenario under `condition`, then both
 * sample stacks deployed, then `verify` on the cluster they leave (nothing failed; what the bed's
 * kernel cannot prove stays unprovable). `before` runs first (e.g. a fresh round on the same bed).
 */
export function describeScenarios(
  title: string,
  bed: () => ScenarioBed,
  condition: Condition,
  image: string,
  growth: Growth,
  faulty: () => readonly string[],
  before?: () => Promise<void>,
): void {
  describe(title, () => {
    if (before) beforeAll(before, 10 * 60_000);
    for (const s of bootstrapScenarios(bed, image, growth, faulty)) {
      it(s.name, async () => {
        expect((await runScenario(bed(), condition, s)).passed).toBe(true);
      });
    }
    it(DEPLOY_SCENARIO, async () => {
      expect((await runDeployScenario(bed(), condition, FINAL_NODES, image)).passed).toBe(true);
    });
    it("verify reports nothing failed (what the bed's kernel cannot prove stays unprovable)", async () => {
      await recordingFailure(
        condition,
        "verify",
        async () => {
          const started = Date.now();
          await condition.apply(bed());
          const summary = await verifyCluster(inventoryOf(bed(), FINAL_NODES));
          expect(summary.checks.filter((c) => c.status === "fail")).toEqual([]);
          expect(summary.exitCode).not.toBe(1);
          const outcome = {
            condition: condition.name,
            scenario: "verify",
            passed: true,
            firstRun: "ok",
            runs: 1,
            seconds: (Date.now() - started) / 1000,
          };
          record(outcome);
          return outcome;
        },
        () => bed().clearShape(),
      );
      await bed().clearShape();
    });
  });
}
