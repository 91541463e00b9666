/**
 * `hcloud-swarm:nodeLabels`: validated with the key named, planned per role and node name, and
 * carried through the real program (under mocks) into the inventory and the memberships.
 */
import { ValidationError } from "../../../common/problems";
import { validateConfig } from "../../../infra/config";
import { planCluster } from "../../../infra/plan";
import { validateInventory } from "../../../inventory/inventory";
import { runProgram, runProgramDetailed } from "../../support/pulumi";

// Runs the whole program under mocks, twice in one test; on a busy 2-core machine one run took over 60 s.
jest.setTimeout(180_000);

const BASE = { serverType: "cx23" };

function problemsOf(raw: Record<string, unknown>): readonly string[] {
  try {
    validateConfig({ ...BASE, ...raw }, "dev");
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error("config was accepted");
}

describe("hcloud-swarm:nodeLabels", () => {
  it("defaults to no labels beyond location and edge", () => {
    const plan = planCluster(validateConfig(BASE, "dev"));
    expect(plan.nodes.map((n) => n.swarmLabels)).toEqual([
      { location: "nbg1", edge: "true" },
      { location: "nbg1" },
      { location: "nbg1" },
    ]);
  });

  it("labels every node of a role, and one node by name over its role, from JSON text as Pulumi passes it", () => {
    const raw = JSON.stringify({
      managers: { "traefik-certs": "true" },
      workers: { tier: "app" },
      "worker-2": { tier: "db", "wordpress-data": true },
    });
    const plan = planCluster(validateConfig({ ...BASE, nodeLabels: raw }, "dev"));
    expect(Object.fromEntries(plan.nodes.map((n) => [n.name, n.swarmLabels]))).toEqual({
      "manager-1": { "traefik-certs": "true", location: "nbg1", edge: "true" },
      "worker-1": { tier: "app", location: "nbg1" },
      // `pulumi config set --path … true` stores a boolean: taken as the label text "true".
      "worker-2": { tier: "db", "wordpress-data": "true", location: "nbg1" },
    });
  });

  it("names the key and the fix for every bad entry at once", () => {
    const problems = problemsOf({
      workers: 2,
      nodeLabels: {
        worker1: { a: "b" },
        "worker-3": { a: "b" },
        managers: { "bad label": "x", location: "fsn1", "hcloud-swarm.pin.x": "y" },
        workers: { ok: "va lue", n: { nested: 1 } },
        "manager-1": ["not", "an", "object"],
      },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^hcloud-swarm:nodeLabels\["worker1"\]: "worker1" is neither "managers", "workers" nor a node name .*node names look like "worker-1"/,
      ),
      expect.stringMatching(
        /^hcloud-swarm:nodeLabels\["worker-3"\]: there is no worker-3: hcloud-swarm:workers is 2; remove these labels or raise hcloud-swarm:workers/,
      ),
      expect.stringMatching(/^hcloud-swarm:nodeLabels\["managers"\]: label name "bad label" must be letters, digits/),
      expect.stringMatching(/^hcloud-swarm:nodeLabels\["managers"\]: label "location" is set by hcloud-swarm itself/),
      expect.stringMatching(/^hcloud-swarm:nodeLabels\["managers"\]: label "hcloud-swarm.pin.x" is reserved/),
      expect.stringMatching(/^hcloud-swarm:nodeLabels\["workers"\]\.ok value "va lue" must be letters/),
      expect.stringMatching(
        /^hcloud-swarm:nodeLabels\["workers"\]\.n must be a string such as "true", got \{"nested":1\}/,
      ),
      expect.stringMatching(/^hcloud-swarm:nodeLabels\["manager-1"\] must be an object of label names/),
    ]);
  });

  it("refuses a value that is not an object, with an example command", () => {
    expect(problemsOf({ nodeLabels: "worker-1=wordpress-data" })).toEqual([
      expect.stringMatching(
        /^hcloud-swarm:nodeLabels must be an object .*pulumi config set --path 'hcloud-swarm:nodeLabels\["worker-1"\]\["wordpress-data"\]' true/,
      ),
    ]);
    expect(problemsOf({ nodeLable: "{}" })).toEqual([
      expect.stringMatching(/hcloud-swarm:nodeLable is not a known key; did you mean hcloud-swarm:nodeLabels\?/),
    ]);
  });

  it("flows into the exported inventory and each node's membership, which bootstrap accepts", async () => {
    const run = await runProgramDetailed({
      ...BASE,
      nodeLabels: JSON.stringify({ "worker-1": { "wordpress-data": "true" }, managers: { "traefik-certs": "true" } }),
    });
    const inv = validateInventory(run.outputs.inventory);
    expect(Object.fromEntries(inv.nodes.map((n) => [n.name, n.labels]))).toEqual({
      "manager-1": { "traefik-certs": "true", location: "nbg1", edge: "true" },
      "worker-1": { "wordpress-data": "true", location: "nbg1" },
      "worker-2": { location: "nbg1" },
    });
    const membership = run.resources.find((r) => r.name === "swarm-worker-1-swarm");
    expect((membership?.inputs.node as { labels: unknown }).labels).toEqual({
      "wordpress-data": "true",
      location: "nbg1",
    });
  });

  it("changes no existing resource's inputs when workers grows with role labels configured", async () => {
    const nodeLabels = JSON.stringify({ workers: { tier: "app" }, "worker-1": { "wordpress-data": "true" } });
    const before = await runProgram({ ...BASE, workers: 2, nodeLabels });
    const after = await runProgram({ ...BASE, workers: 3, nodeLabels });
    // SwarmKeys' members gain the new worker on purpose (test/unit/infra/program.test.ts).
    for (const r of before.filter((x) => x.name !== "swarm-swarm-keys")) {
      const now = after.find((x) => x.name === r.name && x.type === r.type);
      expect({ name: r.name, inputs: now?.inputs }).toEqual({ name: r.name, inputs: r.inputs });
    }
    const added = after.find((r) => r.name === "swarm-worker-3-swarm");
    expect((added?.inputs.node as { labels: unknown }).labels).toEqual({ tier: "app", location: "nbg1" });
  });
});
