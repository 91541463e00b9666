/**
 * Where a bed of either kind keeps its inventory.json (exactly the shape the Pulumi program exports)
 * and a known_hosts file for plain `ssh` with the pinned host keys, and how they are written. Each
 * kind builds its inventory itself (ns/inventory.ts, vm/inventory.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { Inventory, knownHosts } from "../../inventory/inventory";

/** Cluster name written to a bed's inventory. */
export const LOCAL_CLUSTER = "local";

export function inventoryPath(dir: string): string {
  return path.join(dir, "inventory.json");
}

export function knownHostsPath(dir: string): string {
  return path.join(dir, "known_hosts");
}

/** Writes inventory.json (atomically) and known_hosts; returns the inventory path. */
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
