/**
 * `verify --wire`: proof on the wire. For each encrypted overlay with tasks on two nodes, a probe
 * sends UDP datagrams carrying a random marker from one task's network namespace to the other task,
 * while tcpdump on the sender's underlay interface (the one holding its advertise address) records
 * the traffic between the two nodes. The same is done over a plain control overlay (which must show
 * VXLAN and the marker, or the capture proves nothing) and through a published port of the routing
 * mesh (`ingress`). Everything runs over the tool's SSH, so it works the same on Hetzner.
 *
 * It changes the cluster briefly: the control overlay, two probe containers and a probe service are
 * created and removed again. The probe image must be on the nodes or pullable (--probe-image).
 */
import * as crypto from "crypto";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { connectManager, overlayNetworks } from "../stacks/cluster";
import { DEFAULT_MTU, MTU_OPTION } from "../stacks/render";
import { waitFor } from "../common/time";
import type { WireEvidence } from "./checks";
import { countWire, type WireCounts } from "./pcap";
import { type NodeSessions, openNodeSessions, underlayCapture } from "./wire-capture";

export const WIRE_CONTROL_NETWORK = "hsw-wire-control";
export const WIRE_PROBE_CONTAINER = "hsw-wire-probe";
export const WIRE_INGRESS_SERVICE = "hsw-wire-ingress";
/** The probe service's published port; an unusual one, so it rarely meets a real service's. */
export const WIRE_INGRESS_PORT = 39451;
/** Datagrams per overlay probe: a handful tells "none" from "some" without flooding anything. */
const DATAGRAMS = 8;
/**
 * The probe service must run and the mesh answer. A new task takes seconds on a real server, but
 * minutes on an emulated VM of a busy machine (seen: 3 min); a kernel without IPVS is found before.
 */
const MESH_READY_TIMEOUT_MS = 600_000;
/** `docker run` of a probe container on a new attachable overlay: same reasoning. */
const PROBE_START_TIMEOUT_MS = 600_000;

export interface WireOptions {
  /** SSH key for every node. Default: each node's privateKeyPath. */
  readonly identity?: string;
  /** Image for the control overlay's probe containers and the routing-mesh probe service (needs sh, sleep, nc). Default "busybox:1.36". */
  readonly probeImage?: string;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_PROBE_IMAGE = "busybox:1.36";

interface Task {
  readonly name: string;
  readonly ip: string;
  readonly node: InventoryNode;
}

function nodeByAddress(inv: Inventory, addr: string): InventoryNode | undefined {
  return inv.nodes.find((n) => n.advertiseAddress === addr || n.privateAddress === addr || n.publicAddress === addr || n.host === addr);
}

/** Tasks of a swarm network across the cluster, from a manager's `docker network inspect --verbose`. */
async function networkTasks(m: SshSession, inv: Inventory, network: string): Promise<Task[]> {
  const r = await m.run(`docker network inspect --verbose --format '{{json .Services}}' ${shellQuote(network)}`, { allowFailure: true });
  if (r.code !== 0 || !r.stdout.trim() || r.stdout.trim() === "null") return [];
  type Raw = Record<string, { Tasks?: Array<{ Name: string; EndpointIP: string; Info?: Record<string, string> }> }>;
  const services = JSON.parse(r.stdout) as Raw;
  const out: Task[] = [];
  for (const svc of Object.values(services)) {
    for (const t of svc.Tasks ?? []) {
      const node = nodeByAddress(inv, t.Info?.["Host IP"] ?? "");
      if (node && t.EndpointIP) out.push({ name: t.Name, ip: t.EndpointIP.replace(/\/\d+$/, ""), node });
    }
  }
  return out;
}

/** Two tasks on different nodes, or undefined. */
function pairOf(tasks: readonly Task[]): [Task, Task] | undefined {
  for (const a of tasks) for (const b of tasks) if (a.node.name !== b.node.name) return [a, b];
  return undefined;
}

/** UDP datagrams with the marker, sent from a container's network namespace (host bash, so any image works). */
function udpProbe(container: string, ip: string, marker: string): string {
  const send = `for i in $(seq ${DATAGRAMS}); do printf %s ${marker} > /dev/udp/${ip}/9 || true; done`;
  return `pid=$(docker inspect -f '{{.State.Pid}}' ${shellQuote(container)}) && nsenter -t "$pid" -n bash -c ${shellQuote(send)}`;
}

export async function collectWire(inv: Inventory, opts: WireOptions = {}): Promise<WireEvidence[]> {
  const log = opts.log ?? (() => undefined);
  const image = opts.probeImage ?? DEFAULT_PROBE_IMAGE;
  const marker = `hswire${crypto.randomBytes(13).toString("hex")}`;
  const markers = [Buffer.from(marker)];
  const mtu = inv.swarm?.overlayMtu ?? DEFAULT_MTU;
  if (inv.nodes.length < 2) return [{ network: "*", kind: "encrypted", from: "-", to: "-", how: "-", unprovable: "a single-node cluster sends nothing between nodes" }];
  const m = await connectManager(inv, opts.identity);
  const sessions = await openNodeSessions(inv, opts.identity);
  const evidence: WireEvidence[] = [];
  const capture = async (from: InventoryNode, to: InventoryNode, exchange: () => Promise<void>) => countWire(await underlayCapture(sessions.get(from.name), from, to.advertiseAddress, exchange), markers);
  try {
    const networks = (await overlayNetworks(m)).filter((n) => !n.ingress && "encrypted" in n.options && n.name !== WIRE_CONTROL_NETWORK);
    for (const n of networks) {
      const pair = pairOf(await networkTasks(m, inv, n.name));
      if (!pair) {
        log(`${n.name}: tasks on fewer than two nodes, nothing of it crosses the wire; not probed`);
        continue;
      }
      const [a, b] = pair;
      const how = `udp from task ${a.name} to task ${b.name} (${b.ip})`;
      try {
        const counts = await capture(a.node, b.node, async () => void (await sessions.get(a.node.name).run(udpProbe(a.name, b.ip, marker))));
        evidence.push({ network: n.name, kind: "encrypted", from: a.node.name, to: b.node.name, how, counts });
      } catch (err) {
        evidence.push({ network: n.name, kind: "encrypted", from: a.node.name, to: b.node.name, how, ...wireFailure(err) });
      }
    }
    const [a, b] = [inv.nodes[0], inv.nodes[1]];
    evidence.push(await controlProbe(m, sessions, a, b, image, mtu, marker, capture, log));
    evidence.push(await ingressProbe(m, sessions, a, b, image, marker, capture, log));
  } finally {
    m.close();
    for (const s of sessions.values()) s.close();
  }
  return evidence;
}

/** A missing tool is unprovable (say what to install); anything else failed. */
function wireFailure(err: unknown): { unprovable: string } | { error: string } {
  const msg = (err as Error).message;
  return /UNPROVABLE: /.test(msg) ? { unprovable: msg.replace(/^.*UNPROVABLE: /, "") } : { error: msg };
}

type Capture = (from: InventoryNode, to: InventoryNode, exchange: () => Promise<void>) => Promise<WireCounts>;
type Sessions = NodeSessions;

async function controlProbe(m: SshSession, sessions: Sessions, a: InventoryNode, b: InventoryNode, image: string, mtu: number, marker: string, capture: Capture, log: (l: string) => void): Promise<WireEvidence> {
  const net = WIRE_CONTROL_NETWORK;
  const base = { network: net, kind: "control" as const, from: a.name, to: b.name };
  // The first container on a new attachable overlay may fail with "attaching to network failed …
  // context deadline exceeded" on a slow node (seen on the VM bed), leaving a created container behind:
  // remove it and try again, a few times.
  const start = `docker rm -f ${WIRE_PROBE_CONTAINER} >/dev/null 2>&1; docker run -d --name ${WIRE_PROBE_CONTAINER} --network ${net} ${shellQuote(image)} sleep 600 >/dev/null`;
  const run = (n: InventoryNode) => `for i in 1 2 3 4 5; do ${start} && exit 0; sleep 2; done; ${start} # ${n.name}`;
  try {
    await m.run(`docker network rm ${net} >/dev/null 2>&1; docker network create --driver overlay --attachable --opt ${MTU_OPTION}=${mtu} ${net} >/dev/null`);
    log(`${net}: plain control overlay created; probe containers on ${a.name} and ${b.name}`);
    await sessions.get(b.name).run(run(b), { timeoutMs: PROBE_START_TIMEOUT_MS });
    await sessions.get(a.name).run(run(a), { timeoutMs: PROBE_START_TIMEOUT_MS });
    const ip = (await sessions.get(b.name).run(`docker inspect -f '{{(index .NetworkSettings.Networks "${net}").IPAddress}}' ${WIRE_PROBE_CONTAINER}`)).stdout.trim();
    const counts = await capture(a, b, async () => void (await sessions.get(a.name).run(udpProbe(WIRE_PROBE_CONTAINER, ip, marker))));
    return { ...base, how: `udp between probe containers (${ip})`, counts };
  } catch (err) {
    return { ...base, how: "udp between probe containers", ...wireFailure(err) };
  } finally {
    for (const n of [a, b]) await sessions.get(n.name).run(`docker rm -f ${WIRE_PROBE_CONTAINER} >/dev/null 2>&1`, { allowFailure: true }).catch(() => undefined);
    await m.run(`docker network rm ${net} >/dev/null 2>&1`, { allowFailure: true }).catch(() => undefined);
  }
}

async function ingressProbe(m: SshSession, sessions: Sessions, a: InventoryNode, b: InventoryNode, image: string, marker: string, capture: Capture, log: (l: string) => void): Promise<WireEvidence> {
  const port = WIRE_INGRESS_PORT;
  const base = { network: "ingress", kind: "ingress" as const, from: a.name, to: b.name, how: `tcp to ${a.name}'s published port ${port}, served by a task on ${b.name}` };
  const svc = WIRE_INGRESS_SERVICE;
  try {
    // The routing mesh is IPVS in the node's ingress namespace: a kernel without it has no mesh to probe.
    const ipvs = await sessions.get(a.name).run("test -e /proc/net/ip_vs || modprobe -n -q ip_vs", { allowFailure: true });
    if (ipvs.code !== 0) return { ...base, unprovable: `${a.name}'s kernel has no IPVS, so there is no routing mesh to carry published ports over ingress` };
    const nodeId = (await sessions.get(b.name).run("docker info --format '{{.Swarm.NodeID}}'")).stdout.trim();
    await m.run(`docker service rm ${svc} >/dev/null 2>&1; true`);
    // An echo server (busybox nc) on one node only, so the mesh on the other must forward over ingress.
    await m.run(
      `docker service create --detach --quiet --name ${svc} --no-resolve-image --constraint node.id==${shellQuote(nodeId)} --publish published=${port},target=8080,mode=ingress ${shellQuote(image)} nc -ll -p 8080 -e cat >/dev/null`,
    );
    log(`${svc}: probe service published on ${port}, its task on ${b.name}; connecting through ${a.name}`);
    const send = `exec 3<>/dev/tcp/${a.advertiseAddress}/${port} && printf '%s\\n' ${marker} >&3 && timeout 5 head -c ${marker.length} <&3`;
    const once = async () => (await sessions.get(a.name).run(`timeout 10 bash -c ${shellQuote(send)}`, { allowFailure: true })).stdout.includes(marker);
    // Wait until the mesh answers (task running, IPVS programmed); only then capture one exchange.
    if (!(await waitFor(once, MESH_READY_TIMEOUT_MS, 2_000))) {
      return { ...base, unprovable: `the routing mesh did not answer on ${a.name}:${port} within ${MESH_READY_TIMEOUT_MS / 1000} s (no IPVS in this kernel, or the probe task did not start: see docker service ps ${svc})` };
    }
    let echoed = false;
    const counts = await capture(a, b, async () => void (echoed = await once()));
    return echoed ? { ...base, counts } : { ...base, error: "the routing mesh answered before the capture but not during it" };
  } catch (err) {
    return { ...base, ...wireFailure(err) };
  } finally {
    await m.run(`docker service rm ${svc} >/dev/null 2>&1`, { allowFailure: true }).catch(() => undefined);
  }
}
