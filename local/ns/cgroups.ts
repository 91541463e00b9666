/**
 * Cgroups of the test bed. Every node's processes (sshd, dockerd, containerd, shims, containers and
 * SSH sessions) live under `<hierarchy>/hsw<K>/<node>` in every hierarchy the host mounts, so
 * teardown finds every process of a bed or a node, even after a crash, without trusting pidfiles.
 */
import * as fs from "fs";
import * as path from "path";
import { thawTree } from "./cgroup-controls";
import { sleep } from "../../common/time";

export interface Hierarchy {
  /** Where the host mounts it, e.g. /sys/fs/cgroup/memory. */
  readonly mountpoint: string;
  readonly fstype: "cgroup" | "cgroup2";
  /** Mount options that select the same hierarchy again inside a node (v1 only), e.g. "cpu" or "none,name=systemd". */
  readonly options: string;
}

const CGROUP_ROOT = "/sys/fs/cgroup";
/** Killing a node's processes and waiting for the kernel to drop them from cgroup.procs takes well under this. */
const KILL_TIMEOUT_MS = 10_000;

/** The host's cgroup hierarchies under /sys/fs/cgroup, read from /proc/self/mountinfo. */
export function hostHierarchies(): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const mountpoint = left.split(" ")[4];
    const [fstype, , superOpts = ""] = right.split(" ");
    if ((fstype !== "cgroup" && fstype !== "cgroup2") || !mountpoint.startsWith(CGROUP_ROOT)) continue;
    const keep = superOpts
      .split(",")
      .filter((o) => o !== "rw" && o !== "ro" && !o.startsWith("release_agent") && o !== "clone_children");
    const controllers = keep.filter((o) => !o.startsWith("name=") && o !== "xattr" && o !== "noprefix");
    const options = fstype === "cgroup" && controllers.length === 0 ? ["none", ...keep].join(",") : keep.join(",");
    out.push({ mountpoint, fstype, options });
  }
  if (out.length === 0)
    throw new Error(
      `no cgroup hierarchy is mounted under ${CGROUP_ROOT}; the test bed needs cgroups to track node processes`,
    );
  return out;
}

/** Shell lines, run inside a node's fresh mount namespace, that mount the same hierarchies there. */
export function mountScript(hierarchies: readonly Hierarchy[]): string {
  if (hierarchies.length === 1 && hierarchies[0].mountpoint === CGROUP_ROOT)
    return `mount -t cgroup2 cgroup2 ${CGROUP_ROOT}`;
  const lines = [`mount -t tmpfs -o mode=755 cgroup ${CGROUP_ROOT}`];
  for (const h of hierarchies) {
    lines.push(`mkdir -p ${h.mountpoint}`);
    lines.push(
      h.fstype === "cgroup2"
        ? `mount -t cgroup2 cgroup2 ${h.mountpoint}`
        : `mount -t cgroup -o ${h.options} cgroup ${h.mountpoint}`,
    );
  }
  return lines.join("\n");
}

/** Path of a bed's (or, with `node`, a node's) cgroup in one hierarchy. */
export function cgroupDir(h: Hierarchy, bedCgroup: string, node?: string): string {
  return node ? path.join(h.mountpoint, bedCgroup, node) : path.join(h.mountpoint, bedCgroup);
}

/**
 * Node processes (dockerd, sshd, sessions) sit in a leaf below the node's cgroup, and containers in
 * siblings of it (dockerd's cgroup-parent is the node's cgroup): cgroup v2 forbids processes in a
 * cgroup whose children use controllers, so the node cgroup itself stays empty.
 */
const LEAF = "daemons";

/** The cgroup.procs files a process writes its pid into to join a node (same paths inside the node). */
export function procsFiles(hierarchies: readonly Hierarchy[], bedCgroup: string, node: string): string[] {
  return hierarchies.map((h) => path.join(cgroupDir(h, bedCgroup, node), LEAF, "cgroup.procs"));
}

function copyIfEmpty(dir: string, file: string): void {
  const target = path.join(dir, file);
  if (fs.readFileSync(target, "utf8").trim() === "")
    fs.writeFileSync(target, fs.readFileSync(path.join(path.dirname(dir), file), "utf8"));
}

/** Creates the node's cgroup in every hierarchy; v1 cpuset needs cpus and mems before a process may join. */
export function createNodeCgroups(hierarchies: readonly Hierarchy[], bedCgroup: string, node: string): void {
  for (const h of hierarchies) {
    const bedDir = cgroupDir(h, bedCgroup);
    const nodeDir = cgroupDir(h, bedCgroup, node);
    const leafDir = path.join(nodeDir, LEAF);
    fs.mkdirSync(leafDir, { recursive: true });
    if (h.fstype === "cgroup" && h.options.split(",").includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        copyIfEmpty(bedDir, f);
        copyIfEmpty(nodeDir, f);
        copyIfEmpty(leafDir, f);
      }
    }
  }
}

function readPids(file: string): number[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** All pids in a cgroup subtree of every hierarchy. */
export function pidsIn(hierarchies: readonly Hierarchy[], rel: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const p of readPids(path.join(dir, "cgroup.procs"))) pids.add(p);
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const h of hierarchies) walk(path.join(h.mountpoint, rel));
  return [...pids];
}

/** SIGKILLs every process in the subtree until none is left: a power cut for a node or a whole bed. */
export async function killTree(hierarchies: readonly Hierarchy[], rel: string): Promise<void> {
  // A frozen task (`local shape --freeze`) ignores SIGKILL until it is thawed.
  await thawTree(hierarchies, rel);
  const deadline = Date.now() + KILL_TIMEOUT_MS;
  for (;;) {
    const pids = pidsIn(hierarchies, rel);
    if (pids.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`processes ${pids.join(", ")} in cgroup ${rel} survived SIGKILL for ${KILL_TIMEOUT_MS / 1000} s`);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone between reading cgroup.procs and the kill.
      }
    }
    await sleep(20);
  }
}

/** Removes the cgroup subtree depth-first in every hierarchy (after killTree emptied it). */
export function removeTree(hierarchies: readonly Hierarchy[], rel: string): void {
  const rm = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rm(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw new Error(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
    }
  };
  for (const h of hierarchies) rm(path.join(h.mountpoint, rel));
}

/** Bed cgroups present on the host, as bed numbers (for finding leftovers). */
export function bedCgroupsPresent(hierarchies: readonly Hierarchy[]): number[] {
  const ks = new Set<number>();
  for (const h of hierarchies) {
    try {
      for (const name of fs.readdirSync(h.mountpoint)) {
        const m = /^hsw(\d+)$/.exec(name);
        if (m) ks.add(Number(m[1]));
      }
    } catch {
      // Hierarchy not readable: nothing of ours there.
    }
  }
  return [...ks];
}
