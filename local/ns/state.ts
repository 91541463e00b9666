/**
 * What a bed is, on disk (DIR/state.json), and how to remove it. Teardown is driven by names and
 * tags rather than by pids, so it also works after a crash: whatever the state file says, plus any
 * bed whose bridge alias or rule comments carry this directory's id, is removed completely.
 */
import * as fs from "fs";
import * as path from "path";
import { bedCgroupsPresent, Hierarchy, hostHierarchies, killTree, removeTree } from "./cgroups";
import { bridgeAlias, bedsTaggedWith, removeBedNetwork, removeFirewall } from "./network";
import { releaseNsDir } from "./node";
import { NodeRecord } from "./node-files";
import { MAX_BED, MIN_BED } from "./plan";
import { canonicalDir, dirIdOf } from "../common/bed-dir";

export interface BedState {
  readonly version: 1;
  /** Absolute, symlink-free bed directory. */
  readonly dir: string;
  readonly dirId: string;
  /** Bed number: the bed owns 10.213.K.0/24 and every `hsw<K>` name. */
  readonly k: number;
  readonly nodes: readonly NodeRecord[];
  readonly createdAt: string;
}

/** Files `up` writes into DIR; `down` removes exactly these and leaves anything else in DIR alone. */
const BED_FILES = [
  "state.json",
  "inventory.json",
  "known_hosts",
  "id_ed25519",
  "id_ed25519.pub",
  "nodes",
  "image",
  "ns",
];

export function stateFile(dir: string): string {
  return path.join(dir, "state.json");
}

export function readState(dir: string): BedState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(stateFile(dir), "utf8")) as BedState;
    return s.version === 1 && Number.isInteger(s.k) ? s : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(state: BedState): void {
  const tmp = `${stateFile(state.dir)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(tmp, stateFile(state.dir));
}

/** The bridge alias that marks bed K as belonging to DIR. */
export function ownerAlias(dirId: string, dir: string): string {
  return `hcloud-swarm-bed ${dirId} ${dir}`.slice(0, 250);
}

function ownedBy(k: number, dirId: string): boolean | undefined {
  const alias = bridgeAlias(k);
  if (alias === undefined) return undefined;
  return alias.split(" ")[1] === dirId;
}

/** Bed numbers that belong to DIR: from its state file, and from bridge aliases and rule tags (state may be gone). */
export async function bedsOfDir(dir: string): Promise<number[]> {
  const dirId = dirIdOf(dir);
  const ks = new Set<number>();
  const state = readState(dir);
  // A bridge with another owner means the state file is stale and K was handed to another bed since.
  if (state && ownedBy(state.k, dirId) !== false) ks.add(state.k);
  for (let k = MIN_BED; k <= MAX_BED; k++) if (ownedBy(k, dirId)) ks.add(k);
  for (const k of await bedsTaggedWith(dirId)) if (ownedBy(k, dirId) !== false) ks.add(k);
  return [...ks].sort((a, b) => a - b);
}

/** Removes one bed number completely: processes, namespace pins, rules, links, namespaces, cgroups. */
export async function removeBed(dir: string, k: number, hierarchies: readonly Hierarchy[]): Promise<void> {
  const cg = `hsw${k}`;
  await killTree(hierarchies, cg);
  await releaseNsDir(dir);
  await removeFirewall(k);
  await removeBedNetwork(k);
  removeTree(hierarchies, cg);
}

export interface DownReport {
  /** Bed numbers removed. */
  readonly removed: readonly number[];
}

/** `local down`: removes every bed of DIR and the files `up` wrote there. Safe to run twice or after a crash. */
export async function downBed(dirArg: string): Promise<DownReport> {
  const dir = canonicalDir(dirArg);
  const hierarchies = hostHierarchies();
  const ks = await bedsOfDir(dir);
  for (const k of ks) await removeBed(dir, k, hierarchies);
  await releaseNsDir(dir);
  if (!fs.existsSync(dir)) return { removed: ks };
  for (const f of BED_FILES) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  return { removed: ks };
}

/** Bed numbers present on the host in cgroups (they count as taken when choosing a new K). */
export function cgroupBeds(hierarchies: readonly Hierarchy[]): Set<number> {
  return new Set(bedCgroupsPresent(hierarchies));
}
