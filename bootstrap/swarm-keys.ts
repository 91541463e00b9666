/**
 * SwarmKeys: the swarm's keys as a Pulumi resource, one per cluster, after every SwarmNode. It
 * holds autolock's unlock keys as a secret output (`unlockKeys`, newest first), turns autolock on or
 * off in place, opens locked managers, and rotates the join tokens after new members joined.
 */
import * as pulumi from "@pulumi/pulumi";
import type { InventoryNode } from "../inventory/inventory";
import { swarmKeysProvider } from "./swarm-keys-provider";
import { SWARM_NODE_MODULE } from "./swarm-node";

/** Type token: "pulumi-nodejs:dynamic/hcloud-swarm:SwarmKeys". Changing it would orphan the kept unlock key. */
export const SWARM_KEYS_TYPE = "SwarmKeys";

export interface SwarmKeysArgs {
  readonly managers: pulumi.Input<pulumi.Input<InventoryNode>[]>;
  /** SSH private key for the managers; stored only as a secret. */
  readonly privateKey: pulumi.Input<string>;
  /** Autolock on or off (config key autolock). */
  readonly autolock: boolean;
  /** Resource IDs of every SwarmNode. */
  readonly members: pulumi.Input<pulumi.Input<string>[]>;
}

export class SwarmKeys extends pulumi.dynamic.Resource {
  /** The swarm's unlock keys, newest first; empty with autolock off. Secret. */
  declare readonly unlockKeys: pulumi.Output<string[]>;
  /** The backup key, a key file's text (`hcloud-swarm backup --key-file`). Secret. */
  declare readonly backupKey: pulumi.Output<string>;

  constructor(name: string, args: SwarmKeysArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      swarmKeysProvider,
      name,
      {
        managers: args.managers,
        privateKey: pulumi.secret(args.privateKey),
        autolock: args.autolock,
        members: args.members,
        unlockKeys: undefined,
        backupKey: undefined,
      },
      { ...opts, additionalSecretOutputs: ["privateKey", "unlockKeys", "backupKey"] },
      SWARM_NODE_MODULE,
      SWARM_KEYS_TYPE,
    );
  }
}
