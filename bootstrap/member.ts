// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * One node at a time, for the dynamic provider: make this node a member (create/update), or take
 * it out (delete). Same inspection, planning and operations as a whole-inventory run.
 */
import { BootstrapError } from "./actions";
import { FirewallSettings, Inventory, InventoryNode, SwarmSettings } from "../inventory/inventory";
import type { NodeSpec } from "../nodespec/spec";
import { checkManagerChanges, chooseEntry, matchMembers, pinRefusals } from "./plan";
import { redact } from "../transport/redact";
import { dropFromAllowLists, FIREWALL_WAVE_CONCURRENCY } from "./allow-list";
import { bootstrap, BootstrapResult, DOWN_NODE_SSH_WAIT_MS, inspectManagers, Run } from "./bootstrap";
import { limiter } from "../common/concurrency";
import { scaleDown } from "./scale-down";
import { FORCE_SCALE_DOWN_ENV, pulumiEscape, unknownForced } from "./force-remove";
import { SshSession, waitForSsh } from "../transport/ssh";
import { leaveSwarm, readSwarmInfo } from "./swarm-ops";
import { readNodes } from "../swarm/nodes";

export interface NodeMembership {
  /** The node to add or remove. */
  readonly node: InventoryNode;
  /** The swarm's managers in inventory order; the first one initialises the swarm. */
  readonly managers: readonly InventoryNode[];
  /** Settings used if this call initialises the swarm. Default {}. */
  readonly swarm?: SwarmSettings;
  /** Non-members the nodes' private interface admits (hcloud-swarm:privateAllowedCidrs). Default none. */
  readonly firewall?: FirewallSettings;
  /** What the node runs besides the swarm, reconciled in place (nodespec/). Default: not managed. */
  readonly nodeSpec?: NodeSpec;
  readonly privateKey: string;
  readonly log?: (line: string) => void;
  /**
   * Nodes that may be removed even though they hold a stack's pinned data (HCLOUD_SWARM_FORCE_SCALE_DOWN).
   * Only this node's own name lifts the guard for it. Default none.
   */
  readonly forceRemove?: readonly string[];
}

export { FORCE_SCALE_DOWN_ENV } from "./force-remove";

/** The managers (in order, so manager-1 stays the one that initialises) with this node in its place or appended. */
function inventoryOf(m: NodeMembership, withNode: boolean): Inventory {
  const nodes = m.managers
    .filter((x) => withNode || x.name !== m.node.name)
    .map((x) => (x.name === m.node.name ? m.node : x));
  if (withNode && !nodes.includes(m.node)) nodes.push(m.node);
  return {
    ...(m.swarm ? { swarm: m.swarm } : {}),
    ...(m.firewall ? { firewall: m.firewall } : {}),
    ...(m.nodeSpec ? { nodeSpec: m.nodeSpec } : {}),
    nodes,
  };
}

/** Ensures the node is a member with its role and labels; returns the run and the node's swarm ID. */
export async function joinNode(m: NodeMembership): Promise<{ result: BootstrapResult; nodeId: string }> {
  const result = await bootstrap(inventoryOf(m, true), {
    privateKeyFor: () => m.privateKey,
    targets: new Set([m.node.name]),
    ...(m.log ? { log: m.log } : {}),
  });
  const member = matchMembers({ nodes: [m.node] }, result.members).get(m.node.name);
  if (!member) throw new BootstrapError([`${m.node.name} is not listed by the swarm after joining`], result.actions);
  return { result, nodeId: member.id };
}

/** Takes the node out of the swarm (demote, drain, leave, rm), identified by `nodeId` when known. */
export async function retireNode(m: NodeMembership & { readonly nodeId?: string }): Promise<Run> {
  const run = new Run({ privateKeyFor: () => m.privateKey, ...(m.log ? { log: m.log } : {}) });
  const act = run.act.bind(run);
  let own: SshSession | undefined;
  try {
    const others = inventoryOf(m, false);
    if (others.nodes.length === 0) {
      // The last manager: fine to dissolve when nothing else is left (`pulumi destroy`), refused otherwise.
      own = await waitForSsh(m.node, m.privateKey, {
        timeoutMs: DOWN_NODE_SSH_WAIT_MS,
        ...(m.log ? { log: m.log } : {}),
      });
      const info = await readSwarmInfo(own);
      if (info.state === "inactive") return run;
      const rest = (await readNodes(own)).filter((x) => x.id !== info.nodeId);
      if (rest.length > 0)
        throw new BootstrapError(
          [
            `refusing to remove ${m.node.name}: it is the last manager and ${rest.length} other node(s) are still in the swarm`,
          ],
          [],
        );
      await leaveSwarm(own);
      act({ node: m.node.name, kind: "leave", detail: "last node: swarm dissolved" });
      return run;
    }
    await inspectManagers(run, others.nodes);
    const entry = chooseEntry(others, run.obs);
    if (entry.kind !== "serve") {
      throw new BootstrapError(
        [
          entry.kind === "fail"
            ? entry.problem
            : `no other manager is in a swarm, so ${m.node.name} cannot be removed from one`,
        ],
        [],
      );
    }
    const manager = run.sessions.get(entry.node.name) as SshSession;
    const members = await readNodes(manager);
    const member =
      members.find((x) => x.id === m.nodeId) ?? matchMembers({ nodes: [m.node] }, members).get(m.node.name);
    // Afterwards no remaining member's host firewall accepts the node; also when an earlier delete got as far as the removal.
    const closeFirewalls = async (addresses: string[]): Promise<void> => {
      await dropFromAllowLists(
        {
          run,
          manager,
          inv: others,
          keyNode: entry.node,
          gate: limiter(FIREWALL_WAVE_CONCURRENCY),
          labels: new Map(),
          opening: new Map(),
        },
        addresses,
      );
      if (run.problems.length) throw new BootstrapError(run.problems, run.actions);
    };
    if (!member) {
      run.log(`[${m.node.name}] not a member any more; nothing to remove`);
      await closeFirewalls([m.node.advertiseAddress]);
      return run;
    }
    const removal = [{ kind: "remove" as const, node: m.node.name, entry: member }];
    const pinRefused = pinRefusals(removal, m.forceRemove ?? [], pulumiEscape);
    const refused = [
      ...checkManagerChanges(others, members, removal, false),
      // The list is read for every delete of the run, and a node named there may be gone already
      // (removed by an earlier delete); a name matters, and a typo shows, when this node is refused.
      ...(pinRefused.length
        ? unknownForced(
            m.forceRemove ?? [],
            [m.node.name, ...others.nodes.map((n) => n.name), ...members.map((x) => x.hostname)],
            FORCE_SCALE_DOWN_ENV,
          )
        : []),
      ...pinRefused,
    ];
    if (refused.length) throw new BootstrapError(refused, []);
    if (member.status === "ready") {
      own = await waitForSsh(m.node, m.privateKey, { timeoutMs: DOWN_NODE_SSH_WAIT_MS }).catch((err: Error) => {
        run.warnings.push(`could not reach ${m.node.name} to run \`docker swarm leave\` there: ${redact(err.message)}`);
        return undefined;
      });
    }
    await scaleDown(manager, member, m.node.name, own, act);
    await closeFirewalls([m.node.advertiseAddress, member.addr]);
    return run;
  } finally {
    own?.close();
    run.closeAll();
  }
}
