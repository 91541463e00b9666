// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * An SSH session to a manager of the swarm: the first one of the inventory that answers, with its
 * pinned host key. Every read of the swarm (./facts) and every stack deploy runs over one.
 */
import * as fs from "fs";
import { type Inventory, type InventoryNode, managers } from "../inventory/inventory";
import { connect, type SshSession } from "../transport/ssh";

/** Connects to the first manager that answers (managers in inventory order), with its pinned host key. */
export async function managerSession(
  inv: Inventory,
  privateKeyFor: (node: InventoryNode) => string,
): Promise<SshSession> {
  const failures: string[] = [];
  for (const node of managers(inv)) {
    try {
      return await connect(node, privateKeyFor(node));
    } catch (err) {
      failures.push(`${node.name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no manager reachable over SSH:\n  ${failures.join("\n  ")}`);
}

/** The private key for a node: --identity, else the inventory's privateKeyPath. */
export function keyFileReader(identity?: string): (node: InventoryNode) => string {
  return (node) => {
    const keyFile = identity ?? node.privateKeyPath;
    if (!keyFile)
      throw new Error(`no private key for ${node.name}: give --identity KEY or privateKeyPath in the inventory`);
    return fs.readFileSync(keyFile, "utf8");
  };
}

export function connectManager(inv: Inventory, identity?: string): Promise<SshSession> {
  return managerSession(inv, keyFileReader(identity));
}
