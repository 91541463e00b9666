/**
 * The package's public entry (`import { SwarmCluster } from "hcloud-swarm"`): the component and its
 * arguments, for a Pulumi program of the user's own. Not infra/index.ts: that module is this
 * project's own Pulumi program (Pulumi.yaml `main`), which reads the stack's config and creates a
 * cluster as soon as it is imported.
 */
export { SwarmCluster, type NodeResources, type SwarmClusterArgs } from "./cluster";
export type { Inventory, InventoryNode } from "../inventory/inventory";
