/**
 * Keeps the guest image cache from filling a developer's disk: every recipe change (a package, a
 * hook, the host's apt sources) makes a new ~1.1 GB image, and old ones were never removed.
 *
 * What is kept: the image being opened, every image a VM bed on this machine still uses (a running
 * qemu boots from it, or a bed's state names it for its next boot), every image used within the
 * last PRUNE_GRACE_MS (another process may be about to boot from it), and the KEEP_RECENT_IMAGES
 * most recently used ones (a developer switching between two branches rebuilds nothing). Everything
 * else is removed when a bed opens, with the leftovers of builds and probes whose process is gone.
 */
import * as fs from "fs";
import * as path from "path";
import { MAX_VM_BED, MIN_VM_BED } from "./plan";
import { readVmState } from "./state";
import { pidExists, processArgv } from "../common/process";

/** Images kept beyond those in use: the current recipe and the ones before it. */
export const KEEP_RECENT_IMAGES = 3;
/** An image used this recently may be booted from by a bed that is opening right now (its state is not written yet). */
export const PRUNE_GRACE_MS = 60 * 60_000;
/** Touched each time a bed opens the image: what "recently used" is measured by. */
export const LAST_USED_FILE = "last-used";
const HASH = /^[0-9a-f]{16}$/;

export interface CachedImage {
  readonly hash: string;
  /** When a bed last opened it (ms since the epoch). */
  readonly lastUsed: number;
  readonly bytes: number;
}

/** Which images to remove (pure): none in use, none used within the grace period, not among the newest `keep`. */
export function imagesToPrune(
  images: readonly CachedImage[],
  inUse: ReadonlySet<string>,
  now: number,
  keep = KEEP_RECENT_IMAGES,
  graceMs = PRUNE_GRACE_MS,
): CachedImage[] {
  const newest = new Set(
    [...images]
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .slice(0, keep)
      .map((i) => i.hash),
  );
  return images.filter((i) => !inUse.has(i.hash) && !newest.has(i.hash) && now - i.lastUsed >= graceMs);
}

function sizeOf(p: string): number {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.blocks * 512;
  return fs.readdirSync(p).reduce((sum, e) => sum + sizeOf(path.join(p, e)), 0);
}

function mtime(p: string): number | undefined {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Complete images in the cache, with when each was last used. */
export function cachedImages(cache: string): CachedImage[] {
  const out: CachedImage[] = [];
  for (const e of fs.existsSync(cache) ? fs.readdirSync(cache) : []) {
    const dir = path.join(cache, e);
    if (!HASH.test(e) || !fs.existsSync(path.join(dir, "recipe.json"))) continue;
    const lastUsed = mtime(path.join(dir, LAST_USED_FILE)) ?? mtime(path.join(dir, "recipe.json")) ?? 0;
    out.push({ hash: e, lastUsed, bytes: sizeOf(dir) });
  }
  return out;
}

/** Hashes of images in `cache` that a running qemu boots from, or a VM bed of this machine names in its state. */
export function imagesInUse(cache: string): Set<string> {
  const used = new Set<string>();
  const prefix = `${path.resolve(cache)}/`;
  for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    for (const arg of processArgv(Number(pid))) {
      if (!arg.startsWith(prefix) && !arg.includes(`file=${prefix}`)) continue;
      const hash = arg.slice(arg.indexOf(prefix) + prefix.length).split("/")[0];
      if (HASH.test(hash)) used.add(hash);
    }
  }
  // A bed's state.json names its image; its host veth's alias names its directory (ownerAliasOf).
  for (let k = MIN_VM_BED; k <= MAX_VM_BED; k++) {
    let alias: string;
    try {
      alias = fs.readFileSync(`/sys/class/net/hsv${k}/ifalias`, "utf8").trim();
    } catch {
      continue;
    }
    const dir = alias.split(" ").slice(2).join(" ");
    const hash = dir ? readVmState(dir)?.image.hash : undefined;
    if (hash) used.add(hash);
  }
  return used;
}

/** Marks `hash` as used now. */
export function touchImage(cache: string, hash: string): void {
  const f = path.join(cache, hash, LAST_USED_FILE);
  fs.writeFileSync(f, `${new Date().toISOString()}\n`);
}

/**
 * Removes images no bed needs (see the file comment), build directories and scratch files of
 * processes that are gone, and KVM probe results of earlier boots; returns one line per removal.
 */
export function pruneCache(cache: string, current: string, now = Date.now()): string[] {
  const removed: string[] = [];
  const inUse = imagesInUse(cache);
  inUse.add(current);
  for (const img of imagesToPrune(cachedImages(cache), inUse, now)) {
    fs.rmSync(path.join(cache, img.hash), { recursive: true, force: true });
    fs.rmSync(path.join(cache, `${img.hash}.lock`), { force: true });
    removed.push(
      `guest image ${img.hash} (${(img.bytes / 2 ** 30).toFixed(1)} GiB, last used ${new Date(img.lastUsed).toISOString()})`,
    );
  }
  const bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  const present = new Set(cachedImages(cache).map((i) => i.hash));
  for (const e of fs.readdirSync(cache)) {
    const build = /^[0-9a-f]{16}\.build-(\d+)$/.exec(e) ?? /^tar-(\d+)-/.exec(e) ?? /\.console-(\d+)$/.exec(e);
    const probe = /^accel-(.+)-([0-9a-f]{16})\.json$/.exec(e);
    const stale = build ? !pidExists(Number(build[1])) : probe ? probe[1] !== bootId || !present.has(probe[2]) : false;
    if (!stale) continue;
    fs.rmSync(path.join(cache, e), { recursive: true, force: true });
    removed.push(
      build ? `${e} (left by process ${build[1]}, which is gone)` : `${e} (KVM probe result of another boot or image)`,
    );
  }
  return removed;
}
