/**
 * The VM bed's inventory (pure): SSH to each VM's public address, swarm over its private one, with
 * the swarm settings the Pulumi program exports for a private network (address pool, MTU 1450).
 */
import { Inventory, NodeRole, validateInventory } from "../../inventory/inventory";
import { DEFAULTS } from "../../infra/config";
import { PRIVATE_MTU } from "../../infra/plan";
import { LOCAL_CLUSTER } from "../common/inventory-file";

export interface VmInventoryNode {
  readonly name: string;
  readonly role: NodeRole;
  readonly publicIp: string;
  readonly privateIp: string;
  /** The host public key generated for the node and handed to it in its user data. */
  readonly hostKey: string;
}

export function vmInventory(nodes: readonly VmInventoryNode[], privateKeyPath: string): Inventory {
  return validateInventory(
    {
      cluster: LOCAL_CLUSTER,
      // Autolock off, as on the namespace bed (local/ns/inventory.ts says why); `bootstrap --autolock` turns it on.
      swarm: {
        defaultAddrPool: DEFAULTS.swarmAddressPool,
        defaultAddrPoolMaskLength: 24,
        overlayMtu: PRIVATE_MTU,
        autolock: false,
      },
      nodes: nodes.map((n) => ({
        name: n.name,
        role: n.role,
        host: n.publicIp,
        port: 22,
        user: "root",
        privateKeyPath,
        hostKey: n.hostKey,
        advertiseAddress: n.privateIp,
        publicAddress: n.publicIp,
        privateAddress: n.privateIp,
        labels: {},
      })),
    },
    "VM bed inventory",
  );
}
