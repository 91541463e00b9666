/**
 * The VM bed's networks, all inside the bed's own namespace `hsv<K>`: bridges `pub` (MTU 1500) and
 * `priv` (MTU 1450), one tap per VM NIC, and an uplink veth to the host so the host reaches the
 * public addresses (SSH). The namespace forwards only what the host started (and its answers):
 * VMs reach each other on the bridges, and nothing else, the host included.
 */
import * as fs from "fs";
import { CommandError, run } from "../common/host-command";
import { waitFor } from "../../common/time";
import { PRIVATE_MTU, PUBLIC_MTU } from "../../infra/plan";
import { MAX_VM_BED, MIN_VM_BED, tapNames, VmBedNames, vmBedNames } from "./plan";

const SYS_NET = "/sys/class/net";
/** `ip netns del` frees the namespace (and the host end of its veth) asynchronously, within seconds. */
const LINK_GONE_TIMEOUT_MS = 15_000;
const ALIAS_PREFIX = "hcloud-swarm-vm-bed";

function hostLinkExists(name: string): boolean {
  return fs.existsSync(`${SYS_NET}/${name}`);
}

function netnsExists(name: string): boolean {
  return fs.existsSync(`/run/netns/${name}`);
}

/** The alias on the host veth records the owning directory, so leftovers are found without state.json. */
export function ownerAliasOf(dirId: string, dir: string): string {
  return `${ALIAS_PREFIX} ${dirId} ${dir}`.slice(0, 250);
}

/** Bed numbers whose host veth says they belong to `dirId`. */
export function vmBedsOwnedBy(dirId: string): number[] {
  const out: number[] = [];
  for (let k = MIN_VM_BED; k <= MAX_VM_BED; k++) {
    try {
      const alias = fs.readFileSync(`${SYS_NET}/hsv${k}/ifalias`, "utf8").trim().split(" ");
      if (alias[0] === ALIAS_PREFIX && alias[1] === dirId) out.push(k);
    } catch {
      // no such bed
    }
  }
  return out;
}

/** The owner id recorded on bed K's host veth, if any. */
export function vmBedOwner(k: number): string | undefined {
  try {
    const alias = fs.readFileSync(`${SYS_NET}/hsv${k}/ifalias`, "utf8").trim().split(" ");
    return alias[0] === ALIAS_PREFIX ? alias[1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims the first free bed number by creating its host veth: `ip link add` fails when another bed
 * took the name a moment earlier, which makes the claim atomic across concurrent beds.
 */
export async function claimVmBed(owner: string): Promise<number> {
  for (let k = MIN_VM_BED; k <= MAX_VM_BED; k++) {
    if (hostLinkExists(`hsv${k}`) || netnsExists(`hsv${k}`)) continue;
    const r = await run("ip", ["link", "add", `hsv${k}`, "type", "veth", "peer", "name", `hsv${k}up`], {
      allowFail: true,
    });
    if (r.code === 0) {
      await run("ip", ["link", "set", `hsv${k}`, "alias", owner]);
      return k;
    }
    if (!/exists/i.test(r.stderr)) throw new CommandError(`ip link add hsv${k} type veth peer name hsv${k}up`, r);
  }
  throw new Error(
    `all ${MAX_VM_BED} VM bed numbers are in use; remove beds you no longer need with \`hcloud-swarm local down --dir …\``,
  );
}

async function nsRun(netns: string, cmd: string, args: readonly string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", netns, cmd, ...args])).stdout;
}

/** Builds the namespace, its bridges, the uplink and the namespace's forwarding rules for claimed bed K. */
export async function createVmBedNetwork(b: VmBedNames): Promise<void> {
  await run("ip", ["netns", "add", b.netns]);
  await run("ip", ["-batch", "-"], {
    input:
      [
        `link set hsv${b.k}up netns ${b.netns}`,
        `addr add ${b.hostAddress}/${b.uplinkPrefix} dev ${b.hostVeth}`,
        `link set ${b.hostVeth} up`,
      ].join("\n") + "\n",
  });
  await run("ip", ["-n", b.netns, "-batch", "-"], {
    input:
      [
        `link set hsv${b.k}up name ${b.nsVeth}`,
        "link set lo up",
        `addr add ${b.nsAddress}/${b.uplinkPrefix} dev ${b.nsVeth}`,
        `link set ${b.nsVeth} up`,
        `link add ${b.pubBridge} type bridge`,
        `link set ${b.pubBridge} mtu ${PUBLIC_MTU}`,
        `addr add ${b.publicGateway}/${b.publicPrefix} dev ${b.pubBridge}`,
        `link set ${b.pubBridge} up`,
        `link add ${b.privBridge} type bridge`,
        `link set ${b.privBridge} mtu ${PRIVATE_MTU}`,
        `link set ${b.privBridge} up`,
      ].join("\n") + "\n",
  });
  await run("ip", ["route", "add", b.publicSubnet, "via", b.nsAddress, "dev", b.hostVeth]);
  await nsRun(b.netns, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"]);
  // Bridged frames cross FORWARD when br_netfilter is loaded: accept VM-to-VM on each bridge, the
  // host's connections to VMs and their answers; drop the rest (VMs opening anything towards the host).
  const rules = [
    ["-P", "FORWARD", "DROP"],
    ["-A", "FORWARD", "-i", b.pubBridge, "-o", b.pubBridge, "-j", "ACCEPT"],
    ["-A", "FORWARD", "-i", b.privBridge, "-o", b.privBridge, "-j", "ACCEPT"],
    ["-A", "FORWARD", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ["-A", "FORWARD", "-i", b.nsVeth, "-o", b.pubBridge, "-j", "ACCEPT"],
    ["-A", "INPUT", "-i", b.nsVeth, "-j", "ACCEPT"],
    ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
    ["-P", "INPUT", "DROP"],
  ];
  for (const r of rules) await nsRun(b.netns, "iptables", ["-w", ...r]);
}

/** Creates a VM's two taps in the namespace, plugged into the bridges. */
export async function createTaps(b: VmBedNames, slot: number): Promise<{ pub: string; priv: string }> {
  const t = tapNames(slot);
  await run("ip", ["-n", b.netns, "-batch", "-"], {
    input:
      [
        `tuntap add dev ${t.pub} mode tap`,
        `link set ${t.pub} mtu ${PUBLIC_MTU} master ${b.pubBridge} up`,
        `tuntap add dev ${t.priv} mode tap`,
        `link set ${t.priv} mtu ${PRIVATE_MTU} master ${b.privBridge} up`,
      ].join("\n") + "\n",
  });
  return t;
}

export async function removeTaps(b: VmBedNames, slot: number): Promise<void> {
  const t = tapNames(slot);
  if (!netnsExists(b.netns)) return;
  await run("ip", ["-n", b.netns, "-force", "-batch", "-"], {
    input: `link del ${t.pub}\nlink del ${t.priv}\n`,
    allowFail: true,
  });
}

/** Removes bed K's namespace (bridges, taps, uplink go with it) and waits for the host veth to vanish. */
export async function removeVmBedNetwork(k: number): Promise<void> {
  const b = vmBedNames(k);
  if (netnsExists(b.netns)) await run("ip", ["netns", "del", b.netns], { allowFail: true });
  if (hostLinkExists(b.hostVeth)) await run("ip", ["link", "del", b.hostVeth], { allowFail: true });
  await waitFor(() => !hostLinkExists(b.hostVeth), LINK_GONE_TIMEOUT_MS);
}
