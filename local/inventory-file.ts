/**
 * Writes the bed's inventory.json in exactly the shape the Pulumi program exports, validated with
 * the same validator bootstrap uses, plus a known_hosts file for plain `ssh` with pinned host keys.
 */
import * as fs from "fs";
import * as path from "path";
import { Inventory, knownHosts, validateInventory } from "../inventory/inventory";
import { NodeRecord } from "./ns/node-files";
import { LOCAL_ADDR_POOL, LOCAL_CLUSTER } from "./ns/plan";

export interface InventoryInput {
  readonly dir: string;
  readonly nodes: readonly NodeRecord[];
  /** Node name → host public key ("ssh-ed25519 AAAA…"). */
  readonly hostKeys: ReadonlyMap<string, string>;
  readonly privateKeyPath: string;
}

export function inventoryPath(dir: string): string {
  return path.join(dir, "inventory.json");
}

export function knownHostsPath(dir: string): string {
  return path.join(dir, "known_hosts");
}

/** Builds and validates the inventory (pure). */
export function buildInventory(input: InventoryInput): Inventory {
  const raw = {
    cluster: LOCAL_CLUSTER,
    // 1500 is the veth MTU on the bed's bridge.
    swarm: { defaultAddrPool: LOCAL_ADDR_POOL, overlayMtu: 1500 },
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

/** Writes inventory.json and known_hosts; returns the inventory path. */
export function writeInventory(dir: string, inv: Inventory): string {
  const file = inventoryPath(dir);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(inv, null, 2) + "\n");
  fs.renameSync(tmp, file);
  fs.writeFileSync(knownHostsPath(dir), knownHosts(inv.nodes));
  return file;
}

/** Host keys of an existing inventory, to keep them when nodes are added. */
export function hostKeysOf(inv: Inventory): Map<string, string> {
  return new Map(inv.nodes.map((n) => [n.name, n.hostKey]));
}
