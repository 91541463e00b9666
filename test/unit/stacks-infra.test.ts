/**
 * `hcloud-swarm:stacks` in the real Pulumi program, under the infra mocks harness: the stacks
 * resource is created only when configured, after the cluster, with the key and generated
 * passwords secret. (Its provider runs for real in test/integration/stacks-provider.test.ts.)
 */
import * as path from "path";
import requireFromString from "require-from-string";
import { ValidationError } from "../../common/problems";
import { forgetState, runProgramDetailed } from "../support/pulumi";

// Several whole-program runs per test; one run took 20–50 s on a busy 2-core machine.
jest.setTimeout(240_000);

const STACKS = "pulumi-nodejs:dynamic/hcloud-swarm:Stacks";
const SECRETS = "pulumi-nodejs:dynamic/hcloud-swarm:StackSecrets";
type Values = Record<string, { name: string; content: string; reveal: string }>;
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
    const inputs = res.inputs as {
      stacks: Array<{ name: string; file: string; vars: Record<string, string> }>;
      inventory: { nodes: unknown[] };
    };
    expect(inputs.stacks.map((s) => [s.name, s.file])).toEqual([
      ["traefik", "stacks/templates/traefik/stack.yml"],
      ["blog", "stacks/templates/wordpress/stack.yml"],
    ]);
    expect(inputs.inventory.nodes.length).toBeGreaterThan(0);
    expect(run.secretInputs[`${STACKS}::swarm-stacks`]).toContain("privateKey");
    expect(run.additionalSecretOutputs[`${STACKS}::swarm-stacks`]).toEqual(
      expect.arrayContaining(["generatedSecrets", "privateKey"]),
    );
    expect(run.secretOutputs).toContain("stackSecrets");
  });

  it("makes the generated secrets' values first, keeps them as secrets in state, and hands them to the stacks as a secret input", async () => {
    forgetState();
    const run = await runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(config) });
    const values = run.resources.find((r) => r.type === SECRETS);
    const stacks = run.resources.find((r) => r.type === STACKS);
    expect(Object.keys(values?.state.values as Values).sort()).toEqual([
      "blog_db_password",
      "blog_db_root_password",
      "traefik_dashboard_users",
    ]);
    expect((values?.state.values as Values).traefik_dashboard_users.reveal).toMatch(/^admin:[A-Za-z0-9_-]{32}$/);
    expect(run.additionalSecretOutputs[`${SECRETS}::swarm-stack-secrets`]).toEqual(["values"]);
    expect(run.resources.indexOf(values as never)).toBeLessThan(run.resources.indexOf(stacks as never));
    expect(run.secretInputs[`${STACKS}::swarm-stacks`]).toEqual(expect.arrayContaining(["privateKey", "secretValues"]));
    expect(stacks?.inputs.secretValues).toEqual(values?.state.values);
  });

  it("keeps every value across runs, adds values for a new stack and drops a removed stack's", async () => {
    forgetState();
    const first = await runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(config.slice(0, 1)) });
    const second = await runProgramDetailed({ serverType: "cx23", workers: 3, stacks: JSON.stringify(config) });
    const third = await runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(config.slice(1)) });
    const valuesOf = (r: typeof first) => r.resources.find((x) => x.type === SECRETS)?.state.values as Values;
    expect(valuesOf(second).traefik_dashboard_users).toEqual(valuesOf(first).traefik_dashboard_users);
    expect(Object.keys(valuesOf(third)).sort()).toEqual(["blog_db_password", "blog_db_root_password"]);
    expect(valuesOf(third).blog_db_password).toEqual(valuesOf(second).blog_db_password);
  });

  it("takes the node for a pin from the config, and refuses pins the template does not declare", async () => {
    const run = await runProgramDetailed({
      serverType: "cx23",
      stacks: JSON.stringify([{ ...config[1], pins: { "wordpress-data": "worker-2" } }]),
    });
    const inputs = run.resources.find((r) => r.type === STACKS)?.inputs as { stacks: Array<{ pins?: unknown }> };
    expect(inputs.stacks[0].pins).toEqual([{ label: "wordpress-data", node: "worker-2" }]);
    const bad = runProgramDetailed({
      serverType: "cx23",
      stacks: JSON.stringify([
        { ...config[0], pins: { "wordpress-data": "worker-1" } },
        { ...config[1], pins: ["worker-1"] },
      ]),
    });
    await expect(bad).rejects.toThrow(
      /hcloud-swarm:stacks\[0\]\.pins\.wordpress-data: traefik declares no pin "wordpress-data"; its pins: traefik-certs[\s\S]*hcloud-swarm:stacks\[1\]\.pins must map pin labels to node names/,
    );
  });

  it("keeps what a failed deploy did in state: the error carries the id, the outputs and the provider for the engine", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(config.slice(0, 1)) });
    const res = run.resources.find((r) => r.type === STACKS) as { inputs: Record<string, unknown> };
    const provider = (
      requireFromString(String(res.inputs.__provider), path.join(__dirname, "__provider.js")) as {
        handler: () => { create(i: unknown): Promise<unknown> };
      }
    ).handler();
    // Nothing listens on 127.0.0.1:9 (discard): the SSH connection is refused at once.
    const unreachable = {
      nodes: [
        {
          name: "manager-1",
          role: "manager",
          host: "127.0.0.1",
          port: 9,
          user: "root",
          hostKey: "ssh-ed25519 AAAA",
          advertiseAddress: "127.0.0.1",
          labels: {},
        },
      ],
    };
    const err = (await provider.create({ ...res.inputs, inventory: unreachable }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { id?: string; properties?: Record<string, unknown>; reasons?: string[]; message: string };
    expect(err.message).toMatch(/no manager reachable over SSH/);
    expect(err.id).toBe("stacks-traefik");
    expect(err.properties).toMatchObject({
      hashes: {},
      generatedSecrets: {},
      unconverged: [],
      __provider: res.inputs.__provider,
    });
    expect(err.reasons).toEqual([err.message]);
  });

  it("refuses a stacks list with problems before creating anything, naming every entry", async () => {
    const bad = [{ template: "wordpress" }, { template: "nginx" }];
    const attempt = runProgramDetailed({ serverType: "cx23", stacks: JSON.stringify(bad) });
    // The harness loads the program in a fresh module registry, so the class is a different object.
    await expect(attempt).rejects.toMatchObject({ name: ValidationError.name });
    await expect(attempt).rejects.toThrow(
      /hcloud-swarm:stacks\[0\] \(wordpress\): missing vars\.domain[\s\S]*hcloud-swarm:stacks\[1\]\.template must be one of traefik, wordpress/,
    );
  });

  it("reports cluster config problems and stacks list problems together", async () => {
    const attempt = runProgramDetailed({
      serverType: "cx23",
      managers: 2,
      stacks: JSON.stringify([{ template: "nginx" }]),
    });
    await expect(attempt).rejects.toThrow(/^hcloud-swarm config and hcloud-swarm:stacks have 2 problems:/);
    await expect(attempt).rejects.toThrow(
      /hcloud-swarm:managers must be 1, 3, 5 or 7[\s\S]*hcloud-swarm:stacks\[0\]\.template must be one of traefik, wordpress/,
    );
  });
});
