/**
 * What /proc says about a process of this host, one meaning per question. Beds stop daemons they
 * started (a zombie has exited: it is not running), and honour lock files and cache builds of other
 * processes (a pid that exists is taken, whoever owns it: EPERM means it exists).
 */
import * as fs from "fs";

/** The one-letter state from /proc/PID/status ("R", "S", "T" stopped, "Z" zombie…); "" when the pid is gone. */
export function processState(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}

/** True while the process runs: it exists and has not exited (a zombie, exited but not yet reaped, is not running). */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== "" && state !== "Z";
}

/** True when some process holds this pid, ours or another user's (kill(0) answering EPERM); a zombie still holds it. */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's argv from /proc/PID/cmdline; [] when the pid is gone. */
export function processArgv(pid: number): string[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "");
  } catch {
    return [];
  }
}
