/**
 * A VM bed shaped as locations (pure): which delay each node gets towards which peers so that the
 * round trip between two nodes is the one between their locations. Each direction carries half of
 * it (both nodes add theirs), with jitter as a share of that half.
 */
import { ShapeRequest } from "../common/shape-request";

/** Location name → the nodes in it. */
export type Locations = Readonly<Record<string, readonly string[]>>;

/** Round trips used by the resilience suite (issue 11: 0.2 ms inside a location, 12–25 ms between). */
export const THREE_LOCATIONS_RTT_MS: Readonly<Record<string, number>> = {
  inside: 0.2,
  "nbg1-fsn1": 12,
  "nbg1-hel1": 25,
  "fsn1-hel1": 20,
};
/** Jitter as a share of the one-way delay. */
export const LOCATION_JITTER_SHARE = 0.1;

function rttBetween(table: Readonly<Record<string, number>>, a: string, b: string): number {
  const v = a === b ? table.inside : (table[`${a}-${b}`] ?? table[`${b}-${a}`]);
  if (v === undefined) throw new Error(`no round trip given between ${a} and ${b}`);
  return v;
}

/** One shape request per node and peer location (pure). */
export function locationRequests(
  locations: Locations,
  rttMs: Readonly<Record<string, number>> = THREE_LOCATIONS_RTT_MS,
  jitterShare = LOCATION_JITTER_SHARE,
): { node: string; req: ShapeRequest }[] {
  const out: { node: string; req: ShapeRequest }[] = [];
  for (const [here, nodes] of Object.entries(locations)) {
    for (const [there, peers] of Object.entries(locations)) {
      const oneWay = rttBetween(rttMs, here, there) / 2;
      for (const node of nodes) {
        const to = peers.filter((p) => p !== node);
        if (to.length > 0)
          out.push({ node, req: { delayMs: oneWay, jitterMs: Math.round(oneWay * jitterShare * 1000) / 1000, to } });
      }
    }
  }
  return out;
}
