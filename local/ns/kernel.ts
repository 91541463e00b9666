/**
 * What this kernel can and cannot do for a swarm, found by trying it in a scratch network namespace
 * (never by reading version strings): an ESP state with AES-GCM (encrypted overlays), IPVS (VIP
 * services and the routing mesh), VXLAN (overlays at all), the u32 match (Docker's rules that force
 * encryption) and overlayfs (the storage driver). Nothing leaves the scratch namespace.
 */
import * as fs from "fs";
import { run } from "../common/host-command";

export interface KernelFeature {
  readonly name: string;
  readonly available: boolean;
  /** What the probe saw, e.g. the kernel's error. */
  readonly detail: string;
  /** What the bed can't prove without it. */
  readonly consequence: string;
}

const PROBE_NETNS = `hsw-probe-${process.pid}`;
// A throwaway key: 20 bytes = AES-128 key + 4-byte salt, as Docker's rfc4106(gcm(aes)) states use.
const DUMMY_KEY = "0x" + "11".repeat(20);

async function attempt(cmd: string, args: readonly string[]): Promise<{ ok: boolean; detail: string }> {
  const r = await run(cmd, args, { allowFail: true, timeoutMs: 10_000 });
  const detail = (r.stderr || r.stdout).trim().split("\n").pop() ?? "";
  return { ok: r.code === 0, detail: r.code === 0 ? "works" : detail || `exit ${r.code}` };
}

async function moduleLoadable(mod: string): Promise<boolean> {
  if (!fs.existsSync("/sbin/modprobe") && !fs.existsSync("/usr/sbin/modprobe")) return false;
  return (await run("modprobe", ["-n", "-q", mod], { allowFail: true })).code === 0;
}

/** Probe namespaces of earlier runs that died mid-probe (their pid is gone). */
async function removeStaleProbes(): Promise<void> {
  for (const ns of fs.existsSync("/run/netns") ? fs.readdirSync("/run/netns") : []) {
    const m = /^hsw-probe-(\d+)(-netem)?$/.exec(ns);
    if (m && !fs.existsSync(`/proc/${m[1]}`)) await run("ip", ["netns", "del", ns], { allowFail: true });
  }
}

/** Probes every feature; takes ~100 ms. */
export async function detectKernelFeatures(): Promise<KernelFeature[]> {
  await removeStaleProbes();
  await run("ip", ["netns", "del", PROBE_NETNS], { allowFail: true });
  await run("ip", ["netns", "add", PROBE_NETNS]);
  try {
    const inNs = (cmd: string, ...args: string[]): Promise<{ ok: boolean; detail: string }> =>
      attempt("ip", ["netns", "exec", PROBE_NETNS, cmd, ...args]);
    const [esp, vxlan, u32, ipvsProc] = await Promise.all([
      attempt("ip", [
        "-n",
        PROBE_NETNS,
        "xfrm",
        "state",
        "add",
        "src",
        "192.0.2.1",
        "dst",
        "192.0.2.2",
        "proto",
        "esp",
        "spi",
        "0x1000",
        "reqid",
        "1",
        "mode",
        "transport",
        "aead",
        "rfc4106(gcm(aes))",
        DUMMY_KEY,
        "128",
      ]),
      attempt("ip", ["-n", PROBE_NETNS, "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789"]),
      inNs("iptables", "-w", "-A", "INPUT", "-m", "u32", "--u32", "0>>22&0x3C@12=0xd0c4e3", "-j", "DROP"),
      inNs("cat", "/proc/net/ip_vs"),
    ]);
    const ipvsModule = ipvsProc.ok ? false : await moduleLoadable("ip_vs");
    // Tells "no ESP at all" from "ESP without AES-GCM" (Docker uses only GCM).
    const espCbc = esp.ok
      ? esp
      : await attempt("ip", [
          "-n",
          PROBE_NETNS,
          "xfrm",
          "state",
          "add",
          "src",
          "192.0.2.1",
          "dst",
          "192.0.2.2",
          "proto",
          "esp",
          "spi",
          "0x1001",
          "reqid",
          "1",
          "mode",
          "transport",
          "enc",
          "cbc(aes)",
          "0x" + "11".repeat(16),
          "auth",
          "hmac(sha256)",
          "0x" + "22".repeat(32),
        ]);
    const overlay =
      /\toverlay$/m.test(fs.readFileSync("/proc/filesystems", "utf8")) || (await moduleLoadable("overlay"));
    return [
      {
        name: "ESP (IPsec, AES-GCM xfrm state)",
        available: esp.ok,
        detail: esp.ok
          ? "works"
          : espCbc.ok
            ? `ESP works but not AES-GCM: ${esp.detail}`
            : `no ESP: ${espCbc.detail}; with GCM: ${esp.detail}`,
        consequence:
          "encrypted overlays are created but carry no traffic here (they fail closed), so encryption on the wire cannot be proven on this machine",
      },
      {
        name: "IPVS",
        available: ipvsProc.ok || ipvsModule,
        detail: ipvsProc.ok ? "works" : ipvsModule ? "loadable module" : "no /proc/net/ip_vs and no ip_vs module",
        consequence:
          "no VIP services and no ingress routing mesh: use endpoint_mode dnsrr and ports published with mode: host",
      },
      { name: "VXLAN", available: vxlan.ok, detail: vxlan.detail, consequence: "no overlay networks at all" },
      {
        name: "iptables u32 match",
        available: u32.ok,
        detail: u32.detail,
        consequence: "Docker cannot install the rules that drop unencrypted VXLAN on encrypted networks",
      },
      {
        name: "overlayfs",
        available: overlay,
        detail: overlay ? "works" : "not in /proc/filesystems",
        consequence: "dockerd falls back to the slow vfs storage driver",
      },
    ];
  } finally {
    await run("ip", ["netns", "del", PROBE_NETNS], { allowFail: true });
  }
}

/**
 * Whether this kernel can add latency (the netem qdisc), tried on the loopback of a scratch
 * namespace. Kept out of detectKernelFeatures: a swarm does not need it, only `local shape --delay`.
 */
export async function probeNetem(): Promise<{ available: boolean; detail: string }> {
  const ns = `${PROBE_NETNS}-netem`;
  await removeStaleProbes();
  await run("ip", ["netns", "del", ns], { allowFail: true });
  await run("ip", ["netns", "add", ns]);
  try {
    const r = await attempt("ip", [
      "netns",
      "exec",
      ns,
      "tc",
      "qdisc",
      "add",
      "dev",
      "lo",
      "root",
      "netem",
      "delay",
      "1ms",
    ]);
    return { available: r.ok, detail: r.ok ? "works" : `tc qdisc add … netem: ${r.detail}` };
  } finally {
    await run("ip", ["netns", "del", ns], { allowFail: true });
  }
}
