/**
 * A lock file shared by processes: the image cache (two beds may want the same image at once) and a
 * VM bed's state (a Pulumi engine creates servers in parallel, possibly from several processes).
 * The file is created with O_EXCL and holds the owner's pid; a lock whose owner is gone is stale and
 * taken over, so a crashed `up` never blocks the next one.
 */
import * as fs from "fs";
import { sleep } from "../../common/time";
import { pidExists } from "../common/process";

/** Polling is cheap (one open(2)); 100 ms keeps a waiting boot responsive without spinning. */
const LOCK_POLL_MS = 100;

/** An empty lock file younger than this is being written by its owner; an older one is a crash between open and write. */
const UNWRITTEN_GRACE_MS = 5_000;

function ownerAlive(file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return true; // removed or replaced meanwhile: the next attempt will tell
  }
  if (text === "") {
    try {
      return Date.now() - fs.statSync(file).mtimeMs < UNWRITTEN_GRACE_MS;
    } catch {
      return true;
    }
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return pid === process.pid || pidExists(pid);
}

/** In-process queue per lock file: the O_EXCL file alone cannot tell two callers of one process apart. */
const local = new Map<string, Promise<void>>();

async function acquire(file: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = fs.openSync(file, "wx", 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (!ownerAlive(file)) {
      // Rename first: of two processes finding the same stale lock, only one removes it.
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
        fs.rmSync(aside, { force: true });
      } catch {
        // another process took it over first
      }
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: still locked by another process after ${Math.round(timeoutMs / 1000)} s (lock file ${file}, owner pid ${fs.readFileSync(file, "utf8").trim()})`,
      );
    await sleep(LOCK_POLL_MS);
  }
}

/** Runs `fn` while holding the lock `file`; waits at most `timeoutMs` for it. */
export async function withLock<T>(file: string, timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
  const before = local.get(file) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const chained = before.then(() => mine);
  local.set(file, chained);
  try {
    await before;
    await acquire(file, timeoutMs, what);
    try {
      return await fn();
    } finally {
      fs.rmSync(file, { force: true });
    }
  } finally {
    release();
    if (local.get(file) === chained) local.delete(file);
  }
}
