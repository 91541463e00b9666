/**
 * The VM bed's programmatic API: real Debian 12 VMs (qemu) booted by cloud-init from the caller's
 * user data, on a public and a private network inside a namespace the bed owns.
 *
 *   const bed = await openVmBed({ dir, privateCidr: "10.0.0.0/16" });
 *   const vm = await bed.boot({ name: "manager-1", userData, privateIp: "10.0.0.11", sshKeys: [pub] });
 *   // vm.publicIpv4 answers SSH once the guest has booted; waiting for that is the caller's business.
 *   await bed.remove("manager-1");  bed.list();  await bed.down();
 *
 * `local up --vm` (./up.ts) and the rehearsal of `pulumi up` both drive a bed through this API.
 */
import * as fs from "fs";
import * as net from "net";
import { CommandError, run } from "../common/host-command";
import { ensurePrerequisites } from "../common/prerequisites";
import { canonicalDir, dirIdOf } from "../common/bed-dir";
import { ensureGuestImage, ImageOptions } from "./guest-disk";
import {
  claimVmBed,
  createTaps,
  createVmBedNetwork,
  ownerAliasOf,
  removeTaps,
  removeVmBedNetwork,
  vmBedOwner,
  vmBedsOwnedBy,
} from "./network";
import { throwIfProblems } from "../../common/problems";
import {
  bootProblems,
  DEFAULT_PRIVATE_CIDR,
  instanceIdOf,
  macs,
  nextSlot,
  pickPrivateIp,
  privateNetwork,
  publicAddress,
  vmBedNames,
  VmBedNames,
} from "./plan";
import { chooseAccel, isOurQemu, qemuPidsByPrefix, readPid, rssMiB, startVm, stopQemu } from "./qemu";
import { writeSeed } from "./seed";
import {
  readVmState,
  stateFile,
  updateState,
  VM_BED_FILES,
  VmBedState,
  vmPaths,
  VmRecord,
  writeVmState,
} from "./state";

export interface VmBedOptions {
  /** Bed directory (created if missing). */
  readonly dir: string;
  /** The private network's CIDR (the program's networkCidr). Default "10.0.0.0/16". An existing bed must have been made with the same. */
  readonly privateCidr?: string;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Guest image cache directory. Default: $HCLOUD_SWARM_VM_CACHE, else /var/cache/hcloud-swarm/vm. */
  readonly cacheDir?: string;
  /** Progress lines (image build, accelerator choice). Default: none. */
  readonly log?: (line: string) => void;
}

export interface BootRequest {
  /** VM name, a DNS label ("manager-1"); unique in the bed. It becomes the guest's hostname via meta-data. */
  readonly name: string;
  /** cloud-init user data, passed to the guest byte for byte (e.g. renderUserData's output). */
  readonly userData: string;
  /** Address on the private network. Default: the lowest free one from .2 up. */
  readonly privateIp?: string;
  /** OpenSSH public keys the "cloud" installs for root through meta-data, as Hetzner does for a server's sshKeys. Default []. */
  readonly sshKeys?: readonly string[];
}

export interface BootedVm {
  readonly name: string;
  readonly publicIpv4: string;
  readonly privateIp: string;
  /** The qemu process. */
  readonly pid: number;
  /** The serial console log file (kernel, systemd and cloud-init messages). */
  readonly console: string;
}

export interface VmInfo extends BootedVm {
  /** False when the qemu process is gone (crashed, or killed from outside). */
  readonly running: boolean;
  /** qemu's resident memory in MiB, when running. */
  readonly rssMiB?: number;
  readonly bootedAt: string;
}

export interface VmBed {
  readonly dir: string;
  /** Bed number K: namespace hsv<K>, public network 10.215.K.0/25. */
  readonly k: number;
  readonly names: VmBedNames;
  readonly privateCidr: string;
  readonly accel: "kvm" | "tcg";
  /** Why that accelerator: what the KVM probe saw. */
  readonly accelReason: string;
  /** Guest image build or cache lookup of this open, in ms (0 when the bed already existed). */
  readonly imageMs: number;
  readonly imageBuilt: boolean;
  /** Boots a VM once qemu runs; readiness (sshd, cloud-init) is the caller's to wait for. */
  boot(req: BootRequest): Promise<BootedVm>;
  /** Stops and removes one VM (its disk, seed and taps); false when there was none of that name. */
  remove(name: string): Promise<boolean>;
  list(): VmInfo[];
  /** The last `lines` lines of a VM's serial console. */
  consoleTail(name: string, lines?: number): string;
  /** Removes the whole bed: VMs, namespace, networks and the bed's files in DIR. */
  down(): Promise<void>;
}

function prefixOf(k: number): string {
  return `hsv${k}-`;
}

function info(dir: string, k: number, r: VmRecord): VmInfo {
  const p = vmPaths(dir, r.name);
  const pid = readPid(p.pidFile) ?? 0;
  const running = pid > 0 && isOurQemu(pid, `${prefixOf(k)}${r.name}`);
  const rss = running ? rssMiB(pid) : undefined;
  return {
    name: r.name,
    publicIpv4: r.publicIp,
    privateIp: r.privateIp,
    pid,
    console: p.console,
    running,
    bootedAt: r.bootedAt,
    ...(rss !== undefined ? { rssMiB: rss } : {}),
  };
}

async function stopVm(dir: string, k: number, name: string): Promise<void> {
  const p = vmPaths(dir, name);
  const pid = readPid(p.pidFile);
  if (pid !== undefined && isOurQemu(pid, `${prefixOf(k)}${name}`)) await stopQemu(pid);
  for (const leftover of qemuPidsByPrefix(`${prefixOf(k)}${name}`).filter((x) => isOurQemu(x, `${prefixOf(k)}${name}`)))
    await stopQemu(leftover);
}

class LiveVmBed implements VmBed {
  constructor(
    private readonly state: VmBedState,
    readonly imageMs: number,
    readonly imageBuilt: boolean,
  ) {}

  get dir(): string {
    return this.state.dir;
  }
  get k(): number {
    return this.state.k;
  }
  get names(): VmBedNames {
    return vmBedNames(this.state.k);
  }
  get privateCidr(): string {
    return this.state.privateCidr;
  }
  get accel(): "kvm" | "tcg" {
    return this.state.accel;
  }
  get accelReason(): string {
    return this.state.accelReason;
  }

  async boot(req: BootRequest): Promise<BootedVm> {
    throwIfProblems(`VM ${JSON.stringify(req.name)}`, bootProblems(req));
    if (req.privateIp !== undefined && !net.isIPv4(req.privateIp))
      throw new Error(`privateIp must be an IPv4 address, got ${JSON.stringify(req.privateIp)}`);
    const bootedAt = new Date().toISOString();
    // Reserve name, slot and addresses first (under the lock), then do the slow work outside it.
    const rec = await updateState(this.dir, (s) => {
      if (s.vms.some((v) => v.name === req.name))
        throw new Error(`a VM named ${req.name} already exists in the bed ${s.dir}; remove it first`);
      const slot = nextSlot(s.vms.map((v) => v.slot));
      const privateIp = pickPrivateIp(
        s.privateCidr,
        s.vms.map((v) => v.privateIp),
        req.privateIp,
      );
      const r: VmRecord = {
        name: req.name,
        slot,
        publicIp: publicAddress(s.k, slot),
        privateIp,
        instanceId: instanceIdOf(s.k, req.name, bootedAt),
        bootedAt,
      };
      return { state: { ...s, vms: [...s.vms, r] }, result: r };
    });
    const p = vmPaths(this.dir, rec.name);
    try {
      fs.rmSync(p.root, { recursive: true, force: true });
      fs.mkdirSync(p.root, { recursive: true, mode: 0o700 });
      const s = readVmState(this.dir) ?? this.state;
      const m = macs(s.k, rec.slot);
      await run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", s.image.disk, "-F", "qcow2", p.disk]);
      await writeSeed(p.seed, req.userData, {
        name: rec.name,
        instanceId: rec.instanceId,
        publicIp: rec.publicIp,
        privateIp: rec.privateIp,
        privatePrefix: privateNetwork(s.privateCidr).prefix,
        macs: m,
        names: this.names,
        sshKeys: req.sshKeys ?? [],
      });
      const taps = await createTaps(this.names, rec.slot);
      const pid = await startVm(this.names.netns, {
        processName: `${prefixOf(s.k)}${rec.name}`,
        accel: s.accel,
        kernel: s.image.kernel,
        initrd: s.image.initrd,
        disk: p.disk,
        seed: p.seed,
        console: p.console,
        pidFile: p.pidFile,
        taps,
        macs: m,
      });
      return { name: rec.name, publicIpv4: rec.publicIp, privateIp: rec.privateIp, pid, console: p.console };
    } catch (err) {
      await this.remove(rec.name).catch(() => undefined);
      throw err instanceof CommandError ? new Error(`booting VM ${rec.name} failed: ${err.message}`) : err;
    }
  }

  async remove(name: string): Promise<boolean> {
    const rec = (readVmState(this.dir) ?? this.state).vms.find((v) => v.name === name);
    if (!rec) return false;
    await stopVm(this.dir, this.k, name);
    await removeTaps(this.names, rec.slot);
    fs.rmSync(vmPaths(this.dir, name).root, { recursive: true, force: true });
    await updateState(this.dir, (s) => ({
      state: { ...s, vms: s.vms.filter((v) => v.name !== name) },
      result: undefined,
    }));
    return true;
  }

  list(): VmInfo[] {
    const s = readVmState(this.dir) ?? this.state;
    return s.vms.map((r) => info(this.dir, s.k, r));
  }

  consoleTail(name: string, lines = 40): string {
    try {
      return fs
        .readFileSync(vmPaths(this.dir, name).console, "utf8")
        .replace(/\r/g, "")
        .trimEnd()
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "(no console output)";
    }
  }

  async down(): Promise<void> {
    await downVmBed(this.dir);
  }
}

/**
 * Opens the VM bed in DIR, creating it (namespace, networks, guest image, accelerator probe) when
 * DIR holds none. A bed whose namespace is gone (the machine rebooted) is removed and made anew.
 */
export async function openVmBed(opts: VmBedOptions): Promise<VmBed> {
  await ensurePrerequisites({ install: opts.install, log: opts.log, kind: "vm" });
  const dir = canonicalDir(opts.dir, true);
  const cidr = privateNetwork(opts.privateCidr ?? DEFAULT_PRIVATE_CIDR).cidr;
  const imageOpts: ImageOptions = {
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
  const existing = readVmState(dir);
  if (existing && vmBedOwner(existing.k) === existing.dirId && fs.existsSync(`/run/netns/hsv${existing.k}`)) {
    if (existing.privateCidr !== cidr)
      throw new Error(
        `the VM bed in ${dir} has the private network ${existing.privateCidr}, not ${cidr}; remove it first (hcloud-swarm local down --dir ${opts.dir})`,
      );
    return new LiveVmBed(existing, 0, false);
  }
  if (fs.existsSync(stateFile(dir)) && !existing)
    throw new Error(
      `${dir} holds another kind of bed (state.json); remove it first with hcloud-swarm local down --dir ${opts.dir}`,
    );
  await downVmBed(dir);
  const image = await ensureGuestImage(imageOpts);
  opts.log?.(
    image.built
      ? `guest image ${image.hash} built in ${(image.ms / 1000).toFixed(1)} s`
      : `guest image ${image.hash} from the cache (${image.dir})`,
  );
  const accel = await chooseAccel(image.kernel, image.dir.replace(/\/[^/]+$/, ""));
  opts.log?.(`accelerator: ${accel.accel.toUpperCase()} (${accel.reason})`);
  const dirId = dirIdOf(dir);
  const k = await claimVmBed(ownerAliasOf(dirId, dir));
  const state: VmBedState = {
    version: 1,
    kind: "vm",
    dir,
    dirId,
    k,
    privateCidr: cidr,
    accel: accel.accel,
    accelReason: accel.reason,
    image: { hash: image.hash, kernel: image.kernel, initrd: image.initrd, disk: image.disk },
    vms: [],
    createdAt: new Date().toISOString(),
  };
  // Written before the network exists, so a crash from here on leaves a state `down` can follow.
  writeVmState(state);
  await createVmBedNetwork(vmBedNames(k));
  return new LiveVmBed(state, image.ms, image.built);
}

export interface VmDownReport {
  /** Bed numbers removed. */
  readonly removed: readonly number[];
  /** qemu processes stopped. */
  readonly stopped: number;
}

/** Removes every VM bed of DIR and the files it wrote there; safe to run twice or after a crash. */
export async function downVmBed(dirArg: string): Promise<VmDownReport> {
  const dir = canonicalDir(dirArg);
  const state = readVmState(dir);
  const ks = new Set(vmBedsOwnedBy(dirIdOf(dir)));
  if (state && (vmBedOwner(state.k) === undefined || vmBedOwner(state.k) === state.dirId)) ks.add(state.k);
  let stopped = 0;
  for (const k of ks) {
    for (const pid of qemuPidsByPrefix(prefixOf(k))) {
      await stopQemu(pid);
      stopped++;
    }
    await removeVmBedNetwork(k);
  }
  if (fs.existsSync(dir))
    for (const f of VM_BED_FILES)
      if (f !== "state.json" || state) fs.rmSync(`${dir}/${f}`, { recursive: true, force: true });
  return { removed: [...ks], stopped };
}
