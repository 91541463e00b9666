/**
 * `local shape` on the VM bed: latency with jitter and packet loss inside the guests (their stock
 * kernel has netem; the host's has not), and freezing or cutting a VM from outside (./power).
 * Latency is per destination, as between locations ("manager-3 is in hel1, 25 ms away"): the
 * guest's private NIC gets a prio qdisc whose bands each carry a netem delay, and iptables CLASSIFY
 * (mangle POSTROUTING, chain HSW-DELAY) sends each peer's packets to its band. Loss uses the same
 * iptables rules as the namespace bed (../common/packet-loss), on the private network. Everything is read back
 * from the guest (tc, iptables) or from qemu's process state.
 */
import * as fs from "fs";
import * as path from "path";
import { Inventory, InventoryNode, loadInventory } from "../../inventory/inventory";
import { connect, SshSession } from "../../transport/ssh";
import { shellQuote } from "../../transport/shell";
import { Iptables, readLoss, setLoss } from "../common/packet-loss";
import { NodeShape, PeerDelay, ShapeAction, ShapeRequest } from "../common/shape-request";
import { inventoryPath } from "../common/inventory-file";
import { qemuPidOf, setVmFrozen, vmFrozen } from "./power";
import { readVmState } from "./state";

export interface VmShapeContext {
  readonly dir: string;
  readonly inventory: Inventory;
  /** The bed's client key (OpenSSH private key text). */
  readonly privateKey: string;
  /** The private network the swarm talks over, e.g. "10.0.0.0/16". */
  readonly privateCidr: string;
}

/** prio has at most 16 bands: 15 for delay groups, the last one (no delay) for everything else. */
const MAX_DELAY_GROUPS = 15;
const CHAIN = "HSW-DELAY";
/** Prints the private NIC's name: the one holding the node's private address. */
const findNic = (ip: string) =>
  `nic=$(ip -o -4 addr show | awk -v ip=${shellQuote(ip)} 'index($4, ip "/") == 1 {print $2; exit}'); [ -n "$nic" ] || { echo "no interface holds ${ip}" >&2; exit 3; }`;

function privateIp(n: InventoryNode): string {
  if (!n.privateAddress)
    throw new Error(`${n.name} has no private address in the inventory: the VM bed shapes the private network`);
  return n.privateAddress;
}

/** tc's duration ("12.5ms", "499us", "1s") in ms, to 0.01 ms: tc prints 0.5 ms as 499us. */
const ms = (s: string): number =>
  Math.round(
    (s.endsWith("us")
      ? Number(s.slice(0, -2)) / 1000
      : s.endsWith("ms")
        ? Number(s.slice(0, -2))
        : Number(s.replace(/s$/, "")) * 1000) * 100,
  ) / 100;

/** Per-peer delays in force on the guest, from `tc qdisc show` and the CLASSIFY rules (pure). */
export function parseDelays(qdiscs: string, rules: string, peerOf: (ip: string) => string | undefined): PeerDelay[] {
  const byBand = new Map<string, { delayMs: number; jitterMs: number }>();
  for (const m of qdiscs.matchAll(/qdisc netem \S+ (?:dev \S+ )?parent 1:(\d+) .*?delay (\S+)(?: +(\S+))?/g)) {
    const jitter = m[3] && /^[\d.]+(us|ms|s)$/.test(m[3]) ? ms(m[3]) : 0;
    byBand.set(m[1], { delayMs: ms(m[2]), jitterMs: jitter });
  }
  const out: PeerDelay[] = [];
  for (const m of rules.matchAll(/-d (\d+\.\d+\.\d+\.\d+)\/32 .*--set-class 0*1:0*(\d+)/g)) {
    const d = byBand.get(m[2]);
    if (d) out.push({ to: peerOf(m[1]) ?? m[1], ...d });
  }
  return out;
}

/** The script that replaces the guest's delay setup with `delays` (none: the setup is removed) (pure). */
export function delayScript(ip: string, delays: readonly (PeerDelay & { readonly ip: string })[]): string {
  const groups: { delayMs: number; jitterMs: number; ips: string[] }[] = [];
  for (const d of delays) {
    const g = groups.find((x) => x.delayMs === d.delayMs && x.jitterMs === d.jitterMs);
    if (g) g.ips.push(d.ip);
    else groups.push({ delayMs: d.delayMs, jitterMs: d.jitterMs, ips: [d.ip] });
  }
  if (groups.length > MAX_DELAY_GROUPS)
    throw new Error(`at most ${MAX_DELAY_GROUPS} different delays per node, asked for ${groups.length}`);
  const lines = [
    "set -e",
    findNic(ip),
    'tc qdisc del dev "$nic" root 2>/dev/null || true',
    `while iptables -w -t mangle -D POSTROUTING -j ${CHAIN} 2>/dev/null; do :; done`,
    `iptables -w -t mangle -F ${CHAIN} 2>/dev/null || true`,
    `iptables -w -t mangle -X ${CHAIN} 2>/dev/null || true`,
  ];
  if (groups.length === 0) return lines.join("\n");
  lines.push(`tc qdisc add dev "$nic" root handle 1: prio bands 16 priomap ${Array(16).fill(15).join(" ")}`);
  lines.push(`iptables -w -t mangle -N ${CHAIN}`, `iptables -w -t mangle -A POSTROUTING -j ${CHAIN}`);
  groups.forEach((g, i) => {
    lines.push(
      `tc qdisc add dev "$nic" parent 1:${i + 1} handle ${i + 10}: netem delay ${g.delayMs}ms${g.jitterMs > 0 ? ` ${g.jitterMs}ms` : ""}`,
    );
    for (const peer of g.ips)
      lines.push(`iptables -w -t mangle -A ${CHAIN} -d ${peer}/32 -j CLASSIFY --set-class 1:${i + 1}`);
  });
  return lines.join("\n");
}

async function session(ctx: VmShapeContext, n: InventoryNode): Promise<SshSession> {
  return connect(n, ctx.privateKey);
}

const iptablesOver =
  (s: SshSession): Iptables =>
  async (args) => {
    const r = await s.run(`iptables ${args.map(shellQuote).join(" ")}`, { allowFailure: true });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  };

async function readDelays(ctx: VmShapeContext, s: SshSession, n: InventoryNode): Promise<PeerDelay[]> {
  const r = await s.run(
    `${findNic(privateIp(n))}; tc qdisc show dev "$nic"; echo ---; iptables -w -t mangle -S ${CHAIN} 2>/dev/null || true`,
  );
  const [qdiscs, rules] = r.stdout.split("\n---\n");
  return parseDelays(qdiscs, rules ?? "", (ip) => ctx.inventory.nodes.find((x) => x.privateAddress === ip)?.name);
}

const describe = (d: { delayMs: number; jitterMs: number } | undefined): string =>
  d ? `${d.delayMs} ms ± ${d.jitterMs} ms` : "none";

/** Applies the request to one VM node; returns the changes made. */
export async function shapeVmNode(ctx: VmShapeContext, n: InventoryNode, req: ShapeRequest): Promise<ShapeAction[]> {
  // Lifting what the VM bed never sets (a CPU cap, a stalled sshd) is nothing to do; setting it is refused.
  if (req.cpuPercent !== undefined && req.cpuPercent !== null)
    throw new Error(
      `${n.name}: the VM bed does not cap CPU (its VMs already run under emulation); use the namespace bed for --cpu`,
    );
  if (req.sshStalled === true)
    throw new Error(`${n.name}: the VM bed does not stall sshd; --freeze stalls the whole VM`);
  const actions: ShapeAction[] = [];
  const act = (detail: string) => actions.push({ node: n.name, detail });
  const off = qemuPidOf(ctx.dir, n.name) === undefined;
  if (req.frozen === false && !off && setVmFrozen(ctx.dir, n.name, false)) act("thawed (qemu continued)");
  const inGuest = req.lossPercent !== undefined || req.delayMs !== undefined;
  // A guest's rules and qdiscs live in its memory: a powered-off VM has none left to lift.
  const onlyLifts = !req.lossPercent && !req.delayMs;
  if (inGuest && !(off && onlyLifts)) {
    if (off || vmFrozen(ctx.dir, n.name))
      throw new Error(
        `${n.name} is ${off ? "powered off" : "frozen"}: ${off ? "power it on" : "thaw it"} before changing what runs inside it`,
      );
    const s = await session(ctx, n);
    try {
      if (req.lossPercent !== undefined)
        for (const d of await setLoss(
          iptablesOver(s),
          { network: ctx.privateCidr },
          req.lossPercent,
          req.lossDirection ?? "both",
        ))
          act(d);
      if (req.delayMs !== undefined) {
        const peers = (req.to ?? ctx.inventory.nodes.map((x) => x.name)).filter((p) => p !== n.name);
        const unknown = peers.filter((p) => !ctx.inventory.nodes.some((x) => x.name === p));
        if (unknown.length) throw new Error(`--to names nodes that are not in the bed: ${unknown.join(", ")}`);
        const current = await readDelays(ctx, s, n);
        const want = req.delayMs === 0 ? undefined : { delayMs: req.delayMs, jitterMs: req.jitterMs ?? 0 };
        const changed = peers.filter((p) => describe(current.find((d) => d.to === p)) !== describe(want));
        if (changed.length > 0) {
          const next = [
            ...current.filter((d) => !peers.includes(d.to)),
            ...(want ? peers.map((p) => ({ to: p, ...want })) : []),
          ];
          const ipOf = (name: string) => privateIp(ctx.inventory.nodes.find((x) => x.name === name) as InventoryNode);
          await s.run(
            delayScript(
              privateIp(n),
              next.map((d) => ({ ...d, ip: ipOf(d.to) })),
            ),
            { display: `tc netem delays on ${n.name}` },
          );
          act(
            `delay to ${changed.join(", ")}: ${describe(want)} (was ${[...new Set(changed.map((p) => describe(current.find((d) => d.to === p))))].join(" / ")})`,
          );
        }
      }
    } finally {
      s.close();
    }
  }
  if (req.frozen === true && setVmFrozen(ctx.dir, n.name, true)) act("frozen (qemu stopped)");
  return actions;
}

/** What is in force on a VM node; conditions inside a frozen or powered-off guest cannot be read, and are not guessed. */
export async function readVmShape(ctx: VmShapeContext, n: InventoryNode): Promise<NodeShape> {
  if (qemuPidOf(ctx.dir, n.name) === undefined) return { node: n.name, frozen: false, note: "powered off" };
  if (vmFrozen(ctx.dir, n.name)) return { node: n.name, frozen: true, note: "frozen: the guest cannot be asked" };
  const s = await session(ctx, n);
  try {
    const [lossInPercent, lossOutPercent, delays] = await Promise.all([
      readLoss(iptablesOver(s), "in"),
      readLoss(iptablesOver(s), "out"),
      readDelays(ctx, s, n),
    ]);
    return { node: n.name, lossInPercent, lossOutPercent, frozen: false, delays };
  } finally {
    s.close();
  }
}

/** What shaping a VM bed needs, read from DIR (state.json, inventory.json, the bed's client key). */
export function vmShapeContext(dir: string): VmShapeContext {
  const s = readVmState(dir);
  if (!s) throw new Error(`no VM bed in ${dir}`);
  return {
    dir: s.dir,
    inventory: loadInventory(inventoryPath(s.dir)),
    privateKey: fs.readFileSync(path.join(s.dir, "id_ed25519"), "utf8"),
    privateCidr: s.privateCidr,
  };
}

/** Applies one request to several VM nodes at once; actions in node order. */
export async function shapeVmNodes(
  ctx: VmShapeContext,
  nodes: readonly InventoryNode[],
  req: ShapeRequest,
): Promise<ShapeAction[]> {
  return (await Promise.all(nodes.map((n) => shapeVmNode(ctx, n, req)))).flat();
}
