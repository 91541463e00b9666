/**
 * Every dynamic provider the program registers, rebuilt from its serialized text exactly as Pulumi's
 * provider host does, and run. The rules these providers must follow are in
 * docs/design/dynamic-providers.md; a break of one of them shows up here instead of at `pulumi up`.
 */
import * as path from "path";
import requireFromString from "require-from-string";
import { runProgramDetailed } from "../support/pulumi";

jest.setTimeout(120_000);

type Provider = Record<string, ((...args: unknown[]) => Promise<Record<string, unknown>>) | undefined>;

const DYNAMIC = "pulumi-nodejs:dynamic/";
const stacks = [
  { template: "traefik", vars: { acme_email: "ops@example.com", dashboard_domain: "traefik.example.com" } },
  { template: "wordpress", vars: { domain: "blog.example.com" } },
];

function rebuild(source: string): Provider {
  const mod = requireFromString(source, path.join(__dirname, "__provider.js")) as { handler: () => Provider };
  return mod.handler();
}

describe("dynamic providers after serialization", () => {
  let run: Awaited<ReturnType<typeof runProgramDetailed>>;
  beforeAll(async () => {
    run = await runProgramDetailed({ serverType: "cx23", managers: 1, workers: 1, stacks: JSON.stringify(stacks) });
  });

  const byType = () => {
    const seen = new Map<string, { inputs: Record<string, unknown>; state: Record<string, unknown> }>();
    for (const r of run.resources) if (r.type.startsWith(DYNAMIC) && !seen.has(r.type)) seen.set(r.type, r);
    return seen;
  };

  it("registers every provider the product has", () => {
    expect([...byType().keys()].map((t) => t.slice(DYNAMIC.length)).sort()).toEqual([
      "hcloud-swarm:SshKeyPair",
      "hcloud-swarm:StackSecrets",
      "hcloud-swarm:Stacks",
      "hcloud-swarm:SwarmKeys",
      "hcloud-swarm:SwarmNode",
    ]);
  });

  it("rebuilds each provider and runs its diff (and check, where it has one) on the program's own inputs", async () => {
    for (const [type, r] of byType()) {
      const provider = rebuild(String(r.inputs.__provider));
      const inputs = Object.fromEntries(Object.entries(r.inputs).filter(([k]) => k !== "__provider"));
      expect({ type, diff: typeof provider.diff }).toEqual({ type, diff: "function" });
      const diff = await provider.diff?.("id", { ...inputs, ...r.state }, inputs);
      expect({ type, changes: diff?.changes }).toEqual({ type, changes: false });
      if (provider.check) {
        const checked = await provider.check({}, inputs);
        expect({ type, failures: checked.failures ?? [] }).toEqual({ type, failures: [] });
      }
    }
  });

  it("serializes no module-level Map or Set (rule 1): their methods would be borrowed from whatever global happens to hold one", () => {
    for (const r of run.resources.filter((x) => x.type.startsWith(DYNAMIC))) {
      expect({
        type: r.type,
        borrowed:
          String(r.inputs.__provider).match(
            /Object\.getPrototypeOf\(global\.\w+\)|global\.(Set|Map|WeakSet|WeakMap)\.prototype/g,
          ) ?? [],
      }).toEqual({ type: r.type, borrowed: [] });
    }
  });

  it("serializes no private key into any provider's text", () => {
    const secrets = [String(run.outputs.sshPrivateKey)];
    for (const r of run.resources.filter((x) => x.type.endsWith("SshKeyPair")))
      secrets.push(String(r.state.privateKey));
    expect(secrets.every((s) => s.includes("PRIVATE KEY"))).toBe(true);
    for (const r of run.resources.filter((x) => x.type.startsWith(DYNAMIC))) {
      const text = String(r.inputs.__provider);
      for (const s of secrets) expect(text.includes(s.split("\n")[1])).toBe(false);
    }
  });
});
