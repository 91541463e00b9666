/**
 * SwarmNode: one node's swarm membership as a Pulumi resource. Creating it joins the node (the
 * first manager's initialises the swarm); deleting it drains the node and takes it out before its
 * server is destroyed (the resource depends on the server, so Pulumi deletes it first).
 */
import * as pulumi from "@pulumi/pulumi";
import { FirewallSettings, InventoryNode, SwarmSettings } from "../inventory/inventory";
import { swarmNodeProvider } from "./provider";
import type { NodeSpec } from "../nodespec/spec";

/** Type token: "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode". Changing it would replace every membership. */
export const SWARM_NODE_MODULE = "hcloud-swarm";
export const SWARM_NODE_TYPE = "SwarmNode";

/** The Pulumi side (Input<>); the provider sees the plain SwarmNodeInputs. */
export interface SwarmNodeArgs {
  /** This node as the inventory describes it (address, pinned host key, role, labels). Required. */
  readonly node: pulumi.Input<InventoryNode>;
  /** The swarm's managers, first manager first; used to initialise or to find a reachable manager. Required. */
  readonly managers: pulumi.Input<pulumi.Input<InventoryNode>[]>;
  /** Settings for `swarm init` (address pool, overlay MTU). Default {}. */
  readonly swarm?: pulumi.Input<SwarmSettings>;
  /**
   * Non-members the nodes' private interface admits. Only passed when set, so memberships created by
   * earlier releases see no input change.
   */
  readonly firewall?: pulumi.Input<FirewallSettings>;
  /**
   * What the node runs besides the swarm (Docker release, admin keys, daemon.json keys), reconciled in
   * place (nodespec/). Only passed when set, so memberships created by earlier releases see no change.
   */
  readonly nodeSpec?: pulumi.Input<NodeSpec>;
  /** SSH private key (OpenSSH format) for the nodes; stored only as a secret. Required. */
  readonly privateKey: pulumi.Input<string>;
}

export class SwarmNode extends pulumi.dynamic.Resource {
  /** The swarm's ID for this node. */
  declare readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: SwarmNodeArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      swarmNodeProvider,
      name,
      {
        node: args.node,
        managers: args.managers,
        swarm: args.swarm ?? {},
        ...(args.firewall ? { firewall: args.firewall } : {}),
        ...(args.nodeSpec ? { nodeSpec: args.nodeSpec } : {}),
        privateKey: pulumi.secret(args.privateKey),
        nodeId: undefined,
      },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      SWARM_NODE_MODULE,
      SWARM_NODE_TYPE,
    );
  }
}
