/**
 * `local up --vm`: create a VM bed, generate a host key per node, render each node's user data with
 * the program's own renderUserData (Docker on the image, as a Packer snapshot would have it), boot
 * them all, wait until each is ready, and write the same inventory and known_hosts the namespace bed
 * writes, so `bootstrap`, `stack …` and `verify` run unchanged.
 */
import * as fs from "fs";
import { Inventory } from "../../inventory/inventory";
import { renderUserData } from "../../infra/cloudinit";
import { DEFAULTS } from "../../infra/config";
import { generateSshKeyPair } from "../../common/sshkeys";
import { knownHostsPath, writeInventory } from "../common/inventory-file";
import { ensureClientKey } from "../common/client-key";
import { planRoles } from "../common/node-roles";
import { BootedVm, openVmBed, VmBed } from "./vm-bed";
import { vmInventory } from "./inventory";
import { hostAddressInNetwork, MAX_VMS } from "./plan";
import { Phase, ReadyTimes, waitUntilReady } from "./readiness";

/** Private addresses from .11 up, in node order (the program uses .11+ for managers and .21+ for workers). */
const FIRST_PRIVATE_HOST = 11;

export interface VmUpOptions {
  /** Bed directory. */
  readonly dir: string;
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of them are managers (the first ones). Default 1. */
  readonly managers?: number;
  /** The private network. Default "10.0.0.0/16", the program's default networkCidr. */
  readonly privateCidr?: string;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export interface VmNodeResult {
  readonly name: string;
  readonly role: "manager" | "worker";
  readonly vm: BootedVm;
  readonly times: ReadyTimes;
  /** qemu's resident memory once the node was ready, MiB. */
  readonly rssMiB?: number;
}

export interface VmUpResult {
  readonly bed: VmBed;
  readonly nodes: readonly VmNodeResult[];
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  readonly knownHostsPath: string;
  readonly privateKeyPath: string;
  /** Milliseconds: opening the bed (image, probe, network), and the whole `up`. */
  readonly bedMs: number;
  readonly totalMs: number;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Boots a fresh VM bed in DIR (a bed already there is removed first) and waits until every node is ready. */
export async function upVmBed(opts: VmUpOptions): Promise<VmUpResult> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const plan = planRoles({ nodes: opts.nodes, managers: opts.managers }, MAX_VMS);
  const bed = await openVmBed({
    dir: opts.dir,
    install: opts.install,
    log,
    ...(opts.privateCidr ? { privateCidr: opts.privateCidr } : {}),
  });
  for (const v of bed.list()) await bed.remove(v.name);
  const bedMs = Date.now() - started;
  const client = await ensureClientKey(bed.dir);
  const privateKey = fs.readFileSync(client.privateKeyPath, "utf8");
  const hostKeys = plan.map((n) => generateSshKeyPair(`root@${n.name}`));
  log(
    `booting ${plan.length} VMs (${bed.accel.toUpperCase()}, 1 vCPU and 1 GiB each) from cloud-init user data rendered by the program`,
  );
  const booted = await Promise.all(
    plan.map(async (n, i) => {
      const userData = renderUserData({
        distro: "debian",
        dockerVersion: DEFAULTS.dockerVersion,
        dockerOnImage: true,
        hostKey: hostKeys[i],
        adminSshKeys: [],
      });
      const at = Date.now();
      const vm = await bed.boot({
        name: n.name,
        userData,
        privateIp: hostAddressInNetwork(bed.privateCidr, FIRST_PRIVATE_HOST + i),
        sshKeys: [client.publicKey],
      });
      log(`${n.name}: booting (qemu pid ${vm.pid}, public ${vm.publicIpv4}, private ${vm.privateIp})`);
      return { vm, at };
    }),
  );
  const results = await Promise.all(
    plan.map(async (n, i): Promise<VmNodeResult> => {
      const { vm, at } = booted[i];
      const times = await waitUntilReady({
        target: { name: n.name, host: vm.publicIpv4, port: 22, user: "root", hostKey: hostKeys[i].publicKey },
        privateKey,
        startedAt: at,
        onPhase: (p: Phase, ms: number) =>
          log(
            `${n.name}: ${p === "sshd" ? "sshd answers" : p === "cloud-init" ? "cloud-init done" : "docker answers"} after ${secs(ms)}`,
          ),
        consoleTail: () => bed.consoleTail(n.name),
        running: () => bed.list().find((v) => v.name === n.name)?.running ?? false,
      });
      const rss = bed.list().find((v) => v.name === n.name)?.rssMiB;
      return { name: n.name, role: n.role, vm, times, ...(rss !== undefined ? { rssMiB: rss } : {}) };
    }),
  );
  const inventory = vmInventory(
    results.map((r, i) => ({
      name: r.name,
      role: r.role,
      publicIp: r.vm.publicIpv4,
      privateIp: r.vm.privateIp,
      hostKey: hostKeys[i].publicKey,
    })),
    client.privateKeyPath,
  );
  const invPath = writeInventory(bed.dir, inventory);
  return {
    bed,
    nodes: results,
    inventory,
    inventoryPath: invPath,
    knownHostsPath: knownHostsPath(bed.dir),
    privateKeyPath: client.privateKeyPath,
    bedMs,
    totalMs: Date.now() - started,
  };
}
