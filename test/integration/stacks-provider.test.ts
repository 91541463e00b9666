/**
 * The Pulumi stacks resource, end to end: constructed under pulumi.runtime.setMocks, its
 * serialized provider (`__provider`) rebuilt with require-from-string exactly as Pulumi's
 * provider host does, then create/update/delete run against a real swarm on the test bed.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import type { Inventory } from "../../inventory/inventory";
import { bootstrap } from "../../bootstrap/run";
import { connectManager, secretNames, stackServices } from "../../stacks/cluster";
import type { StacksProviderInputs, StacksProviderOutputs } from "../../stacks/provider";
import { StacksDeployment } from "../../stacks/resource";
import { parseStacksConfig } from "../../stacks/stack-config";
import { LOCAL_IMAGE, useTestbed } from "../support/testbed";

type Provider = {
  create(i: StacksProviderInputs): Promise<{ id: string; outs: StacksProviderOutputs }>;
  update(id: string, o: StacksProviderOutputs, n: StacksProviderInputs): Promise<{ outs: StacksProviderOutputs }>;
  diff(id: string, o: StacksProviderOutputs, n: StacksProviderInputs): Promise<{ changes: boolean }>;
  delete(id: string, o: StacksProviderOutputs): Promise<void>;
};

const SECRET_KEY = "4dabf18193072939515e22adb298388d";
const secretInputs: string[] = [];
function unwrap(v: unknown, at = ""): unknown {
  if (typeof v === "object" && v !== null && SECRET_KEY in v) {
    secretInputs.push(at);
    return unwrap((v as unknown as { value: unknown }).value, at);
  }
  if (Array.isArray(v)) return v.map((x, i) => unwrap(x, `${at}[${i}]`));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x, at ? `${at}.${k}` : k)]));
  return v;
}

// Deploys wait for convergence over SSH; the project-level testTimeout is not relied upon.
jest.setTimeout(300_000);

const bed = useTestbed({ name: "stacks-provider", nodes: 2, managers: 1 });
let inv: Inventory;
let key: string;

beforeAll(async () => {
  const base = bed().inventory;
  inv = { ...base, nodes: base.nodes.map((n) => ({ ...n, labels: n.role === "manager" ? { "traefik-certs": "true", "wordpress-data": "true" } : ({} as Record<string, string>) })) };
  key = fs.readFileSync(bed().privateKeyPath, "utf8");
  await bootstrap(inv, { privateKeyFor: () => key });
}, 240_000);

/** Builds the resource under mocks and returns the provider Pulumi would run, with its plain inputs. */
async function serializedProvider(stacks: unknown): Promise<{ provider: Provider; inputs: StacksProviderInputs }> {
  let captured: Record<string, unknown> | undefined;
  await pulumi.runtime.setMocks({
    newResource: (args) => {
      captured = args.inputs as Record<string, unknown>;
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  });
  const res = new StacksDeployment("stacks", { inventory: inv, privateKey: key, stacks: parseStacksConfig(stacks, 1500), localImage: LOCAL_IMAGE });
  await new Promise((r) => res.urn.apply(r));
  if (!captured) throw new Error("the resource was never registered");
  const provider = (requireFromString(String(captured.__provider), path.join(__dirname, "__provider.js")) as { handler: () => Provider }).handler();
  const rest = Object.fromEntries(Object.entries(captured).filter(([k]) => k !== "__provider"));
  return { provider, inputs: unwrap(rest) as StacksProviderInputs };
}

describe("stacks in pulumi up (dynamic provider)", () => {
  const config = [
    { template: "traefik", vars: { acme_email: "ops@example.test", dashboard_domain: "t.example.test" } },
    { template: "wordpress", name: "blog", vars: { domain: "blog.example.test" } },
  ];

  it("rejects a config with unknown templates or missing variables, naming each entry", () => {
    expect(() => parseStacksConfig([{ template: "wordpres" }, { template: "wordpress", vars: { domian: "x" } }], 1500)).toThrow(
      /hcloud-swarm:stacks\[0\]\.template must be one of traefik, wordpress[\s\S]*\[1\] \(wordpress\): vars\.domian is not a variable[\s\S]*\[1\] \(wordpress\): missing vars\.domain=/,
    );
  });

  it("deploys the configured stacks from the serialized provider, carries generated secrets over updates, and removes the stacks on delete", async () => {
    const { provider, inputs } = await serializedProvider(config);
    expect(secretInputs).toContain("privateKey");
    const created = await provider.create(inputs);
    expect(Object.keys(created.outs.hashes)).toEqual(["traefik", "blog"]);
    expect(Object.keys(created.outs.generatedSecrets).sort()).toEqual(["blog_db_password", "blog_db_root_password", "traefik_dashboard_users"]);
    const s = await connectManager(inv, bed().privateKeyPath);
    try {
      expect((await stackServices(s)).map((x) => x.name).sort()).toEqual(["blog_db", "blog_wordpress", "traefik_traefik"]);
      expect(await provider.diff(created.id, created.outs, inputs)).toMatchObject({ changes: false });

      // Dropping wordpress from the config removes that stack and keeps the generated values of the rest.
      const { inputs: fewer } = await serializedProvider(config.slice(0, 1));
      expect(await provider.diff(created.id, created.outs, fewer)).toMatchObject({ changes: true });
      const updated = await provider.update(created.id, created.outs, fewer);
      expect((await stackServices(s)).map((x) => x.name)).toEqual(["traefik_traefik"]);
      expect(updated.outs.generatedSecrets.traefik_dashboard_users).toBe(created.outs.generatedSecrets.traefik_dashboard_users);

      await provider.delete(created.id, updated.outs);
      expect(await stackServices(s)).toEqual([]);
      expect((await secretNames(s)).has("traefik_dashboard_users")).toBe(true);
    } finally {
      s.close();
    }
  });
});
