/**
 * The Pulumi stacks resources, end to end: constructed under pulumi.runtime.setMocks, their
 * serialized providers (`__provider`) rebuilt with require-from-string exactly as Pulumi's
 * provider host does, then run against a real swarm on the test bed that nobody labelled by hand.
 * StackSecrets makes the values first; Stacks creates the Docker secrets from them, keeps what it
 * did in state when it fails, and treats a slow start as a warning.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import type { Inventory } from "../../inventory/inventory";
import { bootstrap } from "../../bootstrap/bootstrap";
import { readNodes, secretNames, stackServices } from "../../swarm/facts";
import { connectManager } from "../../swarm/manager-session";
import {
  CONVERGE_TIMEOUT_ENV,
  type StacksProviderInputs,
  type StacksProviderOutputs,
} from "../../stacks/pulumi/provider";
import { StacksDeployment } from "../../stacks/pulumi/resource";
import { StackSecrets } from "../../stacks/pulumi/secret-values";
import type { GeneratedSecret } from "../../stacks/deploy/secrets";
import { parseStacksConfig } from "../../stacks/pulumi/stack-config";
import { secretSpecs } from "../../infra/stacks";
import { providerEnv } from "../support/provider-env";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

type Provider = {
  create(i: StacksProviderInputs): Promise<{ id: string; outs: StacksProviderOutputs }>;
  update(id: string, o: StacksProviderOutputs, n: StacksProviderInputs): Promise<{ outs: StacksProviderOutputs }>;
  diff(id: string, o: StacksProviderOutputs, n: StacksProviderInputs): Promise<{ changes: boolean }>;
  delete(id: string, o: StacksProviderOutputs): Promise<void>;
};
type Failure = Error & { id?: string; properties?: StacksProviderOutputs & { __provider?: string } };

const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const secretInputs: string[] = [];
function unwrap(v: unknown, at = ""): unknown {
  if (typeof v === "object" && v !== null && SECRET_KEY in v) {
    secretInputs.push(at);
    return unwrap((v as unknown as { value: unknown }).value, at);
  }
  if (Array.isArray(v)) return v.map((x, i) => unwrap(x, `${at}[${i}]`));
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x, at ? `${at}.${k}` : k)]));
  return v;
}

// Deploys wait for convergence over SSH; the project-level testTimeout is not relied upon.
jest.setTimeout(300_000);

const bed = useBedFixture({ name: "stacks-provider", nodes: 2, managers: 1 });
let inv: Inventory;
let key: string;

beforeAll(async () => {
  // The bed as `local up` made it: no node carries a label the templates pin to.
  inv = bed().inventory;
  key = fs.readFileSync(bed().privateKeyPath, "utf8");
  await bootstrap(inv, { privateKeyFor: () => key });
}, 240_000);

afterEach(() => {
  delete providerEnv[CONVERGE_TIMEOUT_ENV];
});

/** Registers a resource under mocks; returns the provider Pulumi would run and its plain inputs. */
async function serialized<P>(
  make: () => pulumi.CustomResource,
): Promise<{ provider: P; inputs: Record<string, unknown> }> {
  let captured: Record<string, unknown> | undefined;
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      captured = args.inputs as Record<string, unknown>;
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  });
  const res = make();
  await new Promise((r) => res.urn.apply(r));
  if (!captured) throw new Error("the resource was never registered");
  const provider = (
    requireFromString(String(captured.__provider), path.join(__dirname, "__provider.js")) as { handler: () => P }
  ).handler();
  return { provider, inputs: unwrap(captured) as Record<string, unknown> };
}

/** StackSecrets first (its values are made and kept before anything else), then Stacks with them. */
type SecretOuts = { values: Record<string, GeneratedSecret> };
async function providers(
  stacks: unknown,
  /** StackSecrets' outputs of an earlier `pulumi up`: this one is then its update, as the engine would run it. */
  earlier?: SecretOuts,
): Promise<{
  provider: Provider;
  inputs: StacksProviderInputs;
  values: Record<string, GeneratedSecret>;
  secretOuts: SecretOuts;
}> {
  const list = parseStacksConfig(stacks, 1500);
  const secrets = await serialized<{
    create(i: unknown): Promise<{ outs: SecretOuts }>;
    update(id: string, olds: SecretOuts, news: unknown): Promise<{ outs: SecretOuts }>;
  }>(() => new StackSecrets("values", { specs: secretSpecs(list) }));
  const secretOuts = earlier
    ? (await secrets.provider.update("stack-secrets", earlier, secrets.inputs)).outs
    : (await secrets.provider.create(secrets.inputs)).outs;
  const { values } = secretOuts;
  const { provider, inputs } = await serialized<Provider>(
    () =>
      new StacksDeployment("stacks", {
        inventory: inv,
        privateKey: key,
        stacks: list,
        secretValues: values,
        localImage: LOCAL_IMAGE,
      }),
  );
  // The provider host hands `__provider` over with the inputs; the provider keeps it in a failure's state.
  return { provider, inputs: inputs as unknown as StacksProviderInputs, values, secretOuts };
}

const config = [
  { template: "traefik", vars: { acme_email: "ops@example.test", dashboard_domain: "t.example.test" } },
  { template: "wordpress", name: "blog", vars: { domain: "blog.example.test" } },
];

describe("stacks in pulumi up (dynamic providers)", () => {
  it("rejects a config with unknown templates or missing variables, naming each entry", () => {
    expect(() =>
      parseStacksConfig([{ template: "wordpres" }, { template: "wordpress", vars: { domian: "x" } }], 1500),
    ).toThrow(
      /hcloud-swarm:stacks\[0\]\.template must be one of traefik, wordpress[\s\S]*\[1\] \(wordpress\): vars\.domian is not a variable[\s\S]*\[1\] \(wordpress\): missing vars\.domain=/,
    );
  });

  it("deploys the configured stacks on an unlabelled cluster, creating the secrets from the kept values, then updates and deletes", async () => {
    const { provider, inputs, values, secretOuts } = await providers(config);
    expect(secretInputs).toEqual(expect.arrayContaining(["privateKey", "secretValues"]));
    const created = await provider.create(inputs);
    expect(Object.keys(created.outs.hashes)).toEqual(["traefik", "blog"]);
    expect(created.outs.unconverged).toEqual([]);
    // The values in the cluster are the ones StackSecrets kept in state before they were created.
    expect(created.outs.generatedSecrets).toEqual(
      Object.fromEntries(Object.values(values).map((v) => [v.name, v.reveal])),
    );
    const s = await connectManager(inv, bed().privateKeyPath);
    try {
      expect((await stackServices(s)).map((x) => x.name).sort()).toEqual([
        "blog_db",
        "blog_wordpress",
        "traefik_traefik",
      ]);
      const pins = Object.fromEntries(
        (await readNodes(s)).map((n) => [
          n.hostname,
          ["traefik-certs", "wordpress-data"].filter((l) => n.labels[l] === "true"),
        ]),
      );
      expect(pins).toEqual({ "manager-1": ["traefik-certs"], "worker-1": ["wordpress-data"] });
      expect(await provider.diff(created.id, created.outs, inputs)).toMatchObject({ changes: false });

      // Dropping wordpress from the config removes that stack and keeps the generated values of the rest.
      const { inputs: fewer } = await providers(config.slice(0, 1), secretOuts);
      expect(await provider.diff(created.id, created.outs, fewer)).toMatchObject({ changes: true });
      const updated = await provider.update(created.id, created.outs, fewer);
      expect((await stackServices(s)).map((x) => x.name)).toEqual(["traefik_traefik"]);
      expect(updated.outs.generatedSecrets.traefik_dashboard_users).toBe(
        created.outs.generatedSecrets.traefik_dashboard_users,
      );

      await provider.delete(created.id, updated.outs);
      expect(await stackServices(s)).toEqual([]);
      expect([...(await secretNames(s))].some((n) => /^traefik_dashboard_users_v[0-9a-f]{8}$/.test(n))).toBe(true);
    } finally {
      s.close();
    }
  });

  it("treats a stack still starting when the wait ends as a warning, and waits for it again on the next update", async () => {
    const { provider, inputs } = await providers(config.slice(1));
    // worker-1, which holds the blog's pin, stalls (frozen, as a VM on a busy host): its tasks
    // cannot start before it is back, and the deploy's wait (one second here) ends first.
    await bed().shape("worker-1", { frozen: true });
    providerEnv[CONVERGE_TIMEOUT_ENV] = "1";
    let created: Awaited<ReturnType<Provider["create"]>>;
    try {
      created = await provider.create(inputs);
    } finally {
      delete providerEnv[CONVERGE_TIMEOUT_ENV];
      await bed().shape("worker-1", { frozen: false });
    }
    expect(created.outs.unconverged).toEqual(["blog"]);
    expect(created.outs.generatedSecrets).toEqual({}); // the blog's secrets exist since the first test
    expect(await provider.diff(created.id, created.outs, inputs)).toMatchObject({ changes: true });
    const again = await provider.update(created.id, created.outs, inputs);
    expect(again.outs.unconverged).toEqual([]);
    expect(await provider.diff(created.id, again.outs, inputs)).toMatchObject({ changes: false });
    await provider.delete(created.id, again.outs);
  });

  it("keeps the created secrets' values in the failure's state when a stack cannot start, and carries them on once it can", async () => {
    const shop = [{ template: "wordpress", name: "shop", vars: { domain: "shop.example.test" } }];
    const { provider, inputs, values } = await providers(shop);
    const s = await connectManager(inv, bed().privateKeyPath);
    try {
      // worker-1 holds the wordpress-data pin since the first test; an operator drains it.
      await s.run("docker node update --availability drain worker-1");
      const failure = (await provider.create(inputs).then(
        () => undefined,
        (e: Failure) => e,
      )) as Failure;
      expect(failure.message).toMatch(
        /stack shop: stopped waiting after [\d.]+ s, because waiting cannot help:[\s\S]*shop_db: 0\/1 running: no ready, active node meets its placement constraints/,
      );
      expect(failure.id).toBe("stacks-shop");
      expect(failure.properties?.__provider).toBe((inputs as unknown as Record<string, unknown>).__provider);
      expect(failure.properties?.generatedSecrets).toEqual({
        shop_db_password: values.shop_db_password.reveal,
        shop_db_root_password: values.shop_db_root_password.reveal,
      });
      expect([...(await secretNames(s))].some((n) => /^shop_db_password_v[0-9a-f]{8}$/.test(n))).toBe(true);

      await s.run("docker node update --availability active worker-1");
      const resumed = await provider.update(failure.id as string, failure.properties as StacksProviderOutputs, inputs);
      expect(resumed.outs.unconverged).toEqual([]);
      expect(resumed.outs.generatedSecrets).toEqual(failure.properties?.generatedSecrets);
      await provider.delete("stacks-shop", resumed.outs);
    } finally {
      await s.run("docker node update --availability active worker-1", { allowFailure: true });
      s.close();
    }
  });
});
