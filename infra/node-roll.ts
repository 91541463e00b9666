// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * NodeRoll: one node's pending day-2 action (today: a resize), done by a dynamic resource so that
 * Pulumi's dependency order makes the actions sequential and fenced by a drain. @pulumi/hcloud
 * would resize every server whose serverType changed at once, powering each off hard; the servers
 * therefore ignore serverType changes (infra/cluster.ts) and each NodeRoll depends on the previous
 * one, managers first: node k is only drained once node k-1 is back, Ready and active.
 *
 * A NodeRoll is registered only in the run that needs it (infra/day2.ts decides from what Hetzner
 * says each server is now); the next run no longer registers it and its delete does nothing. A run
 * that stops at a node that did not come back leaves no record of it, so the next run resumes
 * there: the resize itself is idempotent (infra/hcloud-actions.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type { Inventory } from "../inventory/inventory";
import { resizeServer } from "./hcloud-actions";
import { minimalRollNode, type RollNode } from "./roll-node";

export interface ResizeAction {
  readonly kind: "resize";
  readonly from: string;
  readonly to: string;
  readonly keepDisk: boolean;
}

/** Plain provider-side inputs. */
interface NodeRollInputs {
  readonly node: string;
  readonly action: ResizeAction;
  readonly serverId: number;
  readonly inventory: Inventory;
  readonly privateKey: string;
  /** The swarm's unlock keys (autolock), newest first; absent with autolock off. */
  readonly unlockKeys?: string[];
  /** hcloud:token; default $HCLOUD_TOKEN, read when the roll runs. */
  readonly hcloudToken?: string;
  /** The NodeRoll this one waits for ("" for the first). */
  readonly after: string;
}

/** What is kept in state: no key, no token. */
interface NodeRollOutputs {
  readonly node: string;
  readonly action: ResizeAction;
  readonly serverId: number;
  readonly after: string;
}

/** The rolling engine used; the seam of roll-node.ts. */
const rollNode: RollNode = minimalRollNode;

const describeAction = (a: ResizeAction) =>
  `resize ${a.from} → ${a.to} (${a.keepDisk ? "disk kept" : "disk upgraded"})`;

const provider: pulumi.dynamic.ResourceProvider<NodeRollInputs, NodeRollOutputs> = {
  async create(inputs: NodeRollInputs): Promise<pulumi.dynamic.CreateResult<NodeRollOutputs>> {
    const node = inputs.inventory.nodes.find((n) => n.name === inputs.node);
    if (!node) throw new Error(`${inputs.node} is not in the inventory`);
    const log = (line: string) => console.log(line);
    const a = inputs.action;
    await rollNode({
      node,
      inventory: inputs.inventory,
      privateKey: inputs.privateKey,
      ...(inputs.unlockKeys?.length ? { unlockKeys: inputs.unlockKeys } : {}),
      action: describeAction(a),
      act: () =>
        resizeServer(
          { ...(inputs.hcloudToken ? { token: inputs.hcloudToken } : {}) },
          inputs.serverId,
          a.to,
          a.keepDisk,
          log,
        ),
      log,
    });
    return {
      id: `${inputs.node}-${a.kind}-${a.to}`,
      outs: { node: inputs.node, action: a, serverId: inputs.serverId, after: inputs.after },
    };
  },
  // Only another action (or another server) is new work; a changed inventory or key is not.
  async diff(_id: string, olds: NodeRollOutputs, news: NodeRollInputs): Promise<pulumi.dynamic.DiffResult> {
    const same = JSON.stringify([olds.action, olds.serverId]) === JSON.stringify([news.action, news.serverId]);
    return same ? { changes: false } : { changes: true, replaces: ["action"] };
  },
  // Nothing to undo: the node keeps its new type.
  async delete(): Promise<void> {},
};

export interface NodeRollArgs {
  readonly node: string;
  readonly action: ResizeAction;
  readonly serverId: pulumi.Input<number>;
  readonly inventory: pulumi.Input<Inventory>;
  readonly privateKey: pulumi.Input<string>;
  /** SwarmKeys' unlockKeys (a secret output). */
  readonly unlockKeys?: pulumi.Input<string[]>;
  readonly hcloudToken?: pulumi.Input<string>;
  readonly after: pulumi.Input<string>;
}

/** Type token: "pulumi-nodejs:dynamic/hcloud-swarm:NodeRoll". Persisted in state: never rename. */
export const NODE_ROLL_TYPE = "NodeRoll";

export class NodeRoll extends pulumi.dynamic.Resource {
  constructor(name: string, args: NodeRollArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args }, opts, "hcloud-swarm", NODE_ROLL_TYPE);
  }
}
