/**
 * Controls on a node's cgroup for `local shape`: freeze and thaw every process in it (the cgroup
 * freezer, as a stalled VM would be), and cap its CPU (CFS bandwidth). Both act on the node's
 * cgroup, so they cover dockerd, sshd, SSH sessions and containers alike. Works on cgroup v1
 * (freezer.state, cpu.cfs_quota_us) and v2 (cgroup.freeze, cpu.max), whichever the host mounts.
 */
import * as fs from "fs";
import * as path from "path";
import type { Hierarchy } from "./cgroups";
import { waitFor } from "../../common/time";

/** The kernel freezes or thaws a node's few hundred tasks in milliseconds; longer means a task is stuck in the kernel. */
export const FREEZE_TIMEOUT_MS = 10_000;
/** CFS period: 100 ms is the kernel's default, short enough that a 20% cap looks like a slow CPU rather than pauses. */
export const CFS_PERIOD_US = 100_000;

const hasOption = (h: Hierarchy, o: string): boolean => h.options.split(",").includes(o);
const v1 = (hs: readonly Hierarchy[], controller: string): Hierarchy | undefined =>
  hs.find((h) => h.fstype === "cgroup" && hasOption(h, controller));
const v2 = (hs: readonly Hierarchy[]): Hierarchy | undefined => hs.find((h) => h.fstype === "cgroup2");

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Where freezing is done for a cgroup `rel` (e.g. "hsw3/worker-1"): v1 freezer if mounted, else v2's cgroup.freeze. */
function freezeFile(hs: readonly Hierarchy[], rel: string): { file: string; v1: boolean } {
  const f = v1(hs, "freezer");
  if (f) return { file: path.join(f.mountpoint, rel, "freezer.state"), v1: true };
  const u = v2(hs);
  if (u && fs.existsSync(path.join(u.mountpoint, rel, "cgroup.freeze")))
    return { file: path.join(u.mountpoint, rel, "cgroup.freeze"), v1: false };
  throw new Error(
    `cannot freeze ${rel}: the host mounts no cgroup v1 freezer and its cgroup v2 has no cgroup.freeze (kernel older than 5.2)`,
  );
}

export function isFrozen(hs: readonly Hierarchy[], rel: string): boolean {
  const { file, v1: old } = freezeFile(hs, rel);
  if (old) return read(file) === "FROZEN";
  return /^frozen 1$/m.test(read(path.join(path.dirname(file), "cgroup.events")) ?? "");
}

/** Freezes (true) or thaws (false) every process below `rel` and waits until the kernel says it is done. */
export async function setFrozen(hs: readonly Hierarchy[], rel: string, frozen: boolean): Promise<void> {
  const { file, v1: old } = freezeFile(hs, rel);
  fs.writeFileSync(file, old ? (frozen ? "FROZEN" : "THAWED") : frozen ? "1" : "0");
  if (!(await waitFor(() => isFrozen(hs, rel) === frozen, FREEZE_TIMEOUT_MS, 10))) {
    throw new Error(
      `${rel} did not ${frozen ? "freeze" : "thaw"} within ${FREEZE_TIMEOUT_MS / 1000} s (${file}: ${read(file)})`,
    );
  }
}

/**
 * Thaws every frozen cgroup under `rel`. On cgroup v1 a frozen task does not act on SIGKILL until
 * it is thawed, so a power cut or a teardown of a frozen node must thaw it first.
 */
export async function thawTree(hs: readonly Hierarchy[], rel: string): Promise<void> {
  const h = v1(hs, "freezer") ?? v2(hs);
  if (!h || !fs.existsSync(path.join(h.mountpoint, rel))) return;
  const file = h.fstype === "cgroup" ? "freezer.state" : "cgroup.freeze";
  // A frozen parent freezes its children without changing their own setting: thaw top-down.
  const walk = async (sub: string): Promise<void> => {
    const state = read(path.join(h.mountpoint, sub, file));
    if (state === "FROZEN" || state === "FREEZING" || state === "1") await setFrozen(hs, sub, false);
    for (const e of fs.readdirSync(path.join(h.mountpoint, sub), { withFileTypes: true }))
      if (e.isDirectory()) await walk(path.join(sub, e.name));
  };
  await walk(rel);
}

/** Where the CPU cap of `rel` is set: v1 cpu controller, or v2 cpu.max (the cpu controller enabled for the bed if needed). */
function cpuFiles(hs: readonly Hierarchy[], rel: string): { v1: true; dir: string } | { v1: false; file: string } {
  const c = v1(hs, "cpu");
  if (c) return { v1: true, dir: path.join(c.mountpoint, rel) };
  const u = v2(hs);
  if (!u)
    throw new Error(
      `cannot cap the CPU of ${rel}: the host mounts no cpu controller (neither cgroup v1 cpu nor cgroup v2)`,
    );
  const dir = path.join(u.mountpoint, rel);
  if (!fs.existsSync(path.join(dir, "cpu.max"))) {
    const parent = path.dirname(dir);
    if (!(read(path.join(parent, "cgroup.controllers")) ?? "").split(" ").includes("cpu")) {
      throw new Error(
        `cannot cap the CPU of ${rel}: the cgroup v2 cpu controller is not delegated to ${parent} (its cgroup.controllers lacks cpu)`,
      );
    }
    fs.writeFileSync(path.join(parent, "cgroup.subtree_control"), "+cpu");
  }
  return { v1: false, file: path.join(dir, "cpu.max") };
}

/** The CPU cap of `rel` in percent of one core, undefined when uncapped. */
export function cpuCap(hs: readonly Hierarchy[], rel: string): number | undefined {
  const c = v1(hs, "cpu");
  const u = v2(hs);
  if (c) {
    const quota = Number(read(path.join(c.mountpoint, rel, "cpu.cfs_quota_us")));
    const period = Number(read(path.join(c.mountpoint, rel, "cpu.cfs_period_us")));
    return quota > 0 && period > 0 ? Math.round((quota / period) * 10_000) / 100 : undefined;
  }
  const [quota, period] = (u ? (read(path.join(u.mountpoint, rel, "cpu.max")) ?? "max") : "max").split(" ");
  return quota === "max" || !period ? undefined : Math.round((Number(quota) / Number(period)) * 10_000) / 100;
}

/** Caps `rel` at `percent` of one core (e.g. 20), or lifts the cap (undefined). */
export function setCpuCap(hs: readonly Hierarchy[], rel: string, percent: number | undefined): void {
  const where = cpuFiles(hs, rel);
  const quota = percent === undefined ? undefined : Math.max(1_000, Math.round((CFS_PERIOD_US * percent) / 100));
  if (where.v1) {
    fs.writeFileSync(path.join(where.dir, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
    fs.writeFileSync(path.join(where.dir, "cpu.cfs_quota_us"), quota === undefined ? "-1" : String(quota));
  } else {
    fs.writeFileSync(where.file, `${quota === undefined ? "max" : quota} ${CFS_PERIOD_US}`);
  }
}
