/**
 * `hcloud-swarm:stacks` in the real Pulumi program, under the infra mocks harness: the stacks
 * resource is created only when configured, after the cluster, with the key and generated
 * passwords secret. (Its provider runs for real in test/integration/stacks-provider.test.ts.)
 */
import { ValidationError } from "../../common/problems";
import { runProgramDetailed } from "../support/pulumi";

jest.setTimeout(60_000);

const STACKS = "pulumi-nodejs:dynamic/hcloud-swarm:Stacks";
const config = [
  { template: "traefik", vars: { acme_email: "ops@example.com", dashboard_domain: "traefik.example.com" } },
  { template: "wordpress", name: "blog", vars: { domain: "blog.example.com" } },
];

describe("stacks in the Pulumi program", () => {
  it("creates no stacks resource when hcloud-swarm:stacks is not set", async () => {
    const run = await runProgramDetailed({ serverType: "cx23" });
    expect(run.resources.filter((r) => r.type === STACKS)).toEqual([]);
  });

  it("deploys the configured stacks with the cluster's inventory, MTU-ready templates and a secret key", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(config) });
    const [res, ...more] = run.resources.filter((r) => r.type === STACKS);
    expect(more).toEqual([]);
    const inputs = res.inputs as { stacks: Array<{ name: string; file: string; vars: Record<string, string> }>; inventory: { nodes: unknown[] } };
    expect(inputs.stacks.map((s) => [s.name, s.file])).toEqual([
      ["traefik", "stacks/templates/traefik/stack.yml"],
      ["blog", "stacks/templates/wordpress/stack.yml"],
    ]);
    expect(inputs.inventory.nodes.length).toBeGreaterThan(0);
    expect(run.secretInputs[`${STACKS}::swarm-stacks`]).toContain("privateKey");
    expect(run.additionalSecretOutputs[`${STACKS}::swarm-stacks`]).toEqual(expect.arrayContaining(["generatedSecrets", "privateKey"]));
    expect(run.secretOutputs).toContain("stackSecrets");
  });

  it("refuses a stacks list with problems before creating anything, naming every entry", async () => {
    const bad = [{ template: "wordpress" }, { template: "nginx" }];
    const attempt = runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(bad) });
    // The harness loads the program in a fresh module registry, so the class is a different object.
    await expect(attempt).rejects.toMatchObject({ name: ValidationError.name });
    await expect(attempt).rejects.toThrow(/hcloud-swarm:stacks\[0\] \(wordpress\): missing vars\.domain[\s\S]*hcloud-swarm:stacks\[1\]\.template must be one of traefik, wordpress/);
  });

  it("reports cluster config problems and stacks list problems together", async () => {
    const attempt = runProgramDetailed({ serverType: "cx23", managers: 2, stacks: JSON.stringify([{ template: "nginx" }]) });
    await expect(attempt).rejects.toThrow(/^hcloud-swarm config and hcloud-swarm:stacks have 2 problems:/);
    await expect(attempt).rejects.toThrow(/hcloud-swarm:managers must be 1, 3, 5 or 7[\s\S]*hcloud-swarm:stacks\[0\]\.template must be one of traefik, wordpress/);
  });
});
