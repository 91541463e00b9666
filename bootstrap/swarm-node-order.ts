/**
 * How SwarmCluster (infra/cluster.ts) turns its servers into swarm members: one SwarmNode resource
 * per node (a node's swarm membership; SwarmNode is its one name, and its persisted type token),
 * ordered by dependencies so that Pulumi's parallelism never breaks the swarm:
 * - manager-1's SwarmNode waits for every manager's server: it initialises the swarm only once
 *   it can see that no other manager already holds one (see chooseEntry);
 * - the other managers join one after another (raft adds members one by one);
 * - workers join in parallel once manager-1's SwarmNode exists;
 * - on delete the order reverses, so workers leave before the managers they joined through.
 * Each SwarmNode depends on its own server, so Pulumi deletes it (drain, leave) before the server.
 */
import * as pulumi from "@pulumi/pulumi";
import { FirewallSettings, InventoryNode, NodeRole, SwarmSettings } from "../inventory/inventory";
import { SwarmNode } from "./swarm-node";
import type { NodeSpec } from "../nodespec/spec";

/** What a SwarmNode needs of its node; infra/cluster.ts gives one per server. */
export interface SwarmNodeSource {
  readonly name: string;
  readonly role: NodeRole;
  readonly server: pulumi.Resource;
  readonly inventory: pulumi.Output<InventoryNode>;
}

export interface SwarmNodeOrderArgs {
  /** `swarm init` settings (address pool, overlay MTU). Required. */
  readonly swarm: SwarmSettings;
  /** Non-members the private interface admits; absent when the user opened nothing. */
  readonly firewall?: FirewallSettings;
  /** What every node runs besides the swarm (nodespec/). Default: not managed. */
  readonly nodeSpec?: NodeSpec;
  /** The deploy key (secret). Required. */
  readonly privateKey: pulumi.Input<string>;
  /** Resources every join must wait for, e.g. firewalls that open the swarm ports. Default []. */
  readonly dependsOn?: readonly pulumi.Resource[];
}

/** Creates `${prefix}-${node}-swarm` for every node, in plan order (managers first). */
export function orderedSwarmNodes(
  prefix: string,
  nodes: readonly SwarmNodeSource[],
  args: SwarmNodeOrderArgs,
  parent: pulumi.Resource,
): SwarmNode[] {
  const managers = nodes.filter((n) => n.role === "manager");
  // Only managers: a worker's inputs must not change when the number of workers does.
  const managerInventory = pulumi.all(managers.map((m) => m.inventory));
  const out: SwarmNode[] = [];
  let first: SwarmNode | undefined;
  let previousManager: SwarmNode | undefined;
  for (const n of nodes) {
    const after =
      n.role === "manager"
        ? previousManager
          ? [previousManager]
          : managers.map((m) => m.server)
        : first
          ? [first]
          : [];
    const m = new SwarmNode(
      `${prefix}-${n.name}-swarm`,
      {
        node: n.inventory,
        managers: managerInventory,
        swarm: args.swarm,
        ...(args.firewall ? { firewall: args.firewall } : {}),
        ...(args.nodeSpec ? { nodeSpec: args.nodeSpec } : {}),
        privateKey: args.privateKey,
      },
      { parent, dependsOn: [n.server, ...(args.dependsOn ?? []), ...after] },
    );
    if (n.role === "manager") previousManager = m;
    first ??= m;
    out.push(m);
  }
  return out;
}
