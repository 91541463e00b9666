/**
 * What a restore will do, decided before anything changes: pure, from the archive's manifest and
 * what every node reports. Refusals name what was found and the flag that overrides it.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { canServe, Observation } from "../bootstrap/plan";
import type { Manifest } from "./manifest";

export interface RestoreFlags {
  /** Restore over a running swarm. */
  readonly force: boolean;
  /** Restore a backup whose manifest names another cluster. */
  readonly otherCluster: boolean;
}

export interface RestorePlan {
  /** The manager that gets the backup's state and forms the new cluster. */
  readonly target?: InventoryNode;
  /** Nodes that are in a swarm now and must leave it before they rejoin the restored one. */
  readonly leave: readonly InventoryNode[];
  /** Nodes that could not be reached: bootstrap will report them; the restore goes on without them. */
  readonly unreachable: readonly string[];
  /** Reasons not to run, every one of them. */
  readonly refusals: readonly string[];
  /** What will happen, for the user to read before confirming. */
  readonly steps: readonly string[];
}

export function describeBackup(m: Manifest): string {
  return `cluster "${m.cluster}" (swarm ${m.clusterId}), taken ${m.createdAt} from ${m.source.node}, ${m.nodes.length} nodes, Docker ${m.dockerVersion}`;
}

export function planRestore(
  inv: Inventory,
  manifest: Manifest,
  obs: ReadonlyMap<string, Observation>,
  flags: RestoreFlags,
  source: string,
): RestorePlan {
  const cluster = inv.cluster ?? "hcloud-swarm";
  const refusals: string[] = [];
  if (manifest.cluster !== cluster && !flags.otherCluster) {
    refusals.push(
      `${source} is a backup of cluster "${manifest.cluster}" (swarm ${manifest.clusterId}), but the inventory is cluster "${cluster}"; pass --other-cluster to restore it here anyway`,
    );
  }
  const serving = inv.nodes.filter((n) => n.role === "manager" && canServe(obs.get(n.name)));
  if (serving.length > 0 && !flags.force) {
    const o = obs.get(serving[0].name) as { info: { clusterId: string } };
    refusals.push(
      `the swarm is running: ${serving.map((n) => n.name).join(", ")} ${serving.length === 1 ? "is an active manager" : "are active managers"} of swarm ${o.info.clusterId} with a leader; ` +
        `restore would replace its state with the backup's and make every other node leave and rejoin; pass --force to do that (for lost managers, \`hcloud-swarm recover\` keeps the running state)`,
    );
  }
  const reachable = (n: InventoryNode) => obs.get(n.name)?.reachable === true;
  const managers = inv.nodes.filter((n) => n.role === "manager");
  // The node the state came from first: its advertise address is the one in the restored Raft log.
  const target = managers.find((n) => n.name === manifest.source.node && reachable(n)) ?? managers.find(reachable);
  if (!target)
    refusals.push(
      `no manager of the inventory can be reached over SSH: ${managers.map((n) => `${n.name} (${(obs.get(n.name) as { error?: string } | undefined)?.error ?? "not inspected"})`).join(", ")}`,
    );
  const leave = inv.nodes.filter(
    (n) => n !== target && reachable(n) && (obs.get(n.name) as { info: { state: string } }).info.state !== "inactive",
  );
  const unreachable = inv.nodes.filter((n) => !reachable(n)).map((n) => n.name);
  const steps = target
    ? [
        ...leave.map((n) => `${n.name}: docker swarm leave --force (it rejoins the restored swarm below)`),
        `${target.name}: stop dockerd, replace its swarm directory with the backup's (${manifest.files.length} files), start dockerd`,
        `${target.name}: docker swarm init --force-new-cluster --advertise-addr ${target.advertiseAddress}`,
        `${target.name}: remove the backup's entries of the other nodes (their labels are carried over to the rejoined nodes)`,
        `bootstrap: join every other node of the inventory to the restored swarm`,
      ]
    : [];
  return { ...(target ? { target } : {}), leave, unreachable, refusals, steps };
}
