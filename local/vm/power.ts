/**
 * Faults on whole VMs for `local shape` and the resilience tests: a power cut (qemu killed, the
 * disk kept), power back on (the same disk, seed and taps: the guest boots again as after an outage),
 * and freezing (qemu stopped with SIGSTOP: the guest's clock, network and disks stall, exactly a
 * stalled VM). The VM bed's own API (./vm-bed.ts) creates and removes VMs; this only switches them.
 */
import { isOurQemu, readPid, startVm } from "./qemu";
import { macs, tapNames, vmBedNames } from "./plan";
import { readVmState, VmBedState, vmPaths, VmRecord } from "./state";
import { waitFor } from "../../common/time";
import { processState } from "../common/process";

/** A killed qemu is gone within milliseconds; longer means the process is stuck in the kernel. */
const KILL_TIMEOUT_MS = 10_000;

function bedAndVm(dir: string, name: string): { s: VmBedState; vm: VmRecord } {
  const s = readVmState(dir);
  if (!s) throw new Error(`no VM bed in ${dir}`);
  const vm = s.vms.find((v) => v.name === name);
  if (!vm) throw new Error(`no VM "${name}" in the bed ${dir}; VMs: ${s.vms.map((v) => v.name).join(", ")}`);
  return { s, vm };
}

const processName = (s: VmBedState, name: string): string => `hsv${s.k}-${name}`;

/** The VM's qemu pid while it runs, else undefined. */
export function qemuPidOf(dir: string, name: string): number | undefined {
  const { s } = bedAndVm(dir, name);
  const pid = readPid(vmPaths(dir, name).pidFile);
  return pid !== undefined && isOurQemu(pid, processName(s, name)) ? pid : undefined;
}

/** True when the VM's qemu is stopped (SIGSTOP). */
export function vmFrozen(dir: string, name: string): boolean {
  const pid = qemuPidOf(dir, name);
  return pid !== undefined && processState(pid) === "T";
}

/** Stops (true) or continues (false) the VM's qemu; false when there was nothing to change. */
export function setVmFrozen(dir: string, name: string, frozen: boolean): boolean {
  const pid = qemuPidOf(dir, name);
  if (pid === undefined) throw new Error(`${name} is not running: nothing to ${frozen ? "freeze" : "thaw"}`);
  if (vmFrozen(dir, name) === frozen) return false;
  process.kill(pid, frozen ? "SIGSTOP" : "SIGCONT");
  return true;
}

/** Pulls the plug: SIGKILL to qemu (continued first if frozen, so it dies at once); the disk stays. */
export async function powerOffVm(dir: string, name: string): Promise<void> {
  const pid = qemuPidOf(dir, name);
  if (pid === undefined) return;
  for (const signal of ["SIGKILL", "SIGCONT"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  if (!(await waitFor(() => qemuPidOf(dir, name) === undefined, KILL_TIMEOUT_MS, 20)))
    throw new Error(`qemu of ${name} (pid ${pid}) survived SIGKILL`);
}

/** Starts a powered-off VM again from its own disk (the guest then boots; waiting for it is the caller's business). */
export async function powerOnVm(dir: string, name: string): Promise<number> {
  const { s, vm } = bedAndVm(dir, name);
  const running = qemuPidOf(dir, name);
  if (running !== undefined) return running;
  const p = vmPaths(dir, name);
  return startVm(vmBedNames(s.k).netns, {
    processName: processName(s, name),
    accel: s.accel,
    kernel: s.image.kernel,
    initrd: s.image.initrd,
    disk: p.disk,
    seed: p.seed,
    console: p.console,
    pidFile: p.pidFile,
    taps: tapNames(vm.slot),
    macs: macs(s.k, vm.slot),
  });
}
