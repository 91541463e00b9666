/**
 * The bed's host network: one bridge per bed, a veth per node, and iptables rules that let nodes talk
 * to each other and to nothing else, while the host can still open SSH connections to them.
 * Every rule sits in the bed's own chains (hsw<K>-in, hsw<K>-fwd), reached by jump rules that carry
 * the bed tag in a comment, so no shared chain is ever flushed and cleanup finds exactly its own rules.
 */
import * as fs from "fs";
import { BedNames, isBedLink, MAX_BED, MIN_BED, nodeAddress, vethOf } from "./plan";
import { CommandError, commandLine, run, sh } from "../common/host-command";
import { sleep, waitFor } from "../../common/time";

const SYS_NET = "/sys/class/net";
const NETNS_DIR = "/run/netns";
/** `ip netns del` frees namespaces asynchronously; the veths behind them go within seconds even with 20 nodes. */
const LINK_GONE_TIMEOUT_MS = 15_000;

/** Per-interface switch, never the global one. Absent when the kernel has no IPv6 at all, which is fine. */
export function disableIpv6(dev: string): void {
  try {
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, "1");
  } catch {
    // No IPv6 in this kernel: nothing to disable.
  }
}

export function linkExists(name: string): boolean {
  return fs.existsSync(`${SYS_NET}/${name}`);
}

export function listLinks(): string[] {
  try {
    return fs.readdirSync(SYS_NET);
  } catch {
    return [];
  }
}

export function listNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** The bridge alias records which bed directory owns a bed number, so leftovers are found without state.json. */
export function bridgeAlias(k: number): string | undefined {
  try {
    return fs.readFileSync(`${SYS_NET}/hsw${k}/ifalias`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** True when nothing on the host carries this bed number, so a new bed may take it. */
export function bedNumberLooksFree(k: number, takenByCgroups: ReadonlySet<number>): boolean {
  if (takenByCgroups.has(k)) return false;
  if (listLinks().some((l) => isBedLink(l, k))) return false;
  return !listNetns().some((n) => n.startsWith(`hsw${k}-`));
}

/**
 * Claims the first free bed number by creating its bridge: `ip link add` fails when another bed
 * created the same bridge a moment earlier, which makes the claim atomic across concurrent `up`s.
 */
export async function claimBridge(dirTag: string, takenByCgroups: ReadonlySet<number>): Promise<number> {
  for (let k = MIN_BED; k <= MAX_BED; k++) {
    if (!bedNumberLooksFree(k, takenByCgroups)) continue;
    const r = await run("ip", ["link", "add", `hsw${k}`, "type", "bridge"], { allowFail: true });
    if (r.code === 0) {
      await run("ip", ["link", "set", `hsw${k}`, "alias", dirTag]);
      return k;
    }
    if (!/exists/i.test(r.stderr)) throw new CommandError(`ip link add hsw${k} type bridge`, r);
  }
  throw new Error(
    `all ${MAX_BED} bed numbers in 10.213.0.0/16 are in use; run \`hcloud-swarm local down --dir …\` for beds you no longer need`,
  );
}

/** Addresses the bridge (IPv4 only: the firewall is IPv4) and installs the bed's firewall. */
export async function configureBridge(b: BedNames): Promise<void> {
  disableIpv6(b.bridge);
  await run("ip", ["-batch", "-"], {
    input: [`addr add ${b.gateway}/${b.prefixLength} dev ${b.bridge}`, `link set ${b.bridge} up`].join("\n") + "\n",
  });
  await installFirewall(b);
}

/** Other beds change the same tables at the same moment; nft-backed iptables then may fail transiently. */
const IPTABLES_ATTEMPTS = 5;
const TRANSIENT = /temporarily unavailable|holding the xtables lock|try again|Device or resource busy/i;

async function ipt(args: readonly string[], allowFail = false): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const r = await run("iptables", ["-w", ...args], { allowFail: true });
    if (r.code === 0) return r.stdout;
    if (attempt < IPTABLES_ATTEMPTS && TRANSIENT.test(r.stderr)) {
      await sleep(50 * attempt);
      continue;
    }
    if (allowFail) return r.stdout;
    throw new CommandError(commandLine("iptables", ["-w", ...args]), r);
  }
}

/**
 * INPUT: nodes may answer connections the host opened (SSH) but may not open any to the host.
 * FORWARD: traffic between two nodes of this bed passes (bridged traffic crosses FORWARD when
 * br_netfilter is loaded, and a host dockerd sets its policy to DROP); anything routed into or out of
 * the bed is rejected, so nodes reach no other bed, no outsider and no outside network.
 */
async function installFirewall(b: BedNames): Promise<void> {
  for (const chain of [b.chainIn, b.chainFwd]) await ipt(["-N", chain]);
  await ipt(["-A", b.chainIn, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]);
  await ipt(["-A", b.chainIn, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]);
  await ipt(["-A", b.chainFwd, "-i", b.bridge, "-o", b.bridge, "-j", "ACCEPT"]);
  await ipt(["-A", b.chainFwd, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]);
  const tag = ["-m", "comment", "--comment", b.tag];
  await ipt(["-I", "INPUT", "1", "-i", b.bridge, ...tag, "-j", b.chainIn]);
  await ipt(["-I", "FORWARD", "1", "-i", b.bridge, ...tag, "-j", b.chainFwd]);
  await ipt(["-I", "FORWARD", "1", "-o", b.bridge, ...tag, "-j", b.chainFwd]);
}

/** Splits one `iptables -S` line into arguments, honouring the double quotes around comments. */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]);
  return out;
}

/** Rules in the built-in chains that jump to bed K's chains or carry its tag. */
export async function bedJumpRules(k: number): Promise<string[][]> {
  const rules: string[][] = [];
  for (const chain of ["INPUT", "FORWARD", "OUTPUT"]) {
    for (const line of (await ipt(["-S", chain], true)).split("\n")) {
      const args = splitRule(line);
      const jump = args[args.indexOf("-j") + 1];
      const comment = args[args.indexOf("--comment") + 1] ?? "";
      if (
        args[0] === "-A" &&
        (jump === `hsw${k}-in` || jump === `hsw${k}-fwd` || comment.split(" ").includes(`hsw${k}`))
      )
        rules.push(args);
    }
  }
  return rules;
}

/** Bed numbers whose rules carry this directory id (for leftovers whose state.json is gone). */
export async function bedsTaggedWith(dirId: string): Promise<number[]> {
  const ks = new Set<number>();
  for (const line of (await ipt(["-S"], true)).split("\n")) {
    const m = new RegExp(`hcloud-swarm-bed hsw(\\d+) ${dirId}`).exec(line);
    if (m) ks.add(Number(m[1]));
  }
  return [...ks];
}

/** Removes bed K's jump rules and chains; never touches another rule. */
export async function removeFirewall(k: number): Promise<void> {
  for (const rule of await bedJumpRules(k)) await ipt(["-D", ...rule.slice(1)], true);
  for (const chain of [`hsw${k}-in`, `hsw${k}-fwd`]) {
    await ipt(["-F", chain], true);
    await ipt(["-X", chain], true);
  }
}

/** Creates a node's namespace and veth, plugged into the bridge. Runs in one `ip -batch` for speed. */
export async function createNodeLinks(b: BedNames, nodes: readonly { netns: string; veth: string }[]): Promise<void> {
  const lines: string[] = [];
  for (const n of nodes) {
    lines.push(`netns add ${n.netns}`);
    lines.push(`link add ${n.veth} type veth peer name eth0 netns ${n.netns}`);
    lines.push(`link set ${n.veth} master ${b.bridge} up`);
  }
  await run("ip", ["-batch", "-"], { input: lines.join("\n") + "\n" });
  for (const n of nodes) disableIpv6(n.veth);
}

/**
 * Removes bed K's namespaces, veths and bridges. Deleting the host end of a veth removes the pair
 * at once; the namespaces themselves are freed by the kernel a little later, so we wait for every
 * link of the bed to vanish before deleting the bridge: a later `up` then finds the names free.
 */
export async function removeBedNetwork(k: number): Promise<void> {
  const links = listLinks().filter((l) => isBedLink(l, k) && l !== `hsw${k}`);
  const namespaces = listNetns().filter((n) => n.startsWith(`hsw${k}-`));
  const lines = [...links.map((l) => `link del ${l}`), ...namespaces.map((n) => `netns del ${n}`)];
  if (lines.length > 0) await run("ip", ["-force", "-batch", "-"], { input: lines.join("\n") + "\n", allowFail: true });
  await waitFor(() => !listLinks().some((l) => isBedLink(l, k) && l !== `hsw${k}`), LINK_GONE_TIMEOUT_MS);
  if (linkExists(`hsw${k}`)) await run("ip", ["link", "del", `hsw${k}`], { allowFail: true });
  await sh(`rm -rf /etc/netns/hsw${k}-*`);
}

/**
 * An "outsider": a namespace on its own link behind the host, in the upper half of the bed's /24.
 * Tests use it as the thing nodes must not reach. Forwarding is switched on for the bed's two
 * interfaces only (never globally), so a missing firewall rule would really let packets through.
 */
export async function createOutsider(b: BedNames): Promise<void> {
  await run("ip", ["-batch", "-"], {
    input:
      [
        `netns add ${b.outsiderNetns}`,
        `link add ${b.outsiderVeth} type veth peer name eth0 netns ${b.outsiderNetns}`,
        `addr add ${b.outsiderGateway}/25 dev ${b.outsiderVeth}`,
        `link set ${b.outsiderVeth} up`,
      ].join("\n") + "\n",
  });
  await run("ip", ["-n", b.outsiderNetns, "-batch", "-"], {
    input:
      [
        `addr add ${b.outsiderAddress}/25 dev eth0`,
        "link set eth0 up",
        "link set lo up",
        `route add default via ${b.outsiderGateway}`,
      ].join("\n") + "\n",
  });
  for (const dev of [b.bridge, b.outsiderVeth]) fs.writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/forwarding`, "1");
}

/** Host octets of the bed's own extra namespaces on the node bridge (.2–.10 are kept free for them). */
export const INTRUDER_OCTET = 10;
export const METADATA_OCTET = 9;
/** Hetzner's metadata address, which the bed's metadata namespace answers on. */
export const METADATA_ADDRESS = "169.254.169.254";

/** Plugs a namespace into the node bridge at `octet` (plus `extra` addresses on its eth0); returns its address. */
async function bridgeNamespace(
  b: BedNames,
  netns: string,
  octet: number,
  extra: readonly string[] = [],
): Promise<string> {
  const address = nodeAddress(b.k, octet);
  const veth = vethOf(b.k, octet);
  await run("ip", ["-batch", "-"], {
    input:
      [
        `netns add ${netns}`,
        `link add ${veth} type veth peer name eth0 netns ${netns}`,
        `link set ${veth} master ${b.bridge} up`,
      ].join("\n") + "\n",
  });
  disableIpv6(veth);
  await run("ip", ["-n", netns, "-batch", "-"], {
    input:
      [
        `addr add ${address}/${b.prefixLength} dev eth0`,
        ...extra.map((a) => `addr add ${a} dev eth0`),
        "link set eth0 up",
        "link set lo up",
      ].join("\n") + "\n",
  });
  return address;
}

/**
 * An "intruder": a namespace on the bed's own bridge, at an address that is in no inventory. It
 * stands for a foreign server on the same Hetzner private network: nothing on the host stands
 * between it and the nodes (unlike the outsider, which is routed behind the host), so only the
 * nodes' own firewalls can keep it away from their swarm ports.
 */
export async function createIntruder(b: BedNames): Promise<{ netns: string; address: string }> {
  const netns = `hsw${b.k}-intruder`;
  return { netns, address: await bridgeNamespace(b, netns, INTRUDER_OCTET) };
}

/**
 * A stand-in for Hetzner's metadata service: a namespace on the bridge that also holds
 * 169.254.169.254, and a route to it on every given node (Hetzner routes it through the node's
 * gateway). Traffic to it never leaves the bed.
 */
export async function createMetadataService(
  b: BedNames,
  nodeNetns: readonly string[],
): Promise<{ netns: string; address: string }> {
  const netns = `hsw${b.k}-metadata`;
  const address = await bridgeNamespace(b, netns, METADATA_OCTET, [`${METADATA_ADDRESS}/32`]);
  for (const n of nodeNetns) await run("ip", ["-n", n, "route", "replace", `${METADATA_ADDRESS}/32`, "via", address]);
  return { netns, address };
}
