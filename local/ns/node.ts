/**
 * Node lifecycle. A node is a network namespace (/run/netns/hsw<K>-<name>) plus its own mount and
 * UTS namespaces, pinned by files in DIR/ns so they outlive every process: a node whose processes
 * were all killed keeps its /var/lib/docker and can be started again, like a server after a power cut.
 * Every process started in a node first joins the node's cgroups, which is how teardown finds them.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Hierarchy, killTree, mountScript, pidsIn, procsFiles } from "./cgroups";
import { nodePaths, NodeRecord } from "./node-files";
import { BedNames } from "./plan";
import { dockerPing, dockerSocketOf } from "./probe";
import { sshBanner } from "../common/ssh-banner";
import { run, RunOptions, RunResult } from "../common/host-command";
import { sleep, waitFor } from "../../common/time";
import { isRunning, processArgv } from "../common/process";

export interface BedContext {
  readonly dir: string;
  readonly names: BedNames;
  readonly hierarchies: readonly Hierarchy[];
}

/** A daemon that stopped on SIGTERM by then is not going to; it gets SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/** Node-private mounts: tmpfs for state that must die with the node, the node's own /etc files on top of the host's. */
function nodeSetupScript(ctx: BedContext, node: NodeRecord): string {
  const b = ctx.names;
  return `set -e
hostname ${node.name}
# Drop the copies of every namespace pin (other nodes' and beds' netns and UTS files) this new mount
# namespace inherited: they would keep those namespaces alive after their own bed deleted them.
sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \\([^ ]*\\) .* - nsfs .*/\\1/p' /proc/self/mountinfo | while read -r m; do umount -l "$m" 2>/dev/null || true; done
umount -l /sys
mount -t sysfs sysfs /sys
${mountScript(ctx.hierarchies)}
# Reach the node's files through /mnt: the tmpfs mounts below may hide DIR (e.g. under /tmp).
mount --bind "$1" /mnt
for d in /run /tmp /var/lib /var/log; do mount -t tmpfs -o mode=755 tmpfs $d; done
chmod 1777 /tmp
mount -t tmpfs -o mode=700 tmpfs /root
mkdir -p /run/sshd /var/lib/docker
if [ -L /etc/resolv.conf ]; then t=$(readlink /etc/resolv.conf); case $t in /*) ;; *) t=/etc/$t;; esac; mkdir -p "$(dirname "$t")"; : > "$t"; fi
for f in hostname hosts resolv.conf; do mount --bind /mnt/etc/$f /etc/$f; done
mkdir -p /etc/docker
for d in ssh docker; do mount --bind /mnt/etc/$d /etc/$d; done
umount /mnt
# No IPv6: the bed's firewall is IPv4, and link-local IPv6 would let nodes reach the host around it.
for c in all default lo eth0; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6 2>/dev/null || true; done
ip link set lo up
ip addr add ${node.ip}/${b.prefixLength} dev eth0
ip link set eth0 up
ip route add default via ${b.gateway}
`;
}

function isMountpoint(p: string): boolean {
  const enc = p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === enc);
}

/** DIR/ns must be a private mount: a namespace file bound under a shared mount would propagate into itself. */
export async function ensureNsDir(dir: string): Promise<void> {
  const nsDir = path.join(dir, "ns");
  fs.mkdirSync(nsDir, { recursive: true });
  if (!isMountpoint(nsDir)) await run("mount", ["--bind", nsDir, nsDir]);
  await run("mount", ["--make-private", nsDir]);
}

/** Unmounts the namespace pins and DIR/ns itself; the namespaces die with their last process. */
export async function releaseNsDir(dir: string): Promise<void> {
  const nsDir = path.join(dir, "ns");
  if (!fs.existsSync(nsDir)) return;
  for (const f of fs.readdirSync(nsDir)) {
    const file = path.join(nsDir, f);
    while (isMountpoint(file)) await run("umount", ["-l", file]);
  }
  while (isMountpoint(nsDir)) await run("umount", ["-l", nsDir]);
  fs.rmSync(nsDir, { recursive: true, force: true });
}

function enterArgs(ctx: BedContext, node: NodeRecord): string[] {
  const p = nodePaths(ctx.dir, node.name);
  return [`--net=/run/netns/${node.netns}`, `--mount=${p.nsMnt}`, `--uts=${p.nsUts}`, "--wd=/"];
}

function joinCgroups(ctx: BedContext, node: NodeRecord): string {
  return `for f in ${procsFiles(ctx.hierarchies, ctx.names.cgroup, node.name).join(" ")}; do echo $$ > "$f"; done\n`;
}

/** Creates the node's mount and UTS namespaces inside its network namespace and prepares its mounts. */
export async function createNodeNamespaces(ctx: BedContext, node: NodeRecord): Promise<void> {
  const p = nodePaths(ctx.dir, node.name);
  for (const f of [p.nsMnt, p.nsUts]) fs.writeFileSync(f, "");
  await run("nsenter", [
    `--net=/run/netns/${node.netns}`,
    "unshare",
    `--mount=${p.nsMnt}`,
    `--uts=${p.nsUts}`,
    "--propagation",
    "private",
    "/bin/sh",
    "-c",
    nodeSetupScript(ctx, node),
    "node-setup",
    p.root,
  ]);
}

/** The argv that runs a shell script inside the node (its namespaces and cgroup), for callers that spawn it themselves. */
export function nodeCommand(ctx: BedContext, node: NodeRecord, script: string, args: readonly string[] = []): string[] {
  return ["nsenter", ...enterArgs(ctx, node), "/bin/sh", "-c", joinCgroups(ctx, node) + script, "sh", ...args];
}

/** Runs a shell script inside the node (its namespaces and cgroup), as root, like a console on the server. */
export function execInNode(
  ctx: BedContext,
  node: NodeRecord,
  script: string,
  opts: RunOptions = {},
): Promise<RunResult> {
  return run("nsenter", [...enterArgs(ctx, node), "/bin/sh", "-c", joinCgroups(ctx, node) + script], opts);
}

/** Starts a long-running process in the node, detached from the caller, logging to a file in the node's dir. */
function spawnInNode(ctx: BedContext, node: NodeRecord, script: string, logFile: string): number {
  const fd = fs.openSync(logFile, "a");
  try {
    const child = spawn("nsenter", [...enterArgs(ctx, node), "/bin/sh", "-c", joinCgroups(ctx, node) + script], {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.on("error", () => undefined);
    child.unref();
    return child.pid ?? 0;
  } finally {
    fs.closeSync(fd);
  }
}

export function startDockerd(ctx: BedContext, node: NodeRecord): void {
  // Stale pidfiles from a killed dockerd make the next one refuse to start when the pid was reused.
  spawnInNode(
    ctx,
    node,
    "rm -f /run/docker.pid /run/docker/containerd/containerd.pid\nexport DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1\nexec /usr/sbin/dockerd --config-file /etc/docker/daemon.json",
    nodePaths(ctx.dir, node.name).dockerLog,
  );
}

/** Starts sshd, optionally after a delay (the sleeping shell is already in the node, so teardown kills it too). */
export function startSshd(ctx: BedContext, node: NodeRecord, delayMs = 0): void {
  const wait = delayMs > 0 ? `sleep ${(delayMs / 1000).toFixed(3)}\n` : "";
  spawnInNode(
    ctx,
    node,
    `${wait}exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config`,
    nodePaths(ctx.dir, node.name).sshdLog,
  );
}

export interface NodeProcesses {
  readonly dockerd?: number;
  /** The listening sshd. */
  readonly sshd?: number;
  /** Per-connection sshd processes: killing them drops the SSH connections. */
  readonly sshSessions: readonly number[];
  readonly all: readonly number[];
}

export function nodeProcesses(ctx: BedContext, node: NodeRecord): NodeProcesses {
  const all = pidsIn(ctx.hierarchies, path.join(ctx.names.cgroup, node.name)).sort((a, b) => a - b);
  let dockerd: number | undefined;
  let sshd: number | undefined;
  const sshSessions: number[] = [];
  for (const pid of all) {
    const argv = processArgv(pid);
    const line = argv.join(" ");
    if (argv[0] === "/usr/sbin/dockerd") dockerd = pid;
    else if (line.includes("[listener]") || (argv[0] === "/usr/sbin/sshd" && !argv.includes("-R"))) sshd = pid;
    else if (argv[0]?.startsWith("sshd") || argv[0] === "/usr/sbin/sshd") sshSessions.push(pid);
  }
  return { dockerd, sshd, sshSessions, all };
}

export async function dockerdAnswers(ctx: BedContext, node: NodeRecord): Promise<boolean> {
  const pid = nodeProcesses(ctx, node).dockerd;
  return pid !== undefined && (await dockerPing(dockerSocketOf(pid)));
}

export function sshdAnswers(node: NodeRecord): Promise<boolean> {
  return sshBanner(node.ip);
}

export async function waitDockerd(ctx: BedContext, node: NodeRecord, timeoutMs: number): Promise<void> {
  if (!(await waitFor(() => dockerdAnswers(ctx, node), timeoutMs, 50))) {
    throw new Error(
      `dockerd on ${node.name} did not answer within ${timeoutMs / 1000} s; see ${nodePaths(ctx.dir, node.name).dockerLog}`,
    );
  }
}

export async function waitSshd(ctx: BedContext, node: NodeRecord, timeoutMs: number): Promise<void> {
  if (!(await waitFor(() => sshdAnswers(node), timeoutMs, 50))) {
    throw new Error(
      `sshd on ${node.name} did not answer within ${timeoutMs / 1000} s; see ${nodePaths(ctx.dir, node.name).sshdLog}`,
    );
  }
}

/** SIGTERM, wait, then SIGKILL: how an init system stops a daemon. */
export async function stopPid(pid: number | undefined): Promise<void> {
  if (pid === undefined || !isRunning(pid)) return;
  process.kill(pid, "SIGTERM");
  if (await waitFor(() => !isRunning(pid), STOP_TIMEOUT_MS, 50)) return;
  process.kill(pid, "SIGKILL");
  await waitFor(() => !isRunning(pid), STOP_TIMEOUT_MS, 20);
}

/** Drops every SSH connection to the node at once, as a network cut would; the listener stays up. */
export async function dropSshSessions(ctx: BedContext, node: NodeRecord): Promise<number> {
  const sessions = nodeProcesses(ctx, node).sshSessions;
  for (const pid of sessions) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Session ended by itself.
    }
  }
  await sleep(20);
  return sessions.length;
}

/** Kills every process of the node (a power cut); its namespaces and files stay for a restart. */
export function powerOff(ctx: BedContext, node: NodeRecord): Promise<void> {
  return killTree(ctx.hierarchies, path.join(ctx.names.cgroup, node.name));
}
