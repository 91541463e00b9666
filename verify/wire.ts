/**
 * `verify --wire`: proof on the wire. For each encrypted overlay, a probe sends UDP datagrams
 * carrying a random marker from one task's network namespace to a task on another node, while
 * tcpdump on the sender's underlay interface (the one holding its advertise address) records the
 * traffic between the two nodes. Where the network's own tasks sit on fewer than two nodes, a probe
 * task is added on it for the time of the probe (./wire-tasks.ts). The same is done over a plain
 * control overlay (which must show VXLAN and the marker, or the capture proves nothing) and through
 * a published port of the routing mesh (`ingress`). Everything runs over the tool's SSH, so it works
 * the same on Hetzner.
 *
 * It changes the cluster briefly: the control overlay and probe services (names starting with
 * hsw-wire-) are created and removed again. The probe image must be on the nodes or pullable
 * (--probe-image).
 */
import * as crypto from "crypto";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { overlayNetworks } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { DEFAULT_MTU, MTU_OPTION } from "../stacks/template/render";
import { sleep, waitFor } from "../common/time";
import type { WireEvidence } from "./checks";
import { countWire, type WireCounts } from "./pcap";
import { type NodeSessions, openNodeSessions, underlayCapture } from "./wire-capture";
import {
  type Endpoint,
  pairOf,
  networkEndpoints,
  removeProbeServices,
  startPeer,
  swarmNodeIds,
  waitForPair,
  WIRE_SERVICE_PREFIX,
} from "./wire-tasks";

export { WIRE_SERVICE_PREFIX };
export const WIRE_CONTROL_NETWORK = `${WIRE_SERVICE_PREFIX}control`;
export const WIRE_INGRESS_SERVICE = `${WIRE_SERVICE_PREFIX}ingress`;
/** The probe service's published port; an unusual one, so it rarely meets a real service's. */
export const WIRE_INGRESS_PORT = 39451;
/** Datagrams per overlay probe: a handful tells "none" from "some" without flooding anything. */
const DATAGRAMS = 8;
/**
 * A probe task must run and the mesh answer. A new task takes seconds on a real server, but
 * minutes on an emulated VM of a busy machine (seen: 3 min); a kernel without IPVS is found before.
 */
const MESH_READY_TIMEOUT_MS = 600_000;
/** Probe tasks on a network (a peer, or the control's two): same reasoning. */
const PEER_START_TIMEOUT_MS = 600_000;
/**
 * A task that has just started may not be known yet to the other node's overlay driver (its
 * address is spread by gossip), so the first datagrams find no way out: an exchange that showed
 * nothing crossing is repeated, every EXCHANGE_RETRY_MS, for this long before it counts as nothing.
 */
const EXCHANGE_SETTLE_MS = 60_000;
const EXCHANGE_RETRY_MS = 3_000;
/** After its probe service is removed, the control network can be removed once the tasks have left it (seconds; a minute on an emulated VM). */
const CONTROL_REMOVE_TIMEOUT_MS = 120_000;
/** Polls of the mesh and of the network's removal: one short command each. */
const POLL_MS = 2_000;

export interface WireOptions {
  /** SSH key for every node. Default: each node's privateKeyPath. */
  readonly identity?: string;
  /** Image for the probe services (needs sh, sleep, nc). Default "busybox:1.36". */
  readonly probeImage?: string;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_PROBE_IMAGE = "busybox:1.36";

/** UDP datagrams with the marker, sent from a container's network namespace (host bash, so any image works). */
function udpProbe(container: string, ip: string, marker: string): string {
  const send = `for i in $(seq ${DATAGRAMS}); do printf %s ${marker} > /dev/udp/${ip}/9 || true; done`;
  return `pid=$(docker inspect -f '{{.State.Pid}}' ${shellQuote(container)}) && nsenter -t "$pid" -n bash -c ${shellQuote(send)}`;
}

interface Ctx {
  readonly m: SshSession;
  readonly sessions: NodeSessions;
  readonly ids: ReadonlyMap<string, InventoryNode>;
  readonly image: string;
  readonly marker: string;
  readonly capture: Capture;
  readonly log: (line: string) => void;
}

export async function collectWire(inv: Inventory, opts: WireOptions = {}): Promise<WireEvidence[]> {
  const log = opts.log ?? (() => undefined);
  const marker = `hswire${crypto.randomBytes(13).toString("hex")}`;
  const markers = [Buffer.from(marker)];
  const mtu = inv.swarm?.overlayMtu ?? DEFAULT_MTU;
  if (inv.nodes.length < 2)
    return [
      {
        network: "*",
        kind: "encrypted",
        from: "-",
        to: "-",
        how: "-",
        unprovable: "a single-node cluster sends nothing between nodes",
      },
    ];
  const m = await connectManager(inv, opts.identity);
  const sessions = await openNodeSessions(inv, opts.identity).catch((err: unknown) => {
    m.close();
    throw err;
  });
  const evidence: WireEvidence[] = [];
  const capture: Capture = async (from, to, exchange) =>
    countWire(await underlayCapture(sessions.get(from.name), from, to.advertiseAddress, exchange), markers);
  try {
    const ctx: Ctx = {
      m,
      sessions,
      ids: await swarmNodeIds(inv, sessions),
      image: opts.probeImage ?? DEFAULT_PROBE_IMAGE,
      marker,
      capture,
      log,
    };
    await removeProbeServices(m);
    const networks = (await overlayNetworks(m)).filter(
      (n) => !n.ingress && "encrypted" in n.options && n.name !== WIRE_CONTROL_NETWORK,
    );
    for (const [i, n] of networks.entries())
      evidence.push(await probeNetwork(ctx, n.name, "encrypted", `${WIRE_SERVICE_PREFIX}peer-${i + 1}`));
    evidence.push(await controlProbe(ctx, mtu));
    const [a, b] = [inv.nodes[0], inv.nodes[1]];
    evidence.push(await ingressProbe(ctx, a, b));
  } finally {
    m.close();
    for (const s of sessions.values()) s.close();
  }
  return evidence;
}

/**
 * Probes one overlay between two of its running tasks on different nodes, adding probe service
 * `peer` on it first when its tasks sit on fewer than two nodes (and removing it afterwards).
 */
async function probeNetwork(
  ctx: Ctx,
  network: string,
  kind: "encrypted" | "control",
  peer: string,
): Promise<WireEvidence> {
  let added = false;
  let pair: [Endpoint, Endpoint] | undefined;
  try {
    const eps = await networkEndpoints(ctx.m, network, ctx.ids);
    pair = pairOf(eps);
    if (!pair) {
      const where = [...new Set(eps.map((e) => e.node.name))];
      ctx.log(
        `${network}: ${where.length ? `tasks only on ${where.join(", ")}` : "no running tasks"}; adding probe service ${peer} on ${where.length ? "another node" : "two nodes"}`,
      );
      added = true;
      await startPeer(ctx.m, peer, network, ctx.image, eps, ctx.ids);
      pair = await waitForPair(ctx.m, network, peer, ctx.ids, PEER_START_TIMEOUT_MS);
    }
    const [a, b] = pair;
    const how = `udp from task ${a.task} to task ${b.task} (${b.ip})`;
    const counts = await settledExchange(ctx, kind, a, b);
    ctx.log(`${network}: ${how}: ESP ${counts.esp}, VXLAN ${counts.vxlan}, marker in clear ${counts.cleartext}`);
    return { network, kind, from: a.node.name, to: b.node.name, how, counts };
  } catch (err) {
    return {
      network,
      kind,
      from: pair?.[0].node.name ?? "-",
      to: pair?.[1].node.name ?? "-",
      how: pair ? `udp from task ${pair[0].task} to task ${pair[1].task}` : "udp between two tasks",
      ...wireFailure(err),
    };
  } finally {
    if (added)
      await ctx.m
        .run(`docker service rm ${shellQuote(peer)} >/dev/null 2>&1`, { allowFailure: true })
        .catch(() => undefined);
  }
}

/**
 * One captured exchange from a to b, repeated while nothing at all crossed (see EXCHANGE_SETTLE_MS),
 * unless nothing can: on an encrypted network, a sender without an ESP state towards the receiver
 * (a kernel without ESP) drops the traffic for good.
 */
async function settledExchange(ctx: Ctx, kind: "encrypted" | "control", a: Endpoint, b: Endpoint): Promise<WireCounts> {
  const deadline = Date.now() + EXCHANGE_SETTLE_MS;
  const sender = ctx.sessions.get(a.node.name);
  for (;;) {
    const counts = await ctx.capture(
      a.node,
      b.node,
      async () => void (await sender.run(udpProbe(a.container, b.ip, ctx.marker))),
    );
    if (counts.esp + counts.vxlan + counts.cleartext > 0 || Date.now() + EXCHANGE_RETRY_MS > deadline) return counts;
    if (kind === "encrypted") {
      const sa = await sender.run(`ip xfrm state list dst ${shellQuote(b.node.advertiseAddress)} proto esp`, {
        allowFailure: true,
      });
      if (!/spi/.test(sa.stdout)) return counts;
    }
    await sleep(EXCHANGE_RETRY_MS);
  }
}

/** A missing tool is unprovable (say what to install); anything else failed. */
function wireFailure(err: unknown): { unprovable: string } | { error: string } {
  const msg = (err as Error).message;
  return /UNPROVABLE: /.test(msg) ? { unprovable: msg.replace(/^.*UNPROVABLE: /, "") } : { error: msg };
}

type Capture = (from: InventoryNode, to: InventoryNode, exchange: () => Promise<void>) => Promise<WireCounts>;

/**
 * Removes `net` and waits until the manager no longer lists it: its copy on the manager goes only
 * once the last local task has left it. False when it was still there after CONTROL_REMOVE_TIMEOUT_MS.
 */
function removeNetwork(m: SshSession, net: string): Promise<boolean> {
  const rm = `docker network rm ${shellQuote(net)} >/dev/null 2>&1; ! docker network inspect ${shellQuote(net)} >/dev/null 2>&1`;
  return waitFor(async () => (await m.run(rm, { allowFailure: true })).code === 0, CONTROL_REMOVE_TIMEOUT_MS, POLL_MS);
}

/** The plain control: a fresh unencrypted overlay with a probe task on two nodes, probed like the others. */
async function controlProbe(ctx: Ctx, mtu: number): Promise<WireEvidence> {
  const net = WIRE_CONTROL_NETWORK;
  try {
    if (!(await removeNetwork(ctx.m, net)))
      throw new Error(`a ${net} network of an earlier run is still in use; remove it with docker network rm ${net}`);
    await ctx.m.run(`docker network create --driver overlay --opt ${MTU_OPTION}=${mtu} ${shellQuote(net)} >/dev/null`);
  } catch (err) {
    return {
      network: net,
      kind: "control",
      from: "-",
      to: "-",
      how: "udp between two probe tasks",
      ...wireFailure(err),
    };
  }
  ctx.log(`${net}: plain control overlay created`);
  try {
    return await probeNetwork(ctx, net, "control", net);
  } finally {
    if (!(await removeNetwork(ctx.m, net).catch(() => false)))
      ctx.log(
        `${net}: still in use ${CONTROL_REMOVE_TIMEOUT_MS / 1000} s after its probe service was removed; remove it with docker network rm ${net}`,
      );
  }
}

/** A published port on `a` whose only task runs on `b`: the routing mesh must carry the exchange over ingress. */
async function ingressProbe(ctx: Ctx, a: InventoryNode, b: InventoryNode): Promise<WireEvidence> {
  const port = WIRE_INGRESS_PORT;
  const base = {
    network: "ingress",
    kind: "ingress" as const,
    from: a.name,
    to: b.name,
    how: `tcp to ${a.name}'s published port ${port}, served by a task on ${b.name}`,
  };
  const svc = WIRE_INGRESS_SERVICE;
  const { m, sessions, marker } = ctx;
  try {
    // The routing mesh is IPVS in the node's ingress namespace: a kernel without it has no mesh to probe.
    const ipvs = await sessions
      .get(a.name)
      .run("test -e /proc/net/ip_vs || modprobe -n -q ip_vs", { allowFailure: true });
    if (ipvs.code !== 0)
      return {
        ...base,
        unprovable: `${a.name}'s kernel has no IPVS, so there is no routing mesh to carry published ports over ingress`,
      };
    const nodeId = [...ctx.ids].find(([, n]) => n.name === b.name)?.[0];
    if (!nodeId) throw new Error(`${b.name} did not tell its swarm node id`);
    // An echo server (busybox nc) on one node only, so the mesh on the other must forward over ingress.
    await m.run(
      `docker service create --detach --quiet --name ${svc} --no-resolve-image --constraint node.id==${shellQuote(nodeId)} --publish published=${port},target=8080,mode=ingress ${shellQuote(ctx.image)} nc -ll -p 8080 -e cat >/dev/null`,
    );
    ctx.log(`${svc}: probe service published on ${port}, its task on ${b.name}; connecting through ${a.name}`);
    const send = `exec 3<>/dev/tcp/${a.advertiseAddress}/${port} && printf '%s\\n' ${marker} >&3 && timeout 5 head -c ${marker.length} <&3`;
    const once = async () =>
      (
        await sessions.get(a.name).run(`timeout 10 bash -c ${shellQuote(send)}`, { allowFailure: true })
      ).stdout.includes(marker);
    // Wait until the mesh answers (task running, IPVS programmed); only then capture one exchange.
    if (!(await waitFor(once, MESH_READY_TIMEOUT_MS, POLL_MS))) {
      const ps = await m.run(`docker service ps --no-trunc --format '{{.CurrentState}} {{.Error}}' ${svc}`, {
        allowFailure: true,
      });
      return {
        ...base,
        unprovable: `the routing mesh did not answer on ${a.name}:${port} within ${MESH_READY_TIMEOUT_MS / 1000} s (probe task: ${ps.stdout.trim().split("\n")[0] || "none"})`,
      };
    }
    let echoed = false;
    const counts = await ctx.capture(a, b, async () => void (echoed = await once()));
    ctx.log(`ingress: ${base.how}: ESP ${counts.esp}, VXLAN ${counts.vxlan}, marker in clear ${counts.cleartext}`);
    return echoed
      ? { ...base, counts }
      : { ...base, error: "the routing mesh answered before the capture but not during it" };
  } catch (err) {
    return { ...base, ...wireFailure(err) };
  } finally {
    await m.run(`docker service rm ${svc} >/dev/null 2>&1`, { allowFailure: true }).catch(() => undefined);
  }
}
