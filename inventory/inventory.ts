// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The inventory is the seam between "servers exist" and "a swarm runs on them". The Pulumi program
 * exports it, `hcloud-swarm local up` writes it, and bootstrap, stacks and verify consume it, so the
 * code after it is the same on Hetzner and on the local test bed.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { throwIfProblems } from "../common/problems";
import { labelProblems } from "./labels";
import { nameProblem } from "../transport/shell";
import { NodeSpec, nodeSpecProblems } from "../nodespec/spec";

export type NodeRole = "manager" | "worker";

/** One node, as bootstrap sees it. Plain data: no Pulumi types, no secrets. */
export interface InventoryNode {
  /** Stable node name (`manager-1`, `worker-3`); becomes the swarm node's hostname label. */
  readonly name: string;
  readonly role: NodeRole;
  /** Address SSH connects to. */
  readonly host: string;
  /** SSH port. Default 22. */
  readonly port: number;
  /** SSH user. Default "root". */
  readonly user: string;
  /** Private key file for SSH. Absent in the Pulumi export (the key is a secret output); the CLI's --identity fills it. */
  readonly privateKeyPath?: string;
  /** Pinned host public key, "ssh-ed25519 AAAA…". Connections to a host presenting another key fail. */
  readonly hostKey: string;
  /** Swarm `--advertise-addr`: the private address in private-network mode, else the public one. */
  readonly advertiseAddress: string;
  /** Public IPv4 address, where the node has one. */
  readonly publicAddress?: string;
  /** Address on the Hetzner private network, where there is one. */
  readonly privateAddress?: string;
  /** Swarm node labels, applied with `docker node update --label-add` (rules in ./labels.ts). Default {}. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Cluster-wide swarm settings; all but autolock only take effect at `swarm init`. */
export interface SwarmSettings {
  /** `--default-addr-pool` for `swarm init`; must not overlap the nodes' network. Default: Docker's 10.0.0.0/8. */
  readonly defaultAddrPool?: string;
  /** `--default-addr-pool-mask-length`. Default 24. */
  readonly defaultAddrPoolMaskLength?: number;
  /** Underlay MTU for `com.docker.network.driver.mtu` on every overlay: 1450 on a Hetzner private network, 1500 otherwise. Default 1500. */
  readonly overlayMtu?: number;
  /**
   * Autolock: managers keep their Raft keys encrypted at rest and a restarted manager stays locked
   * until unlocked with the swarm's unlock key. Applied in place by every bootstrap run (on or off).
   * Default true.
   */
  readonly autolock?: boolean;
}

/** The nodes' host firewall (hostfw/). */
export interface FirewallSettings {
  /**
   * Ranges that may open new connections (sshd, published ports, host services) on the nodes'
   * private interface besides the members; everyone else there is dropped. Swarm ports stay members-only.
   */
  readonly privateAllowedCidrs?: readonly string[];
}

export interface Inventory {
  /** Cluster name, used in labels and messages. Default "hcloud-swarm". */
  readonly cluster?: string;
  readonly swarm?: SwarmSettings;
  readonly firewall?: FirewallSettings;
  /**
   * What every node runs besides the swarm (Docker release, admin keys, daemon.json keys), applied in
   * place by bootstrap's node reconcile step and, where the engine must restart, by `upgrade`.
   * Absent: none of it is managed (kernel modules and the host firewall still are).
   */
  readonly nodeSpec?: NodeSpec;
  /** How `hcloud-swarm upgrade` rolls this cluster (hcloud-swarm:maxUnavailable). Default {maxUnavailable: 1}. */
  readonly rolling?: { readonly maxUnavailable?: number };
  readonly nodes: readonly InventoryNode[];
}

const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** An address/prefix the firewall script's own validator accepts (canonical address, prefix in range). */
export function hostCidr(c: string): boolean {
  const m = /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(c);
  if (!m) return false;
  const family = net.isIP(m[1]);
  const canonical = family === 4 ? !/(^|\.)0\d/.test(m[1]) : family === 6 && !m[1].includes(".") && !m[1].includes("%");
  return canonical && Number(m[2]) <= (family === 4 ? 32 : 128);
}

function isHost(v: unknown): v is string {
  return typeof v === "string" && (net.isIP(v) !== 0 || /^[A-Za-z0-9.-]+$/.test(v));
}

/** Validates a parsed inventory, reporting every problem at once with the node and key it concerns. */
export function validateInventory(value: unknown, source = "inventory"): Inventory {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null || !Array.isArray((value as { nodes?: unknown }).nodes)) {
    throwIfProblems(source, [`"nodes" must be a list of nodes: {"nodes": [{"name": …, "role": …, …}]}`]);
  }
  const raw = value as {
    cluster?: unknown;
    swarm?: unknown;
    firewall?: unknown;
    nodeSpec?: unknown;
    rolling?: { maxUnavailable?: unknown };
    nodes: unknown[];
  };
  const nodes: InventoryNode[] = [];
  const seen = new Set<string>();
  raw.nodes.forEach((n, i) => {
    const at = `nodes[${i}]`;
    if (typeof n !== "object" || n === null) {
      problems.push(`${at} must be an object with name, role, host, hostKey and advertiseAddress`);
      return;
    }
    const o = n as Record<string, unknown>;
    const name = typeof o.name === "string" ? o.name : "";
    const where = name ? `${at} (${name})` : at;
    const badName = nameProblem("node", o.name, `${where}.name`);
    if (badName) problems.push(badName);
    else if (seen.has(name)) problems.push(`${where}.name is used twice; node names must be unique`);
    seen.add(name);
    if (o.role !== "manager" && o.role !== "worker")
      problems.push(`${where}.role must be "manager" or "worker", got ${JSON.stringify(o.role)}`);
    if (!isHost(o.host))
      problems.push(`${where}.host must be an IP address or host name, got ${JSON.stringify(o.host)}`);
    const port = o.port ?? 22;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
      problems.push(`${where}.port must be a whole number from 1 to 65535, got ${JSON.stringify(o.port)}`);
    const user = o.user ?? "root";
    const badUser = nameProblem("user", user, `${where}.user`);
    if (badUser) problems.push(badUser);
    if (
      o.privateKeyPath !== undefined &&
      (typeof o.privateKeyPath !== "string" || !path.isAbsolute(o.privateKeyPath))
    ) {
      problems.push(
        `${where}.privateKeyPath must be an absolute path to an OpenSSH private key, got ${JSON.stringify(o.privateKeyPath)}`,
      );
    }
    if (typeof o.hostKey !== "string" || !HOST_KEY.test(o.hostKey.trim())) {
      problems.push(
        `${where}.hostKey must be the node's host public key, "ssh-ed25519 AAAA…" (as in /etc/ssh/ssh_host_ed25519_key.pub); there is no trust-on-first-use`,
      );
    }
    if (typeof o.advertiseAddress !== "string" || net.isIP(o.advertiseAddress) === 0) {
      problems.push(
        `${where}.advertiseAddress must be the IP address swarm traffic uses, got ${JSON.stringify(o.advertiseAddress)}`,
      );
    }
    for (const k of ["publicAddress", "privateAddress"] as const) {
      if (o[k] !== undefined && (typeof o[k] !== "string" || net.isIP(o[k] as string) === 0))
        problems.push(`${where}.${k} must be an IP address when given, got ${JSON.stringify(o[k])}`);
    }
    const labels = o.labels ?? {};
    problems.push(...labelProblems(labels, `${where}.labels`));
    nodes.push({
      name,
      role: o.role as NodeRole,
      host: o.host as string,
      port: port as number,
      user: user as string,
      ...(typeof o.privateKeyPath === "string" ? { privateKeyPath: o.privateKeyPath } : {}),
      hostKey: typeof o.hostKey === "string" ? o.hostKey.trim() : "",
      advertiseAddress: o.advertiseAddress as string,
      ...(typeof o.publicAddress === "string" ? { publicAddress: o.publicAddress } : {}),
      ...(typeof o.privateAddress === "string" ? { privateAddress: o.privateAddress } : {}),
      labels: labels as Record<string, string>,
    });
  });
  if (raw.nodes.length > 0 && !raw.nodes.some((n) => (n as { role?: unknown } | null)?.role === "manager")) {
    problems.push(`nodes must include at least one node with "role": "manager"`);
  }
  const swarm = (raw.swarm ?? {}) as Record<string, unknown>;
  if (typeof swarm !== "object" || swarm === null) problems.push(`swarm must be an object`);
  if (
    swarm.defaultAddrPool !== undefined &&
    (typeof swarm.defaultAddrPool !== "string" || !CIDR.test(swarm.defaultAddrPool))
  ) {
    problems.push(
      `swarm.defaultAddrPool must be an IPv4 CIDR such as "10.128.0.0/16", got ${JSON.stringify(swarm.defaultAddrPool)}`,
    );
  }
  const mask = swarm.defaultAddrPoolMaskLength;
  if (mask !== undefined && (typeof mask !== "number" || !Number.isInteger(mask) || mask < 8 || mask > 29)) {
    problems.push(`swarm.defaultAddrPoolMaskLength must be a whole number from 8 to 29, got ${JSON.stringify(mask)}`);
  }
  const mtu = swarm.overlayMtu;
  if (mtu !== undefined && (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 1280 || mtu > 9000)) {
    problems.push(
      `swarm.overlayMtu must be the underlay MTU, 1450 on a Hetzner private network or 1500, got ${JSON.stringify(mtu)}`,
    );
  }
  if (swarm.autolock !== undefined && typeof swarm.autolock !== "boolean")
    problems.push(`swarm.autolock must be true or false, got ${JSON.stringify(swarm.autolock)}`);
  const firewall = raw.firewall ?? {};
  if (typeof firewall !== "object" || firewall === null || Array.isArray(firewall))
    problems.push(`firewall must be an object such as {"privateAllowedCidrs": ["10.0.0.0/16"]}`);
  const opened = (firewall as { privateAllowedCidrs?: unknown }).privateAllowedCidrs;
  if (opened !== undefined && !Array.isArray(opened))
    problems.push(
      `firewall.privateAllowedCidrs must be a list of CIDRs such as ["10.0.0.0/16"], got ${JSON.stringify(opened)}`,
    );
  if (Array.isArray(opened))
    opened.forEach((c: unknown, i) => {
      if (typeof c !== "string" || !hostCidr(c))
        problems.push(
          `firewall.privateAllowedCidrs[${i}] must be a CIDR such as "10.0.0.0/16" or "fd00::/64" (address/prefix, no leading zeros), got ${JSON.stringify(c)}`,
        );
    });
  if (raw.cluster !== undefined && nameProblem("node", raw.cluster, "cluster") !== undefined) {
    problems.push(`cluster must be a lowercase name such as "hcloud-swarm", got ${JSON.stringify(raw.cluster)}`);
  }
  if (raw.nodeSpec !== undefined) problems.push(...nodeSpecProblems(raw.nodeSpec, "nodeSpec"));
  const mu = raw.rolling?.maxUnavailable;
  if (raw.rolling !== undefined && (typeof raw.rolling !== "object" || raw.rolling === null))
    problems.push(`rolling must be an object such as {"maxUnavailable": 1}`);
  else if (mu !== undefined && (typeof mu !== "number" || !Number.isInteger(mu) || mu < 1))
    problems.push(`rolling.maxUnavailable must be a whole number of workers, at least 1, got ${JSON.stringify(mu)}`);
  throwIfProblems(source, problems);
  return {
    ...(typeof raw.cluster === "string" ? { cluster: raw.cluster } : {}),
    ...(raw.swarm !== undefined ? { swarm: swarm as SwarmSettings } : {}),
    ...(raw.firewall !== undefined ? { firewall: firewall as FirewallSettings } : {}),
    ...(raw.nodeSpec !== undefined ? { nodeSpec: raw.nodeSpec as NodeSpec } : {}),
    ...(raw.rolling !== undefined ? { rolling: raw.rolling as { maxUnavailable?: number } } : {}),
    nodes,
  };
}

/** Parses inventory JSON text; a syntax error names the file and position. */
export function parseInventory(text: string, source = "inventory"): Inventory {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  return validateInventory(value, source);
}

/** Reads and validates an inventory file. */
export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read inventory ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseInventory(text, `inventory ${file}`);
}

/** Managers first, in inventory order: the first reachable one serves as the swarm's entry point. */
export function managers(inv: Inventory): InventoryNode[] {
  return inv.nodes.filter((n) => n.role === "manager");
}

/** known_hosts lines for every node, so `ssh` and docker's ssh:// contexts pin the host keys too. */
export function knownHosts(nodes: readonly InventoryNode[]): string {
  return nodes.map((n) => `${n.host} ${n.hostKey}`).join("\n") + "\n";
}
