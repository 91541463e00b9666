/**
 * One bed, two kinds. The namespace bed (local/ns/: real sshd and dockerd in namespaces on this
 * kernel) and the VM bed (local/vm/: Debian VMs under qemu, booted by cloud-init) share this
 * interface: up, down, status, exec, and the files they leave in DIR (state.json, inventory.json,
 * known_hosts, id_ed25519). Which kind a directory holds is read from its state.json.
 */
import * as fs from "fs";
import * as path from "path";
import { upBed } from "./ns/ns-bed";
import { downBed as downNsBed } from "./ns/state";
import { bedStatus, formatStatus } from "./ns/status";
import { canonicalDir } from "./common/bed-dir";
import { downVmBed } from "./vm/vm-bed";
import { vmBedStatus } from "./vm/status";
import { upVmBed } from "./vm/up";
import type { BedKind } from "./common/prerequisites";

export type { BedKind };

export interface BedUpOptions {
  readonly kind: BedKind;
  /** Bed directory. */
  readonly dir: string;
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of them are managers (the first ones). Default 1. */
  readonly managers?: number;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export interface BedNodeSummary {
  readonly name: string;
  readonly role: string;
  /** Where SSH connects. */
  readonly address: string;
  /** Kind-specific: the netns, or the VM's private address and readiness times. */
  readonly detail: string;
}

export interface BedUpSummary {
  readonly kind: BedKind;
  readonly dir: string;
  readonly nodes: readonly BedNodeSummary[];
  readonly inventoryPath: string;
  readonly knownHostsPath: string;
  readonly privateKeyPath: string;
  readonly totalMs: number;
  /** Extra facts worth printing (bridge and range, accelerator, image). */
  readonly notes: readonly string[];
}

/** The kind of bed DIR holds, from its state.json; undefined when it holds none. */
export function bedKindOf(dirArg: string): BedKind | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(canonicalDir(dirArg), "state.json"), "utf8")) as { kind?: string };
    return s.kind === "vm" ? "vm" : "ns";
  } catch {
    return undefined;
  }
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** `local up`: removes whatever bed DIR held (of either kind), then creates one of `kind`. */
export async function upAnyBed(o: BedUpOptions): Promise<BedUpSummary> {
  const other = bedKindOf(o.dir);
  if (other && other !== o.kind) await downAnyBed(o.dir);
  if (o.kind === "ns") {
    const bed = await upBed({ dir: o.dir, nodes: o.nodes, managers: o.managers, install: o.install, log: o.log });
    return {
      kind: "ns", dir: bed.dir, inventoryPath: bed.inventoryPath, knownHostsPath: bed.knownHostsPath, privateKeyPath: bed.privateKeyPath, totalMs: bed.timings.total,
      nodes: bed.nodes.map((n) => ({ name: n.name, role: n.role, address: n.ip, detail: n.netns })),
      notes: [`bridge ${bed.ctx.names.bridge}, ${bed.ctx.names.subnet}`],
    };
  }
  const r = await upVmBed({ dir: o.dir, nodes: o.nodes, managers: o.managers, install: o.install, log: o.log });
  return {
    kind: "vm", dir: r.bed.dir, inventoryPath: r.inventoryPath, knownHostsPath: r.knownHostsPath, privateKeyPath: r.privateKeyPath, totalMs: r.totalMs,
    nodes: r.nodes.map((n) => ({
      name: n.name, role: n.role, address: n.vm.publicIpv4,
      detail: `private ${n.vm.privateIp}; sshd ${secs(n.times.sshdMs)}, cloud-init done ${secs(n.times.cloudInitMs)}, docker ${secs(n.times.dockerMs)} (${n.times.engine})${n.rssMiB !== undefined ? `; qemu RSS ${n.rssMiB} MiB` : ""}`,
    })),
    notes: [
      `namespace ${r.bed.names.netns}: public ${r.bed.names.publicSubnet} (bridge pub, MTU 1500), private ${r.bed.privateCidr} (bridge priv, MTU 1450)`,
      `accelerator ${r.bed.accel.toUpperCase()}: ${r.bed.accelReason}`,
      `bed ready in ${secs(r.bedMs)} (guest image ${r.bed.imageBuilt ? "built" : "from the cache"}), nodes ready ${secs(r.totalMs - r.bedMs)} later`,
    ],
  };
}

export interface BedDownReport {
  /** What was removed, e.g. "namespace bed hsw3", "VM bed hsv1 (3 VMs stopped)". */
  readonly removed: readonly string[];
}

/** `local down`: removes every bed of either kind in DIR; safe after a crash and when nothing is there. */
export async function downAnyBed(dir: string): Promise<BedDownReport> {
  const removed: string[] = [];
  // The VM bed first: it leaves the namespace bed's state.json alone, while the namespace bed's down removes any state.json.
  const vm = await downVmBed(dir);
  for (const k of vm.removed) removed.push(`VM bed hsv${k}`);
  if (vm.stopped > 0) removed.push(`${vm.stopped} qemu process(es)`);
  const ns = await downNsBed(dir);
  for (const k of ns.removed) removed.push(`namespace bed hsw${k}`);
  return { removed };
}

/** `local status` for whichever kind DIR holds. */
export async function anyBedStatus(dir: string): Promise<string> {
  return bedKindOf(dir) === "vm" ? vmBedStatus(dir) : formatStatus(await bedStatus(dir));
}
