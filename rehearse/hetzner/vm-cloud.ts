/**
 * Hetzner Cloud as the rehearsal stands it in: servers are real VMs on the VM bed (local/vm/),
 * booted from their own `userData`, with the SSH keys the server names installed for root
 * through the bed's metadata, as Hetzner's metadata service does; the private network is the
 * bed's private bridge (MTU 1450). SSH keys, placement groups and firewalls are records only.
 *
 * Hetzner's create returns once the server runs, and bootstrap's SSH wait (SSH_WAIT_TIMEOUT_MS,
 * 5 min) is sized for a real server that boots in seconds. A stock kernel under TCG takes minutes
 * to reach sshd, so this stand-in returns when the VM's sshd answers (the time is the figure "boot
 * to sshd"); bootstrap still connects, waits for cloud-init and for docker itself.
 *
 * What Hetzner would refuse, this refuses too, with the API's reason: a server name in use, user
 * data over 32 KiB, an unknown SSH key, a private address outside its subnet. What the bed cannot
 * model (another image than Debian 12, renaming or resizing a running server) is refused by name
 * rather than pretended.
 */
import * as net from "net";
import { cidr, contains } from "../../common/cidr";
import { MAX_USER_DATA_BYTES } from "../../infra/cloudinit";
import { waitFor } from "../../common/time";
import { openVmBed, sshBanner, VM_SSHD_TIMEOUT_MS, type VmBed } from "../../local";
import { apiObject, type Cloud, type HeldResource, type KindContext, type ResourceKind } from "../engine/cloud";
import { GET_SERVERS, getServers } from "./get-servers";
import { HCLOUD_REPLACE_ON_CHANGE, hcloudDeletesFirst } from "./replace-on-change";
import type { Props } from "../engine/properties";

const T = {
  server: "hcloud:index/server:Server",
  network: "hcloud:index/network:Network",
  subnet: "hcloud:index/networkSubnet:NetworkSubnet",
  sshKey: "hcloud:index/sshKey:SshKey",
  placementGroup: "hcloud:index/placementGroup:PlacementGroup",
  firewall: "hcloud:index/firewall:Firewall",
} as const;

/** The one image the bed's VMs run. */
export const BED_IMAGE = "debian-12";
/** Server inputs a running VM can take in place (records only); anything else is refused by name. */
/** One TCP connect per poll while a VM boots. */
const SSHD_POLL_MS = 2_000;
const UPDATABLE_SERVER_INPUTS = [
  "labels",
  "firewallIds",
  "ignoreRemoteFirewallIds",
  "placementGroupId",
  "deleteProtection",
  "rebuildProtection",
  "backups",
  "keepDisk",
  "shutdownBeforeDeletion",
  "allowDeprecatedImages",
];

export interface VmCloudOptions {
  /** The VM bed's directory (one per rehearsal). */
  readonly bedDir: string;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Bed progress (image build, accelerator). Default: none. */
  readonly log?: (line: string) => void;
}

/** Hetzner ids are increasing integers that are never reused. */
let lastId = 0;
function nextId(): string {
  lastId = Math.max(lastId + 1, Date.now() * 100);
  return String(lastId);
}

interface NetworkEntry {
  readonly subnetId?: string;
  readonly networkId?: number;
  readonly ip?: string;
  readonly aliasIps?: readonly string[];
}

export class VmCloud implements Cloud {
  private bed: Promise<VmBed> | undefined;

  constructor(readonly o: VmCloudOptions) {}

  /** The bed, opened (or created) once per process with the private network's CIDR. */
  openBed(privateCidr?: string): Promise<VmBed> {
    this.bed ??= openVmBed({
      dir: this.o.bedDir,
      ...(privateCidr ? { privateCidr } : {}),
      ...(this.o.install === false ? { install: false } : {}),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
    return this.bed;
  }

  kindOf(type: string): ResourceKind | undefined {
    switch (type) {
      case T.server:
        return this.server();
      case T.network:
        return this.network();
      case T.subnet:
        return this.subnet();
      case T.sshKey:
      case T.placementGroup:
      case T.firewall:
        return apiObject(HCLOUD_REPLACE_ON_CHANGE[type], nextId, undefined, (i) => hcloudDeletesFirst(type, i));
      default:
        return undefined;
    }
  }

  /** Hetzner's server list, from the servers this cloud holds (the program reads it before planning). */
  invoke(token: string, args: Props, held: readonly HeldResource[]): Props | undefined {
    return token === GET_SERVERS ? getServers(args, held) : undefined;
  }

  private network(): ResourceKind {
    return {
      replaceOnChange: HCLOUD_REPLACE_ON_CHANGE[T.network],
      deleteBeforeReplace: (i) => hcloudDeletesFirst(T.network, i),
      create: async (inputs, ctx) => {
        const bed = await this.openBed(String(inputs.ipRange));
        if (bed.privateCidr !== cidr(String(inputs.ipRange)).text)
          throw new Error(`the bed's private network is ${bed.privateCidr}, not ${String(inputs.ipRange)}`);
        ctx.log(
          `private network ${bed.privateCidr}: bridge ${bed.names.privBridge} in namespace ${bed.names.netns}, MTU 1450`,
        );
        return { id: nextId(), outputs: { ...inputs } };
      },
      update: async (_id, olds, news) => {
        if (olds.ipRange !== news.ipRange)
          throw new Error(
            `the rehearsal does not model changing a network's ipRange (${String(olds.ipRange)} → ${String(news.ipRange)})`,
          );
        return { ...olds, ...news };
      },
      delete: async (_id, outputs) => {
        const bed = await this.openBed(String(outputs.ipRange));
        const left = bed.list();
        if (left.length)
          throw new Error(
            `network ${String(outputs.name)} still has servers attached: ${left.map((v) => v.name).join(", ")}`,
          );
        await bed.down();
      },
    };
  }

  private subnet(): ResourceKind {
    return {
      ...apiObject(HCLOUD_REPLACE_ON_CHANGE[T.subnet], nextId),
      create: async (inputs, ctx) => {
        const network = ctx.lookup(T.network, String(inputs.networkId));
        if (!network) throw new Error(`network ${String(inputs.networkId)} not found`);
        if (!contains(cidr(String(network.ipRange)), cidr(String(inputs.ipRange))))
          throw new Error(`subnet ${String(inputs.ipRange)} is not inside the network's ${String(network.ipRange)}`);
        return { id: nextId(), outputs: { ...inputs } };
      },
    };
  }

  private server(): ResourceKind {
    return {
      replaceOnChange: HCLOUD_REPLACE_ON_CHANGE[T.server],
      deleteBeforeReplace: (i) => hcloudDeletesFirst(T.server, i),
      create: (inputs, ctx) => this.bootServer(inputs, ctx),
      update: async (_id, olds, news) => {
        const refused = Object.keys({ ...olds, ...news }).filter(
          (k) =>
            k in news && JSON.stringify(olds[k]) !== JSON.stringify(news[k]) && !UPDATABLE_SERVER_INPUTS.includes(k),
        );
        if (refused.length)
          throw new Error(
            `the rehearsal does not model changing ${refused.join(", ")} of a running server (${String(olds.name)})`,
          );
        return { ...olds, ...news };
      },
      delete: async (_id, outputs, ctx) => {
        const bed = await this.openBed();
        const removed = await bed.remove(String(outputs.name));
        ctx.log(
          removed ? `VM ${String(outputs.name)} stopped and removed` : `VM ${String(outputs.name)} was already gone`,
        );
      },
    };
  }

  private async bootServer(inputs: Props, ctx: KindContext): Promise<{ id: string; outputs: Props }> {
    const name = String(inputs.name);
    const userData = String(inputs.userData ?? "");
    const problems: string[] = [];
    if (inputs.image !== BED_IMAGE)
      problems.push(
        `image ${JSON.stringify(inputs.image)}: the bed's VMs run Debian 12; set hcloud-swarm:image ${BED_IMAGE}`,
      );
    if (Buffer.byteLength(userData) > MAX_USER_DATA_BYTES)
      problems.push(
        `user_data is ${Buffer.byteLength(userData)} bytes; Hetzner accepts at most ${MAX_USER_DATA_BYTES}`,
      );
    const publicNets = (inputs.publicNets as { ipv4Enabled?: boolean }[] | undefined) ?? [];
    if (publicNets.some((p) => p.ipv4Enabled === false))
      problems.push(
        "a server without public IPv4 is not modelled: the bed reaches every VM through its public address",
      );
    const keys = ((inputs.sshKeys as string[] | undefined) ?? []).map((id) => {
      const k = ctx.lookup(T.sshKey, String(id));
      if (!k) problems.push(`ssh key ${String(id)} not found`);
      return String(k?.publicKey ?? "");
    });
    const networks = (inputs.networks as NetworkEntry[] | undefined) ?? [];
    if (networks.length > 1) problems.push("more than one private network per server is not modelled");
    let privateCidr: string | undefined;
    const wanted = networks[0];
    if (wanted) {
      const subnet = wanted.subnetId ? ctx.lookup(T.subnet, String(wanted.subnetId)) : undefined;
      const network = ctx.lookup(T.network, String(subnet?.networkId ?? wanted.networkId));
      if (!network) problems.push(`network ${String(wanted.subnetId ?? wanted.networkId)} not found`);
      else privateCidr = String(network.ipRange);
      if (
        wanted.ip &&
        (!net.isIPv4(wanted.ip) || (subnet && !contains(cidr(String(subnet.ipRange)), cidr(`${wanted.ip}/32`))))
      )
        problems.push(`ip ${wanted.ip} is not inside subnet ${String(subnet?.ipRange)}`);
    }
    if (problems.length) throw new Error(`server ${name} refused:\n${problems.map((p) => `  - ${p}`).join("\n")}`);

    const bed = await this.openBed(privateCidr);
    const vm = await bed.boot({ name, userData, ...(wanted?.ip ? { privateIp: wanted.ip } : {}), sshKeys: keys });
    const started = Date.now();
    ctx.log(
      `VM ${name} booting from its user data (qemu pid ${vm.pid}, ${bed.accel.toUpperCase()}): public ${vm.publicIpv4}, private ${vm.privateIp}`,
    );
    const running = () => bed.list().some((v) => v.name === name && v.running);
    const up = await waitFor(
      async () => !running() || (await sshBanner(vm.publicIpv4)),
      VM_SSHD_TIMEOUT_MS,
      SSHD_POLL_MS,
    );
    if (!up || !running()) {
      const why = running()
        ? `sshd did not answer within ${VM_SSHD_TIMEOUT_MS / 60_000} min`
        : "its qemu process ended";
      throw new Error(
        `server ${name} did not boot: ${why}; serial console (last lines):\n${bed.consoleTail(name, 25).replace(/^/gm, "  | ")}`,
      );
    }
    ctx.log(`VM ${name}: sshd answers after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return {
      id: nextId(),
      outputs: {
        ...inputs,
        ipv4Address: vm.publicIpv4,
        // The bed has no IPv6; Hetzner would give every server a /64.
        ipv6Address: "",
        ipv6Network: "",
        status: "running",
        ...(wanted ? { networks: [{ ...wanted, ip: vm.privateIp }] } : {}),
      },
    };
  }
}
