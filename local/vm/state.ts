/**
 * A VM bed on disk: DIR/state.json (kind "vm") and DIR/vms/<name>/ (overlay disk, seed, console
 * log, pid file). Changes go through `updateState`, which holds DIR's lock, so VMs booted in
 * parallel (a Pulumi engine creates servers concurrently) never lose each other's records.
 */
import * as fs from "fs";
import * as path from "path";
import { withLock } from "./lock";
import type { Accel } from "./qemu";

export interface VmRecord {
  readonly name: string;
  /** Stable per VM: its public address and tap names derive from it. */
  readonly slot: number;
  readonly publicIp: string;
  readonly privateIp: string;
  readonly instanceId: string;
  readonly bootedAt: string;
}

export interface VmBedState {
  readonly version: 1;
  readonly kind: "vm";
  /** Absolute, symlink-free bed directory. */
  readonly dir: string;
  readonly dirId: string;
  /** Bed number: the bed owns namespace hsv<K> and 10.215.K.0/24. */
  readonly k: number;
  readonly privateCidr: string;
  readonly accel: Accel;
  readonly accelReason: string;
  readonly image: { readonly hash: string; readonly kernel: string; readonly initrd: string; readonly disk: string };
  readonly vms: readonly VmRecord[];
  readonly createdAt: string;
}

/** State changes are a few file writes; a lock held longer than this belongs to a hung process. */
const STATE_LOCK_TIMEOUT_MS = 60_000;

export function stateFile(dir: string): string {
  return path.join(dir, "state.json");
}

export function vmDir(dir: string, name: string): string {
  return path.join(dir, "vms", name);
}

export interface VmPaths {
  readonly root: string;
  readonly disk: string;
  readonly seed: string;
  readonly console: string;
  readonly pidFile: string;
}

export function vmPaths(dir: string, name: string): VmPaths {
  const root = vmDir(dir, name);
  return {
    root,
    disk: path.join(root, "disk.qcow2"),
    seed: path.join(root, "seed.iso"),
    console: path.join(root, "console.log"),
    pidFile: path.join(root, "qemu.pid"),
  };
}

/** The bed's state, or undefined when DIR holds no VM bed (no state, or a namespace bed's). */
export function readVmState(dir: string): VmBedState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(stateFile(dir), "utf8")) as VmBedState;
    return s.version === 1 && s.kind === "vm" && Number.isInteger(s.k) ? s : undefined;
  } catch {
    return undefined;
  }
}

export function writeVmState(state: VmBedState): void {
  const tmp = `${stateFile(state.dir)}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(tmp, stateFile(state.dir));
}

/** Reads, changes and writes the state under DIR's lock; returns what `change` returned. */
export async function updateState<T>(
  dir: string,
  change: (s: VmBedState) => { state: VmBedState; result: T },
): Promise<T> {
  return withLock(path.join(dir, "state.lock"), STATE_LOCK_TIMEOUT_MS, `VM bed ${dir}`, async () => {
    const s = readVmState(dir);
    if (!s) throw new Error(`no VM bed in ${dir} (its state.json is gone); create one again`);
    const { state, result } = change(s);
    if (state !== s) writeVmState(state);
    return result;
  });
}

/** Files a VM bed writes into DIR; `down` removes exactly these. */
export const VM_BED_FILES = [
  "state.json",
  "state.lock",
  "inventory.json",
  "known_hosts",
  "id_ed25519",
  "id_ed25519.pub",
  "vms",
];
