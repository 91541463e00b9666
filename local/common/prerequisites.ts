/**
 * What the test bed needs from the machine: Linux, root, and a handful of Debian packages. Missing
 * packages are installed with apt when allowed, otherwise the user is told exactly what to run.
 */
import * as fs from "fs";
import { BUSYBOX } from "./container-image";
import { run } from "./host-command";

/** Which bed: "ns" (namespaces on this kernel) or "vm" (qemu VMs with Debian's stock kernel). */
export type BedKind = "ns" | "vm";

/** Binary → Debian package that provides it, for the namespace bed. */
const REQUIRED: ReadonlyArray<readonly [string, string]> = [
  ["/usr/sbin/dockerd", "docker.io"],
  ["/usr/bin/containerd", "docker.io"],
  ["/usr/sbin/runc", "docker.io"],
  ["/usr/sbin/sshd", "openssh-server"],
  ["/usr/bin/ssh-keygen", "openssh-client"],
  ["/usr/bin/ssh", "openssh-client"],
  [BUSYBOX, "busybox-static"],
  ["/usr/sbin/ip", "iproute2"],
  ["/usr/sbin/iptables", "iptables"],
  ["/usr/bin/nsenter", "util-linux"],
  ["/usr/bin/unshare", "util-linux"],
  ["/usr/bin/tar", "tar"],
  // The nodes share this machine's binaries, and `verify --wire` captures with the node's tcpdump.
  ["/usr/bin/tcpdump", "tcpdump"],
];

/** The VM bed: qemu, the image build (mmdebstrap, mkfs.ext4, qemu-img), the NoCloud seed (genisoimage), the bed's keys and image. */
const VM_REQUIRED: ReadonlyArray<readonly [string, string]> = [
  ["/usr/bin/qemu-system-x86_64", "qemu-system-x86"],
  ["/usr/bin/qemu-img", "qemu-utils"],
  ["/usr/bin/mmdebstrap", "mmdebstrap"],
  ["/usr/sbin/mkfs.ext4", "e2fsprogs"],
  ["/usr/bin/genisoimage", "genisoimage"],
  ["/usr/bin/ssh-keygen", "openssh-client"],
  [BUSYBOX, "busybox-static"],
  ["/usr/sbin/ip", "iproute2"],
  ["/usr/sbin/iptables", "iptables"],
  ["/usr/bin/tar", "tar"],
];

/** The test bed creates namespaces, bridges and firewall rules: Linux and root only. */
export function platformProblems(): string[] {
  const problems: string[] = [];
  if (process.platform !== "linux")
    problems.push(`the local test bed needs Linux (network, mount and UTS namespaces); this is ${process.platform}`);
  else if (process.getuid?.() !== 0)
    problems.push(
      "the local test bed needs root: it creates network namespaces, a bridge and iptables rules (run it with sudo)",
    );
  return problems;
}

/** Throws the platform problems (not Linux, not root) as one clear message. */
export function requireLinuxRoot(): void {
  const problems = platformProblems();
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

/** True when the ELF binary has no program interpreter, i.e. it runs inside an image without libraries. */
export function isStaticElf(file: string): boolean {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (buf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

/** Debian packages whose binaries are missing (or, for busybox, not static). */
export function missingPackages(kind: BedKind = "ns"): string[] {
  const missing = new Set<string>();
  for (const [bin, pkg] of kind === "vm" ? VM_REQUIRED : REQUIRED) {
    if (!fs.existsSync(bin)) missing.add(pkg);
    else if (bin === BUSYBOX && !isStaticElf(bin)) missing.add(pkg);
  }
  return [...missing];
}

export interface PrerequisiteOptions {
  /** Install missing packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Progress messages. Default: none. */
  readonly log?: (msg: string) => void;
  /** Which bed's packages. Default "ns". */
  readonly kind?: BedKind;
}

/** Throws with a precise message when the bed cannot run here; installs missing packages when allowed. */
export async function ensurePrerequisites(opts: PrerequisiteOptions = {}): Promise<void> {
  requireLinuxRoot();
  const missing = missingPackages(opts.kind);
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (opts.install === false || !fs.existsSync("/usr/bin/apt-get")) {
    throw new Error(
      `the local test bed needs these packages: ${missing.join(", ")}.\nInstall them with: ${cmd}\n(or your distribution's equivalents)`,
    );
  }
  opts.log?.(`installing ${missing.join(", ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const first = await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    allowFail: true,
    env,
    timeoutMs: 600_000,
  });
  if (first.code !== 0) {
    await run("apt-get", ["update", "-qq"], { env, timeoutMs: 600_000 });
    await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env, timeoutMs: 600_000 });
  }
  const still = missingPackages(opts.kind);
  if (still.length > 0) throw new Error(`after apt-get install, still missing: ${still.join(", ")}; try: ${cmd}`);
}
