/**
 * Pure planning for the VM bed: names, addresses and MACs of one bed, and the NoCloud documents a
 * VM boots from. No I/O, so the rules that keep beds apart are unit-tested without root.
 *
 * A VM bed owns one network namespace, `hsv<K>`, holding two bridges: `pub` (MTU 1500, the
 * "public" network, 10.215.K.0/25) and `priv` (MTU 1450, the private network with the program's
 * CIDR, which only exists inside the namespace). A veth `hsv<K>` ↔ `uplink` on 10.215.K.252/30
 * lets the host reach the public addresses; nothing routes out of the namespace.
 */
import { createHash } from "crypto";
import * as net from "net";
import * as YAML from "yaml";
import { bigIntToIp, cidr, ipToBigInt, parseCidr } from "../../common/cidr";
import { PRIVATE_MTU, PUBLIC_MTU } from "../../infra/plan";

/** Every VM bed's public range (a /25 per bed); documented in docs/guides/local-test-beds.md. */
export const VM_PUBLIC_RANGE = "10.215.0.0/16";
const PREFIX = "10.215";
export const MIN_VM_BED = 1;
export const MAX_VM_BED = 254;
/** The program's default private network (infra/config.ts DEFAULTS.networkCidr). */
export const DEFAULT_PRIVATE_CIDR = "10.0.0.0/16";
/** Public addresses .11–.110 of the bed's /25; a slot number is stable for a VM's life. */
export const MAX_VMS = 100;
const FIRST_PUBLIC_OCTET = 11;
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface VmBedNames {
  readonly k: number;
  readonly netns: string;
  /** Host end of the uplink veth; its ifalias records the owning directory. */
  readonly hostVeth: string;
  readonly nsVeth: string;
  readonly pubBridge: string;
  readonly privBridge: string;
  readonly publicSubnet: string;
  readonly publicPrefix: number;
  /** The public network's gateway (the namespace's address on `pub`). */
  readonly publicGateway: string;
  readonly hostAddress: string;
  readonly nsAddress: string;
  readonly uplinkPrefix: number;
}

export function vmBedNames(k: number): VmBedNames {
  if (!Number.isInteger(k) || k < MIN_VM_BED || k > MAX_VM_BED)
    throw new Error(`VM bed number must be ${MIN_VM_BED}–${MAX_VM_BED}, got ${k}`);
  const net = `${PREFIX}.${k}`;
  return {
    k,
    netns: `hsv${k}`,
    hostVeth: `hsv${k}`,
    nsVeth: "uplink",
    pubBridge: "pub",
    privBridge: "priv",
    publicSubnet: `${net}.0/25`,
    publicPrefix: 25,
    publicGateway: `${net}.1`,
    hostAddress: `${net}.253`,
    nsAddress: `${net}.254`,
    uplinkPrefix: 30,
  };
}

export function publicAddress(k: number, slot: number): string {
  if (!Number.isInteger(slot) || slot < 1 || slot > MAX_VMS)
    throw new Error(`VM slot must be 1–${MAX_VMS}, got ${slot}`);
  return `${PREFIX}.${k}.${FIRST_PUBLIC_OCTET + slot - 1}`;
}

/** Tap names live inside the bed's namespace, so they only need to be unique per bed (15 characters at most). */
export function tapNames(slot: number): { pub: string; priv: string } {
  return { pub: `v${slot}pub`, priv: `v${slot}priv` };
}

/** Locally administered MACs; unique per bed, which is all a bridge in the bed's own namespace needs. */
export function macs(k: number, slot: number): { pub: string; priv: string } {
  const h = (n: number) => n.toString(16).padStart(2, "0");
  return { pub: `52:54:${h(k)}:${h(slot)}:00:01`, priv: `52:54:${h(k)}:${h(slot)}:00:02` };
}

/** Lowest free slot, given the slots in use. */
export function nextSlot(used: Iterable<number>): number {
  const taken = new Set(used);
  for (let s = 1; s <= MAX_VMS; s++) if (!taken.has(s)) return s;
  throw new Error(`the VM bed already has ${MAX_VMS} VMs, the most its public /25 holds`);
}

/** Hetzner refuses user data over 32 KiB; the bed does too, so a rehearsal cannot pass what Hetzner would refuse. */
export const MAX_USER_DATA_BYTES = 32 * 1024;
const PUBLIC_KEY_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;

/** Every problem with a boot request's user data and keys, each naming what to fix. */
export function bootProblems(req: {
  readonly name: string;
  readonly userData: string;
  readonly sshKeys?: readonly string[];
}): string[] {
  const problems: string[] = [];
  const nameProblem = validVmName(req.name);
  if (nameProblem) problems.push(nameProblem);
  const bytes = Buffer.byteLength(req.userData);
  if (bytes > MAX_USER_DATA_BYTES)
    problems.push(
      `user data of ${req.name} is ${bytes} bytes; Hetzner (and this bed) accept at most ${MAX_USER_DATA_BYTES}`,
    );
  (req.sshKeys ?? []).forEach((k, i) => {
    // One line each: a newline would smuggle a second entry into root's authorized_keys.
    if (!PUBLIC_KEY_LINE.test(k) || k.includes("\0"))
      problems.push(`sshKeys[${i}] of ${req.name} must be one OpenSSH public key line ("ssh-ed25519 AAAA… comment")`);
  });
  return problems;
}

export function validVmName(name: string): string | undefined {
  return NODE_NAME.test(name)
    ? undefined
    : `VM name must be a lowercase DNS label such as "worker-1", got ${JSON.stringify(name)}`;
}

/** Checks the private CIDR the same way the program checks networkCidr's shape; returns its canonical text. */
export function privateNetwork(text: string): { cidr: string; prefix: number } {
  const r = parseCidr(text);
  if (!r.ok || r.cidr.family !== 4 || r.cidr.prefix < 8 || r.cidr.prefix > 24) {
    throw new Error(
      `private network must be an IPv4 CIDR from /8 to /24 such as ${DEFAULT_PRIVATE_CIDR}, got ${JSON.stringify(text)}${r.ok ? "" : `: ${r.reason}`}`,
    );
  }
  return { cidr: r.cidr.text, prefix: r.cidr.prefix };
}

/**
 * The private address for a VM: `wanted` if given (it must lie inside the network, not be its
 * network, broadcast or gateway (.1) address, and be free), else the lowest free one from .2 up.
 */
export function pickPrivateIp(network: string, used: readonly string[], wanted?: string): string {
  const c = cidr(network);
  const size = 1n << BigInt(32 - c.prefix);
  const taken = new Set(used);
  if (wanted !== undefined) {
    if (!net.isIPv4(wanted)) throw new Error(`privateIp ${JSON.stringify(wanted)} is not an IPv4 address`);
    const offset = ipToBigInt(wanted) - c.network;
    if (offset < 0n || offset >= size) throw new Error(`privateIp ${wanted} is outside the private network ${c.text}`);
    if (offset === 0n || offset === size - 1n || offset === 1n)
      throw new Error(`privateIp ${wanted} is the network, broadcast or gateway address of ${c.text}`);
    if (taken.has(wanted)) throw new Error(`privateIp ${wanted} is already used by another VM of this bed`);
    return wanted;
  }
  for (let o = 2n; o < size - 1n; o++) {
    const ip = bigIntToIp(c.network + o, 4);
    if (!taken.has(ip)) return ip;
  }
  throw new Error(`the private network ${c.text} has no free address left`);
}

export interface SeedInput {
  readonly name: string;
  /** Changes on every boot of a new VM of that name, so cloud-init treats it as a new instance. */
  readonly instanceId: string;
  readonly publicIp: string;
  readonly privateIp: string;
  readonly privatePrefix: number;
  readonly macs: { readonly pub: string; readonly priv: string };
  readonly names: VmBedNames;
  /** Public keys the "cloud" installs for root, as Hetzner does for a server's sshKeys. Default []. */
  readonly sshKeys?: readonly string[];
}

/** cloud-init reads YAML 1.1, where a plain 52:54:00:01:00:01 is a base-60 integer: write 1.1, which quotes such strings. */
const CLOUD_YAML = { version: "1.1" } as const;

/** NoCloud meta-data: what Hetzner's metadata service tells cloud-init (instance id, hostname, root's keys). */
export function metaData(s: SeedInput): string {
  return YAML.stringify(
    {
      "instance-id": s.instanceId,
      "local-hostname": s.name,
      ...(s.sshKeys && s.sshKeys.length > 0 ? { "public-keys": [...s.sshKeys] } : {}),
    },
    CLOUD_YAML,
  );
}

/**
 * Network config v2, matched by MAC as on Hetzner: the public NIC with the default route (to the
 * bed's namespace, which forwards nothing out) and the private NIC with MTU 1450. No name servers:
 * lookups fail at once instead of hanging.
 */
export function networkConfig(s: SeedInput): string {
  return YAML.stringify(
    {
      version: 2,
      ethernets: {
        public: {
          match: { macaddress: s.macs.pub },
          addresses: [`${s.publicIp}/${s.names.publicPrefix}`],
          routes: [{ to: "0.0.0.0/0", via: s.names.publicGateway }],
          mtu: PUBLIC_MTU,
        },
        private: {
          match: { macaddress: s.macs.priv },
          addresses: [`${s.privateIp}/${s.privatePrefix}`],
          mtu: PRIVATE_MTU,
        },
      },
    },
    CLOUD_YAML,
  );
}

/** A short id that differs between two VMs of the same name booted at different times. */
export function instanceIdOf(k: number, name: string, bootedAt: string): string {
  return `hsv${k}-${name}-${createHash("sha256").update(`${k} ${name} ${bootedAt}`).digest("hex").slice(0, 8)}`;
}

/** The address `offset` hosts into the network ("10.0.0.0/16", 11 → "10.0.0.11"). */
export function hostAddressInNetwork(network: string, offset: number): string {
  const c = cidr(network);
  if (BigInt(offset) >= 1n << BigInt(32 - c.prefix)) throw new Error(`host ${offset} does not fit into ${c.text}`);
  return bigIntToIp(c.network + BigInt(offset), 4);
}
