/**
 * A second `pulumi up` with the same config must change nothing. The state a diff gets back (from
 * Pulumi's engine, or the rehearsal's checkpoint) need not keep the program's key order, so every
 * diff compares structure, not JSON text.
 */
import { sameValue } from "../../common/same-value";
import { InventoryNode } from "../../inventory/inventory";
import { diffInputs, SwarmNodeInputs } from "../../bootstrap/provider";
import { stacksProvider, StacksProviderInputs, StacksProviderOutputs } from "../../stacks/pulumi/provider";

/** The same value with every object's keys in reverse order, as a state file may hand it back. */
function reordered<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reordered) as T;
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reordered(x)]),
    ) as T;
  return v;
}

const w1: InventoryNode = {
  name: "worker-1",
  role: "worker",
  host: "10.9.0.21",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAkey21",
  advertiseAddress: "10.9.0.21",
  labels: { location: "nbg1", edge: "false" },
};
const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n";
const stacksInputs: StacksProviderInputs = {
  inventory: { nodes: [w1], swarm: { overlayMtu: 1450 } },
  privateKey: key,
  stacks: [
    {
      name: "wordpress",
      file: "stacks/templates/wordpress/stack.yml",
      text: "version: '3.8'\n",
      vars: { domain: "blog.example.test", title: "x" },
      pins: [{ label: "wordpress-data", node: "worker-1" }],
    },
  ],
};

describe("structural equality for diffs", () => {
  it("ignores key order and keys whose value is undefined, and still sees every real difference", () => {
    expect(sameValue({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameValue({ a: 1, pins: undefined }, { a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue({ a: "1" }, { a: 1 })).toBe(false);
    expect(sameValue({ a: [] }, { a: {} })).toBe(false);
  });
});

describe("a second pulumi up with the same config changes nothing", () => {
  it("SwarmNode: the same node read back with its keys (labels included) in another order", () => {
    const inputs: SwarmNodeInputs = { node: w1, managers: [w1], swarm: {}, privateKey: key };
    expect(diffInputs(reordered({ ...inputs, nodeId: "abc" }), inputs).changes).toBe(false);
    // A membership created before privateAllowedCidrs existed has no firewall input: an empty list is no change.
    expect(diffInputs({ ...inputs, nodeId: "abc" }, { ...inputs, firewall: { privateAllowedCidrs: [] } }).changes).toBe(
      false,
    );
    const opened = diffInputs(
      { ...inputs, nodeId: "abc" },
      { ...inputs, firewall: { privateAllowedCidrs: ["10.0.1.0/24"] } },
    );
    expect([opened.changes, opened.replaces]).toEqual([true, []]);
    expect(
      diffInputs(reordered({ ...inputs, nodeId: "abc" }), {
        ...inputs,
        node: { ...w1, labels: { ...w1.labels, edge: "true" } },
      }).changes,
    ).toBe(true);
  });

  it("Stacks: the same stacks and inventory read back in another key order; a changed variable is a change", async () => {
    const olds: StacksProviderOutputs = reordered({
      ...stacksInputs,
      hashes: { wordpress: "h" },
      generatedSecrets: {},
      unconverged: [],
    });
    expect((await stacksProvider.diff!("id", olds, stacksInputs)).changes).toBe(false);
    const changed = {
      ...stacksInputs,
      stacks: [{ ...stacksInputs.stacks[0], vars: { domain: "other.example.test", title: "x" } }],
    };
    expect((await stacksProvider.diff!("id", olds, changed)).changes).toBe(true);
    // A new secret value (StackSecrets made another) must reach the services: a change, not silence.
    const secret = { name: "wordpress_db_password", content: "new", reveal: "new" };
    const rotated = { ...stacksInputs, secretValues: { ...stacksInputs.secretValues, wordpress_db_password: secret } };
    expect((await stacksProvider.diff!("id", olds, rotated)).changes).toBe(true);
  });
});
