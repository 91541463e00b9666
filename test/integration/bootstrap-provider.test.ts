/**
 * The SwarmNode dynamic provider exactly as the Pulumi provider host runs it: resources are
 * registered under mocks, their serialized `__provider` is rebuilt with require-from-string and
 * handler(), and create/update/delete run against the local test bed.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { InventoryNode } from "../../inventory/inventory";
import { SwarmNodeInputs, SwarmNodeOutputs } from "../../bootstrap/provider";
import { useBedFixture } from "../support/bed-fixture";
import { joinTokens, localState, members } from "./bootstrap-helpers";

jest.setTimeout(300_000);
// Read by the provider at call time; keeps the test output to the assertions.
process.env.HCLOUD_SWARM_QUIET = "1";

type Provider = Required<pulumi.dynamic.ResourceProvider<SwarmNodeInputs, SwarmNodeOutputs>>;
const registered = new Map<string, Record<string, unknown>>();
pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered.set(args.name, args.inputs as Record<string, unknown>);
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "hcloud-swarm",
  "test",
  false,
);

const bed = useBedFixture({ name: "bootstrap-provider", nodes: 3, managers: 1 });
let SwarmNode: typeof import("../../bootstrap/swarm-node").SwarmNode;
const outs = new Map<string, { id: string; outs: SwarmNodeOutputs }>();
const captured = new Map<string, string>();

/** Registers a SwarmNode under mocks and returns its serialized provider and plain inputs, as the engine would pass them. */
async function register(node: InventoryNode): Promise<{ provider: Provider; inputs: SwarmNodeInputs; source: string }> {
  const key = fs.readFileSync(bed().privateKeyPath, "utf8");
  const r = new SwarmNode(`test-${node.name}`, {
    node,
    managers: [bed().node("manager-1")],
    swarm: bed().inventory.swarm ?? {},
    privateKey: key,
  });
  await new Promise((resolve) => r.urn.apply(resolve));
  const raw = registered.get(`test-${node.name}`) as Record<string, unknown>;
  const source = String(raw.__provider);
  const plain = Object.fromEntries(
    Object.entries(raw)
      .filter(([k]) => k !== "__provider" && k !== "nodeId")
      .map(([k, v]) => [k, pulumi.runtime.unwrapRpcSecret(v)]),
  );
  expect(pulumi.runtime.isRpcSecret(raw.privateKey)).toBe(true);
  const provider = (requireFromString(source) as { handler: () => Provider }).handler();
  captured.set(node.name, source);
  return { provider, inputs: plain as unknown as SwarmNodeInputs, source };
}

describe("the SwarmNode provider, rebuilt from its serialized form", () => {
  beforeAll(async () => {
    ({ SwarmNode } = await import("../../bootstrap/swarm-node"));
  });

  it("rejects bad inputs property by property in check()", async () => {
    const { provider, inputs } = await register(bed().node("worker-1"));
    const bad = {
      ...inputs,
      node: { ...inputs.node, hostKey: "not-a-key", role: "boss" },
      managers: [],
      privateKey: "hunter2hunter2",
    };
    const { failures } = await provider.check(inputs, bad as unknown as SwarmNodeInputs);
    const by = (p: string) =>
      (failures ?? [])
        .filter((f) => f.property === p)
        .map((f) => f.reason)
        .join("\n");
    expect(by("node")).toMatch(/hostKey must be the node's host public key/);
    expect(by("node")).toMatch(/node.role must be "manager" or "worker", got "boss"/);
    expect(by("managers")).toMatch(/managers must list the swarm's managers/);
    expect(by("privateKey")).toMatch(/OpenSSH-format private key/);
    expect(JSON.stringify(failures)).not.toContain("hunter2hunter2");
    expect((await provider.check(inputs, inputs)).failures).toEqual([]);
  });

  it("creates the first manager's membership by initialising the swarm, then joins workers", async () => {
    for (const name of ["manager-1", "worker-1", "worker-2"]) {
      const { provider, inputs } = await register(bed().node(name));
      const created = await provider.create(inputs);
      expect(created.outs?.nodeId).toMatch(/^[a-z0-9]{25}$/);
      outs.set(name, created as { id: string; outs: SwarmNodeOutputs });
    }
    const ms = await members(bed(), "manager-1");
    expect(ms.map((m) => [m.hostname, m.role, m.status]).sort()).toEqual([
      ["manager-1", "manager", "ready"],
      ["worker-1", "worker", "ready"],
      ["worker-2", "worker", "ready"],
    ]);
    expect(ms.find((m) => m.hostname === "worker-1")?.id).toBe(outs.get("worker-1")?.outs.nodeId);
  });

  it("stores no join token and no private key in the serialized provider or the outputs' plain fields", async () => {
    const tokens = await joinTokens(bed(), "manager-1");
    const key = fs.readFileSync(bed().privateKeyPath, "utf8");
    const keyLine = key.split("\n").sort((a, b) => b.length - a.length)[0];
    expect(keyLine.length).toBeGreaterThan(40);
    for (const source of captured.values()) {
      expect(source.length).toBeGreaterThan(1000);
      expect(source).not.toContain(keyLine);
      for (const t of tokens) expect(source).not.toContain(t);
    }
    for (const { outs: o } of outs.values()) {
      const { privateKey, ...plain } = o;
      expect(privateKey).toBe(key); // kept for delete, registered as additionalSecretOutputs
      for (const t of tokens) expect(JSON.stringify(o)).not.toContain(t);
      expect(JSON.stringify(plain)).not.toContain(keyLine);
    }
  });

  it("diffs only on inputs that matter", async () => {
    const { provider, inputs } = await register(bed().node("worker-1"));
    const old = (outs.get("worker-1") as { outs: SwarmNodeOutputs }).outs;
    expect((await provider.diff("x", old, inputs)).changes).toBe(false);
    const m2 = { ...bed().node("manager-1"), name: "manager-2", host: "10.0.0.9" };
    expect(
      (await provider.diff("x", old, { ...inputs, managers: [...inputs.managers, m2], swarm: { overlayMtu: 1450 } }))
        .changes,
    ).toBe(false);
    const relabel = await provider.diff("x", old, { ...inputs, node: { ...inputs.node, labels: { edge: "true" } } });
    expect(relabel).toMatchObject({ changes: true, replaces: [] });
    const rebuilt = await provider.diff("x", old, {
      ...inputs,
      node: { ...inputs.node, hostKey: bed().node("worker-2").hostKey },
    });
    expect(rebuilt).toMatchObject({ changes: true, replaces: ["node.hostKey"], deleteBeforeReplace: true });
  });

  it("updates labels in place, keeping the node ID", async () => {
    const { provider, inputs } = await register({ ...bed().node("worker-1"), labels: { edge: "true" } });
    const old = outs.get("worker-1") as { id: string; outs: SwarmNodeOutputs };
    const updated = await provider.update(old.id, old.outs, inputs);
    expect(updated.outs?.nodeId).toBe(old.outs.nodeId);
    expect((await members(bed(), "manager-1")).find((m) => m.hostname === "worker-1")?.labels).toMatchObject({
      edge: "true",
    });
  });

  it("refuses to delete the last manager while other nodes remain", async () => {
    const { provider } = await register(bed().node("manager-1"));
    const m1 = outs.get("manager-1") as { id: string; outs: SwarmNodeOutputs };
    // The rebuilt code throws errors of the outer realm (not jest's), so compare the message.
    const err = (await provider.delete(m1.id, m1.outs).then(
      () => undefined,
      (e: Error) => e,
    )) as Error | undefined;
    expect(err?.message).toMatch(/refusing to remove manager-1: it is the last manager and 2 other node\(s\)/);
    expect((await localState(bed(), "manager-1")).state).toBe("active");
  });

  it("deletes the workers' memberships in parallel, as pulumi destroy does: each drained, left and removed by its node ID", async () => {
    const gone = await Promise.all(
      ["worker-1", "worker-2"].map(async (name) => {
        const { provider } = await register(bed().node(name));
        const w = outs.get(name) as { id: string; outs: SwarmNodeOutputs };
        await provider.delete(w.id, w.outs);
        return { name, provider, w };
      }),
    );
    const ids = (await members(bed(), "manager-1")).map((m) => m.id);
    for (const { name, w } of gone) {
      expect(ids).not.toContain(w.outs.nodeId);
      expect({ name, state: (await localState(bed(), name)).state }).toEqual({ name, state: "inactive" });
    }
    // Deleting again (a retried destroy) finds nothing to do.
    await expect(gone[1].provider.delete(gone[1].w.id, gone[1].w.outs)).resolves.toBeUndefined();
  });
});
