/**
 * The "deploy both sample stacks" scenario of the resilience suites: `hcloud-swarm stack deploy`
 * of traefik and wordpress, as the user's journey runs them (placement pins chosen by deploy, the
 * bed's local image), on the cluster the bootstrap scenarios left, under the suite's condition.
 * It ends correct when both converge, or when a deploy fails with a message that says something
 * true and, with the conditions lifted, a re-run converges; then a redeploy takes 0 actions.
 */
import * as fs from "fs";
import * as path from "path";
import { hcloudSwarm, type CliOutcome } from "../support/cli";
import { writeInventory } from "./bootstrap-helpers";
import {
  Condition,
  FALSE_MESSAGES,
  inventoryOf,
  Outcome,
  record,
  recordingFailure,
  ScenarioBed,
} from "./resilience-scenarios";

export const DEPLOY_SCENARIO = "deploy both sample stacks";

const STACKS: readonly (readonly [string, readonly string[]])[] = [
  ["traefik", ["--var", "acme_email=ops@example.test", "--var", "dashboard_domain=traefik.example.test"]],
  ["wordpress", ["--var", "domain=blog.example.test"]],
];

/** Deploys both stacks in order; stops at the first that fails. */
async function deployBoth(bed: ScenarioBed, inventory: string, image: string): Promise<CliOutcome[]> {
  const out: CliOutcome[] = [];
  for (const [name, vars] of STACKS) {
    const secrets = path.join(bed.dir, `${name}.env`);
    const r = await hcloudSwarm([
      "stack",
      "deploy",
      name,
      "--inventory",
      inventory,
      ...vars,
      "--local-images",
      image,
      "--secrets-file",
      secrets,
    ]);
    out.push(r);
    if (r.code !== 0) break;
  }
  return out;
}

const ok = (runs: readonly CliOutcome[]) => runs.length === STACKS.length && runs.every((r) => r.code === 0);
const text = (runs: readonly CliOutcome[]) => runs.map((r) => r.out).join("\n");

export function runDeployScenario(
  bed: ScenarioBed,
  condition: Condition,
  nodes: readonly string[],
  image: string,
): Promise<Outcome> {
  return recordingFailure(
    condition,
    DEPLOY_SCENARIO,
    () => deploySteps(bed, condition, nodes, image),
    () => bed.clearShape(),
  );
}

async function deploySteps(
  bed: ScenarioBed,
  condition: Condition,
  nodes: readonly string[],
  image: string,
): Promise<Outcome> {
  const started = Date.now();
  await condition.apply(bed);
  fs.mkdirSync(bed.dir, { recursive: true });
  const inventory = writeInventory(bed, inventoryOf(bed, nodes), `${condition.name}-deploy`);
  const first = await deployBoth(bed, inventory, image);
  let runs = 1;
  let firstRun = "ok";
  if (!ok(first)) {
    const failed = first[first.length - 1];
    firstRun = failed.out
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-2)
      .join(" ");
    // A true message: it names the stack or a service of it, and nothing known to be false.
    expect(failed.out).not.toMatch(FALSE_MESSAGES);
    expect(failed.out).toMatch(/traefik|wordpress/);
    await bed.clearShape();
    runs++;
    const again = await deployBoth(bed, inventory, image);
    if (!ok(again)) throw new Error(`deploy did not converge with the conditions lifted:\n${text(again)}`);
  }
  const seconds = (Date.now() - started) / 1000;
  // Idempotent: what runs is what the templates say, so nothing is left to do.
  const third = await deployBoth(bed, inventory, image);
  expect(third.map((r) => r.code)).toEqual([0, 0]);
  for (const [name] of STACKS) expect(text(third)).toMatch(new RegExp(`^${name}: nothing to do`, "m"));
  const outcome: Outcome = {
    condition: condition.name,
    scenario: DEPLOY_SCENARIO,
    passed: true,
    firstRun,
    runs,
    seconds,
  };
  record(outcome);
  return outcome;
}
