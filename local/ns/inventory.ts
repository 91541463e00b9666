/**
 * The namespace bed's inventory (pure): every node is reached and advertises on its one address on
 * the bed's bridge, in the shape the Pulumi program exports, validated by the validator bootstrap uses.
 */
import { Inventory, validateInventory } from "../../inventory/inventory";
import { LOCAL_CLUSTER } from "../common/inventory-file";
import { NodeRecord } from "./node-files";
import { LOCAL_ADDR_POOL } from "./plan";

export interface InventoryInput {
  readonly dir: string;
  readonly nodes: readonly NodeRecord[];
  /** Node name → host public key ("ssh-ed25519 AAAA…"). */
  readonly hostKeys: ReadonlyMap<string, string>;
  readonly privateKeyPath: string;
}

/** Builds and validates the inventory. */
export function buildInventory(input: InventoryInput): Inventory {
  const raw = {
    cluster: LOCAL_CLUSTER,
    // 1500 is the veth MTU on the bed's bridge. Autolock off: the beds' tests cut nodes' power and
    // expect them back, and every bed shares the cluster name "local" (so one default key file); a
    // test of autolock turns it on with `bootstrap --autolock` and its own key file.
    swarm: { defaultAddrPool: LOCAL_ADDR_POOL, overlayMtu: 1500, autolock: false },
    nodes: input.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      host: n.ip,
      port: 22,
      user: "root",
      privateKeyPath: input.privateKeyPath,
      hostKey: input.hostKeys.get(n.name) ?? "",
      advertiseAddress: n.ip,
      labels: {},
    })),
  };
  return validateInventory(raw, "local test bed inventory");
}
