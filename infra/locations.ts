/**
 * Where each node lives. Pure. Hetzner can only move a server to another location by replacing it
 * (`location` is ForceNew), which loses its disk and public address. So the rule is:
 *
 * - a node that exists stays where it is, for life, whatever `locations` says now;
 * - a new node goes to the listed location that has the fewest nodes of its role (existing ones
 *   counted), the first listed on a tie.
 *
 * On a fresh cluster this is round robin (node i of a role in locations[(i-1) % n]), so clusters
 * created before the rule keep their layout. Appending a location therefore moves no node, and the
 * next nodes fill the new location first. The plan learns where nodes are from the cloud (infra/day2.ts),
 * so it never claims a node is somewhere it is not.
 */
import type { NodeRole } from "../inventory/inventory";

export interface Placement {
  readonly location: string;
  /** 0-based rank of the node among its role's nodes in its location, by index: decides its placement group. */
  readonly ordinal: number;
}

export interface LocationInput {
  readonly locations: readonly string[];
  readonly managers: number;
  readonly workers: number;
}

/** Node name ("worker-3") → its placement; `existing` maps node names to where they are now. */
export function placeNodes(
  config: LocationInput,
  existing: ReadonlyMap<string, string> = new Map(),
): Map<string, Placement> {
  const out = new Map<string, Placement>();
  for (const role of ["manager", "worker"] as const satisfies readonly NodeRole[]) {
    const count = role === "manager" ? config.managers : config.workers;
    const names = Array.from({ length: count }, (_, i) => `${role}-${i + 1}`);
    const location = new Map<string, string>();
    const load = new Map(config.locations.map((l) => [l, 0]));
    for (const name of names) {
      const where = existing.get(name);
      if (where === undefined) continue;
      location.set(name, where);
      if (load.has(where)) load.set(where, (load.get(where) ?? 0) + 1);
    }
    for (const name of names) {
      if (location.has(name)) continue;
      let best = config.locations[0];
      for (const l of config.locations) if ((load.get(l) ?? 0) < (load.get(best) ?? 0)) best = l;
      location.set(name, best);
      load.set(best, (load.get(best) ?? 0) + 1);
    }
    const rank = new Map<string, number>();
    for (const name of names) {
      const where = location.get(name) ?? "";
      out.set(name, { location: where, ordinal: rank.get(where) ?? 0 });
      rank.set(where, (rank.get(where) ?? 0) + 1);
    }
  }
  return out;
}
