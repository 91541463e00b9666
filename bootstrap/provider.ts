// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The dynamic provider behind SwarmNode: create joins the node (or initialises the swarm on the
 * first manager), update applies role and label changes, delete runs the scale-down path. The same
 * code as `hcloud-swarm bootstrap`, one node per call.
 *
 * Pulumi serializes this object into state and re-runs it in its provider host, so: no module state
 * that could carry secrets (see redact.ts), environment read inside the methods, join tokens never
 * returned (they are fetched at join time), and the private key kept only as a secret output.
 */
import type * as pulumi from "@pulumi/pulumi";
import { FirewallSettings, InventoryNode, SwarmSettings, validateInventory } from "../inventory/inventory";
import { joinNode, retireNode } from "./member";
import { forcedFromEnv } from "./force-remove";
import { sameValue } from "../common/same-value";
import { NodeSpec, nodeSpecProblems } from "../nodespec/spec";

/** Plain provider-side inputs; the Pulumi side is SwarmNodeArgs (./swarm-node). */
export interface SwarmNodeInputs {
  readonly node: InventoryNode;
  readonly managers: readonly InventoryNode[];
  readonly swarm: SwarmSettings;
  readonly firewall?: FirewallSettings;
  /** What the node runs besides the swarm (nodespec/); absent on memberships created before issue 18. */
  readonly nodeSpec?: NodeSpec;
  readonly privateKey: string;
}

/** Plain provider-side outputs: the inputs (the key stays secret) plus what the swarm assigned. */
export interface SwarmNodeOutputs extends SwarmNodeInputs {
  /** The swarm's node ID; delete removes exactly this member. */
  readonly nodeId: string;
}

/** How Pulumi marks a value that is not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Set to "1" to make delete leave the swarm alone (e.g. destroying a stack whose managers are gone). */
export const SKIP_SCALE_DOWN_ENV = "HCLOUD_SWARM_SKIP_SCALE_DOWN";

const isUnknown = (v: unknown): boolean => v === UNKNOWN || (typeof v === "string" && v.includes(UNKNOWN));
const hasUnknown = (v: unknown): boolean =>
  isUnknown(v) || (typeof v === "object" && v !== null && Object.values(v).some(hasUnknown));

function problemsOf(value: unknown): string[] {
  try {
    validateInventory(value);
    return [];
  } catch (err) {
    return (err as { problems?: string[] }).problems ?? [(err as Error).message];
  }
}

/** Rejects bad inputs property by property, with the same messages as the inventory validator. */
export function checkInputs(news: Record<string, unknown>): pulumi.dynamic.CheckFailure[] {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const fail = (property: string, reasons: string[]) =>
    reasons.forEach((reason) => failures.push({ property, reason }));
  const node = news.node as Record<string, unknown> | undefined;
  if (!hasUnknown(node)) {
    if (typeof node !== "object" || node === null)
      fail("node", ["node must be an inventory node {name, role, host, hostKey, advertiseAddress, …}"]);
    else
      fail(
        "node",
        problemsOf({ nodes: [{ ...node, role: "manager" }] }).concat(
          node.role === "manager" || node.role === "worker"
            ? []
            : [`node.role must be "manager" or "worker", got ${JSON.stringify(node.role)}`],
        ),
      );
  }
  const managers = news.managers;
  if (!hasUnknown(managers)) {
    if (!Array.isArray(managers) || managers.length === 0)
      fail("managers", ["managers must list the swarm's managers, first manager first"]);
    else
      fail(
        "managers",
        problemsOf({ nodes: managers }).concat(
          managers.some((m) => (m as { role?: unknown })?.role !== "manager")
            ? ['every entry of managers must have "role": "manager"']
            : [],
        ),
      );
  }
  if (!hasUnknown(news.swarm) && news.swarm !== undefined) {
    fail(
      "swarm",
      problemsOf({
        swarm: news.swarm,
        nodes: [
          { name: "m", role: "manager", host: "127.0.0.1", hostKey: "ssh-ed25519 AAAA", advertiseAddress: "127.0.0.1" },
        ],
      }),
    );
  }
  if (!hasUnknown(news.firewall) && news.firewall !== undefined) {
    fail(
      "firewall",
      problemsOf({
        firewall: news.firewall,
        nodes: [
          { name: "m", role: "manager", host: "127.0.0.1", hostKey: "ssh-ed25519 AAAA", advertiseAddress: "127.0.0.1" },
        ],
      }),
    );
  }
  if (!hasUnknown(news.nodeSpec) && news.nodeSpec !== undefined)
    fail("nodeSpec", nodeSpecProblems(news.nodeSpec, "nodeSpec"));
  const key = news.privateKey;
  if (!isUnknown(key) && (typeof key !== "string" || !/-----BEGIN OPENSSH PRIVATE KEY-----/.test(key))) {
    // The reason never quotes the value: it is a secret.
    fail("privateKey", ["privateKey must be an OpenSSH-format private key (-----BEGIN OPENSSH PRIVATE KEY-----)"]);
  }
  return failures;
}

/** Node fields that identify the machine: a change means another server, so the membership is replaced. */
const IDENTITY: readonly (keyof InventoryNode)[] = ["name", "host", "port", "user", "hostKey", "advertiseAddress"];

/**
 * Only what changes the swarm counts: the node's identity (replace), its role or labels (update),
 * and the key (update, so delete has the current one). The managers list is only a set of entry
 * points and swarm settings only matter at init, so changes there touch nothing.
 */
export function diffInputs(olds: SwarmNodeOutputs, news: SwarmNodeInputs): pulumi.dynamic.DiffResult {
  const replaces = IDENTITY.filter((k) => !sameValue(olds.node?.[k], news.node?.[k])).map((k) => `node.${k}`);
  const updates: string[] = [];
  if (olds.node?.role !== news.node?.role) updates.push("node.role");
  if (!sameValue(olds.node?.labels ?? {}, news.node?.labels ?? {})) updates.push("node.labels");
  if (olds.privateKey !== news.privateKey) updates.push("privateKey");
  // Applied in place: the node's next run rebuilds its host firewall with the new ranges.
  if (!sameValue(olds.firewall?.privateAllowedCidrs ?? [], news.firewall?.privateAllowedCidrs ?? []))
    updates.push("firewall");
  // Applied in place by the node reconcile step; what needs a restart is left to `hcloud-swarm upgrade`.
  if (!sameValue(olds.nodeSpec ?? {}, news.nodeSpec ?? {})) updates.push("nodeSpec");
  const changed = [...replaces, ...updates];
  return {
    changes: changed.length > 0,
    replaces,
    deleteBeforeReplace: true,
    ...(changed.length ? { stables: ["nodeId"] } : {}),
  };
}

function logger(): (line: string) => void {
  // Read at call time (not captured): the provider host's environment decides.
  const quiet = process.env.HCLOUD_SWARM_QUIET === "1";
  return (line) => {
    if (!quiet) console.log(line);
  };
}

async function ensure(inputs: SwarmNodeInputs): Promise<SwarmNodeOutputs> {
  // Progress and every action go to the log as they happen (Pulumi shows them as info lines).
  const { nodeId } = await joinNode({ ...inputs, log: logger() });
  return { ...inputs, nodeId };
}

export const swarmNodeProvider: pulumi.dynamic.ResourceProvider<SwarmNodeInputs, SwarmNodeOutputs> = {
  async check(_olds, news) {
    const failures = checkInputs(news as unknown as Record<string, unknown>);
    return { inputs: news, failures };
  },
  async diff(_id, olds, news) {
    return diffInputs(olds, news);
  },
  async create(inputs) {
    const outs = await ensure(inputs);
    return { id: `${inputs.node.name}:${outs.nodeId}`, outs };
  },
  async update(_id, _olds, news) {
    return { outs: await ensure(news) };
  },
  async delete(_id, props) {
    if (process.env[SKIP_SCALE_DOWN_ENV] === "1") return;
    await retireNode({ ...props, log: logger(), forceRemove: forcedFromEnv(process.env) });
  },
};
