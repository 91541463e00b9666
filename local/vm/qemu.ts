/**
 * qemu for the VM bed: the accelerator (KVM only when a probe vCPU really boots a kernel, else TCG
 * with a bounded translation cache), the command line of one VM, and its process.
 *
 * The KVM probe boots the guest kernel without a root disk: a working vCPU reaches the kernel's
 * "VFS: Unable to mount root fs" panic in about a second, and `-no-reboot` ends qemu there. A
 * software nested hypervisor (this machine's kvm-pvm) either aborts or crawls past the deadline.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "../common/host-command";
import { waitFor } from "../../common/time";
import { isRunning, processArgv } from "../common/process";

/** A working KVM vCPU reaches the root-mount panic in 1–2 s; TCG needs 2–6 s; 20 s leaves room for a loaded machine. */
export const KVM_PROBE_TIMEOUT_MS = 20_000;
/** Guest memory: the stock kernel, systemd, cloud-init and dockerd run comfortably in 1 GiB. */
export const VM_MEMORY_MB = 1024;
/** TCG's translation cache; without a bound each qemu takes ~2 GB for it (measured), with 256 MB about 1.1 GB RSS in all. */
export const TB_SIZE_MB = 256;
/** qemu with -daemonize returns once the VM is set up; only a broken setup takes longer. */
const START_TIMEOUT_MS = 30_000;
/** A VM killed with SIGTERM exits at once; SIGKILL after this. */
const STOP_TIMEOUT_MS = 5_000;

export type Accel = "kvm" | "tcg";

export interface AccelChoice {
  readonly accel: Accel;
  /** Why: what the probe saw. */
  readonly reason: string;
}

export interface VmSpec {
  /** Process name shown by ps, "hsv3-manager-1"; teardown finds leftovers by it. */
  readonly processName: string;
  readonly accel: Accel;
  readonly kernel: string;
  readonly initrd: string;
  readonly disk: string;
  /** The host's TSC rate in kHz, given to a TCG guest's kernel (see hostTscKhz). Default: read by startVm. */
  readonly tscKhz?: number;
  readonly seed: string;
  readonly console: string;
  readonly pidFile: string;
  readonly taps: { readonly pub: string; readonly priv: string };
  readonly macs: { readonly pub: string; readonly priv: string };
}

/**
 * Kernel command line: root on the first virtio disk, console on the serial port (kept in the console
 * log). `tsc=reliable`: a VM starved of CPU by a busy host otherwise has its TSC marked unstable by the
 * clocksource watchdog and falls back to the emulated HPET, which makes every clock read (Go's runtime
 * reads it constantly) a trap into qemu (seen: "Switched to clocksource hpet"). `mitigations=off`: the
 * guests are throwaway test machines, and the speculation mitigations only slow emulation down.
 */
export const KERNEL_APPEND = "root=/dev/vda rw console=ttyS0 tsc=reliable mitigations=off";

/**
 * Under TCG the guest's TSC ticks at the host's TSC rate. The guest kernel measures that rate early
 * in boot, and keeps its later, finer measurement only when it is within 1% of the first. Nine VMs
 * booting at once on 2 cores measured 318 and 923 MHz for a 2596 MHz TSC, and those guests' clocks
 * ran 3–8× fast (with `tsc=reliable` nothing corrects it). Given the rate (`tsc_early_khz`), the
 * guest has nothing to mis-measure. Read from /proc/cpuinfo's "cpu MHz", which is the TSC's rate on
 * a host with a constant TSC; none without one (pure).
 */
export function hostTscKhz(cpuinfo: string): number | undefined {
  if (!/^flags\s*:.*\bconstant_tsc\b/m.test(cpuinfo)) return undefined;
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  const khz = m ? Math.round(Number(m[1]) * 1000) : NaN;
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

/** The qemu arguments of one VM (pure). */
export function qemuArgs(s: VmSpec): string[] {
  const accel =
    s.accel === "kvm"
      ? ["-accel", "kvm", "-cpu", "host"]
      : ["-accel", `tcg,thread=multi,tb-size=${TB_SIZE_MB}`, "-cpu", "max"];
  return [
    "-name",
    `${s.processName},process=${s.processName}`,
    ...accel,
    "-machine",
    "pc",
    "-smp",
    "1",
    "-m",
    String(VM_MEMORY_MB),
    "-nodefaults",
    "-display",
    "none",
    "-no-user-config",
    "-serial",
    `file:${s.console}`,
    "-kernel",
    s.kernel,
    "-initrd",
    s.initrd,
    "-append",
    s.accel === "tcg" && s.tscKhz ? `${KERNEL_APPEND} tsc_early_khz=${s.tscKhz}` : KERNEL_APPEND,
    "-drive",
    `file=${s.disk},if=virtio,format=qcow2`,
    "-drive",
    `file=${s.seed},if=virtio,format=raw,readonly=on`,
    "-netdev",
    `tap,id=pub,ifname=${s.taps.pub},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=pub,mac=${s.macs.pub}`,
    "-netdev",
    `tap,id=priv,ifname=${s.taps.priv},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=priv,mac=${s.macs.priv}`,
    // Entropy from the host: sshd and cloud-init otherwise wait for the guest's pool under TCG.
    "-device",
    "virtio-rng-pci",
    "-pidfile",
    s.pidFile,
    "-daemonize",
  ];
}

/** Starts a VM inside the bed's namespace; returns its pid once qemu has daemonized. */
export async function startVm(netns: string, s: VmSpec): Promise<number> {
  fs.rmSync(s.pidFile, { force: true });
  const spec = s.tscKhz === undefined ? { ...s, tscKhz: hostTscKhz(fs.readFileSync("/proc/cpuinfo", "utf8")) } : s;
  await run("ip", ["netns", "exec", netns, "qemu-system-x86_64", ...qemuArgs(spec)], { timeoutMs: START_TIMEOUT_MS });
  const pid = readPid(s.pidFile);
  if (pid === undefined) throw new Error(`qemu for ${s.processName} started but wrote no pid to ${s.pidFile}`);
  return pid;
}

export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a live qemu of this process name (a stale pidfile may point at an unrelated process). */
export function isOurQemu(pid: number, processName: string): boolean {
  const args = processArgv(pid);
  return args.some((a) => a.includes("qemu-system")) && args.includes(`${processName},process=${processName}`);
}

/** Pids of qemu processes whose process name starts with `prefix` ("hsv3-"): leftovers whose pidfiles are gone. */
export function qemuPidsByPrefix(prefix: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const args = processArgv(Number(e));
    if (!args.some((a) => a.includes("qemu-system"))) continue;
    const i = args.indexOf("-name");
    if (i >= 0 && (args[i + 1] ?? "").startsWith(prefix)) out.push(Number(e));
  }
  return out;
}

/** Ends a qemu process, like pulling a server's plug: SIGTERM, then SIGKILL. */
export async function stopQemu(pid: number): Promise<void> {
  if (!isRunning(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  if (await waitFor(() => !isRunning(pid), STOP_TIMEOUT_MS)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  await waitFor(() => !isRunning(pid), STOP_TIMEOUT_MS);
}

/** Resident memory of a process in MiB (VmRSS), or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Probe result per boot of this machine and kernel image: the same KVM module gives the same answer. */
function probeCacheFile(cacheDir: string, kernel: string): string {
  const bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return path.join(cacheDir, `accel-${bootId}-${path.basename(path.dirname(kernel))}.json`);
}

/** Decides KVM or TCG by booting `kernel` once under KVM (see the file comment); cached per machine boot. */
export async function chooseAccel(kernel: string, cacheDir: string): Promise<AccelChoice> {
  if (!fs.existsSync("/dev/kvm")) return { accel: "tcg", reason: "no /dev/kvm" };
  const cache = probeCacheFile(cacheDir, kernel);
  try {
    return JSON.parse(fs.readFileSync(cache, "utf8")) as AccelChoice;
  } catch {
    // not probed yet on this boot
  }
  const log = `${cache}.console-${process.pid}`;
  const started = Date.now();
  const r = await run(
    "qemu-system-x86_64",
    [
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-m",
      "256",
      "-nodefaults",
      "-display",
      "none",
      "-no-user-config",
      "-no-reboot",
      "-serial",
      `file:${log}`,
      "-kernel",
      kernel,
      "-append",
      "console=ttyS0 panic=-1",
    ],
    { allowFail: true, timeoutMs: KVM_PROBE_TIMEOUT_MS },
  );
  const consoleText = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
  fs.rmSync(log, { force: true });
  const elapsed = Date.now() - started;
  const secs = (elapsed / 1000).toFixed(1);
  const booted = /Kernel panic - not syncing: VFS/.test(consoleText);
  const said = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("killed by"))
    .slice(0, 2)
    .join("; ");
  const why =
    elapsed >= KVM_PROBE_TIMEOUT_MS
      ? `no root-mount panic within ${KVM_PROBE_TIMEOUT_MS / 1000} s`
      : `qemu exited after ${secs} s: ${said || `exit ${r.code}`}`;
  const choice: AccelChoice = booted
    ? { accel: "kvm", reason: `a KVM probe vCPU booted the guest kernel to its root-mount panic in ${secs} s` }
    : { accel: "tcg", reason: `/dev/kvm exists but a probe vCPU did not boot the guest kernel (${why.slice(0, 300)})` };
  fs.writeFileSync(cache, JSON.stringify(choice) + "\n");
  return choice;
}
