/**
 * Where a network's traffic can be made to cross the wire: the running tasks attached to it, each
 * with its node, its container and its address on that network, read from the swarm's own task
 * records on a manager (`docker inspect --type task`). Unlike `docker network inspect --verbose`,
 * whose service list comes from the local node's view, this holds for networks the manager itself
 * has no task on.
 *
 * When a network's tasks sit on fewer than two nodes, `startPeer` adds a probe service on it (a
 * busybox that sleeps) on the nodes that lack one, so that every network can be probed wherever the
 * scheduler put its tasks. Swarm starts and restarts those tasks itself; the caller waits for the
 * facts (a running task on two nodes), not for a time.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { waitFor } from "../common/time";
import { namedService, readNodes, serviceTasks } from "../swarm/facts";
import { judgeService, type Verdict } from "../stacks/deploy/task-verdict";
import type { NodeSessions } from "./wire-capture";

/** Every service verify --wire creates starts with this, so leftovers of an interrupted run are found by name. */
export const WIRE_SERVICE_PREFIX = "hsw-wire-";
/** Task records are polled this often while a probe service starts: one short command on a manager. */
const TASK_POLL_MS = 2_000;

export interface Endpoint {
  /** "traefik_traefik.1", "hsw-wire-peer-1.1". */
  readonly task: string;
  /** The task's container id, on `node`. */
  readonly container: string;
  /** The task's address on the network. */
  readonly ip: string;
  readonly node: InventoryNode;
}

/** Swarm node id → inventory node, from `docker info` on each node (nodes that do not answer are left out). */
export async function swarmNodeIds(inv: Inventory, sessions: NodeSessions): Promise<Map<string, InventoryNode>> {
  const out = new Map<string, InventoryNode>();
  for (const n of inv.nodes) {
    try {
      const id = (await sessions.get(n.name).run("docker info --format '{{.Swarm.NodeID}}'")).stdout.trim();
      if (id) out.set(id, n);
    } catch {
      // unreachable: its tasks cannot be probed from here
    }
  }
  return out;
}

interface RawTask {
  readonly ID: string;
  readonly NodeID?: string;
  readonly Status?: { readonly State?: string; readonly ContainerStatus?: { readonly ContainerID?: string } };
  readonly NetworksAttachments?: ReadonlyArray<{
    readonly Network?: { readonly Spec?: { readonly Name?: string } };
    readonly Addresses?: readonly string[];
  }>;
}

/** Running tasks attached to `network`, from the manager's task records. */
export async function networkEndpoints(
  m: SshSession,
  network: string,
  nodes: ReadonlyMap<string, InventoryNode>,
): Promise<Endpoint[]> {
  // Task names (service.slot) from `service ps`, the rest from the task records themselves.
  const script = [
    'svcs=$(docker service ls -q); [ -n "$svcs" ] || exit 0',
    'tasks=$(docker service ps -q --no-trunc --filter desired-state=running $svcs 2>/dev/null | sort -u); [ -n "$tasks" ] || exit 0',
    "docker service ps --no-trunc --filter desired-state=running --format 'NAME {{.ID}} {{.Name}}' $svcs 2>/dev/null",
    "docker inspect --type task --format 'TASK {{json .}}' $tasks 2>/dev/null",
    "true",
  ].join("\n");
  const out = (await m.run(script, { display: `running tasks on ${network}` })).stdout.split("\n");
  const names = new Map(
    out
      .filter((l) => l.startsWith("NAME "))
      .map((l) => l.split(" "))
      .map((p) => [p[1], p[2]] as [string, string]),
  );
  const endpoints: Endpoint[] = [];
  for (const line of out.filter((l) => l.startsWith("TASK "))) {
    const t = JSON.parse(line.slice(5)) as RawTask;
    const node = nodes.get(t.NodeID ?? "");
    const container = t.Status?.ContainerStatus?.ContainerID ?? "";
    const att = (t.NetworksAttachments ?? []).find((a) => a.Network?.Spec?.Name === network);
    const ip = (att?.Addresses?.[0] ?? "").replace(/\/\d+$/, "");
    if (t.Status?.State === "running" && node && container && ip)
      endpoints.push({ task: names.get(t.ID) ?? t.ID, container, ip, node });
  }
  return endpoints;
}

/** Two running tasks on different nodes, or undefined. */
export function pairOf(eps: readonly Endpoint[]): [Endpoint, Endpoint] | undefined {
  for (const a of eps) for (const b of eps) if (a.node.name !== b.node.name) return [a, b];
  return undefined;
}

/**
 * Adds probe service `name` on `network` so that it has running tasks on two nodes: one task on
 * another node than `existing`'s when the network has tasks on one node, else two tasks on two nodes.
 * dnsrr: the probe needs no virtual IP, so it also runs where the kernel has no IPVS.
 */
export async function startPeer(
  m: SshSession,
  name: string,
  network: string,
  image: string,
  existing: readonly Endpoint[],
  ids: ReadonlyMap<string, InventoryNode>,
): Promise<void> {
  const on = new Set(existing.map((e) => e.node.name));
  const avoid = [...ids]
    .filter(([, n]) => on.has(n.name))
    .map(([id]) => `--constraint ${shellQuote(`node.id!=${id}`)}`);
  const placement = on.size === 0 ? "--replicas 2 --replicas-max-per-node 1" : `--replicas 1 ${avoid.join(" ")}`;
  await m.run(
    `docker service create --detach --quiet --name ${shellQuote(name)} --network ${shellQuote(network)} --endpoint-mode dnsrr --no-resolve-image ${placement} ${shellQuote(image)} sleep 3600 >/dev/null`,
  );
}

/**
 * Waits (at most `timeoutMs`) until `network` has running tasks on two nodes; the error names what
 * its probe service's tasks reported. Stops early when waiting cannot help, judged as deploy judges
 * a stack's services (stacks/task-verdict.ts): e.g. a probe image that no node has and none can
 * pull ('No such image' in task after task).
 */
export async function waitForPair(
  m: SshSession,
  network: string,
  service: string,
  ids: ReadonlyMap<string, InventoryNode>,
  timeoutMs: number,
): Promise<[Endpoint, Endpoint]> {
  let pair: [Endpoint, Endpoint] | undefined;
  let hopeless: Extract<Verdict, { kind: "permanent" }> | undefined;
  const ok = await waitFor(
    async () => {
      if ((pair = pairOf(await networkEndpoints(m, network, ids)))) return true;
      hopeless = await judgeProbe(m, service, ids);
      return hopeless !== undefined;
    },
    timeoutMs,
    TASK_POLL_MS,
  );
  if (ok && pair) return pair;
  if (hopeless)
    throw new Error(
      `the probe service ${service} on ${network} cannot start, and waiting cannot help: ${hopeless.reason}; ${hopeless.fix} (verify --wire takes --probe-image IMAGE: an image every node has)`,
    );
  const ps = await m.run(
    `docker service ps --no-trunc --format '{{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' ${shellQuote(service)}`,
    { allowFailure: true },
  );
  throw new Error(
    `no running tasks on two nodes of ${network} within ${timeoutMs / 1000} s; the probe service ${service} reported: ${ps.stdout.trim().split("\n").slice(0, 4).join("; ") || ps.stderr.trim() || "nothing"}`,
  );
}

/** Removes the probe services of an earlier, interrupted run (by name prefix). */
export async function removeProbeServices(m: SshSession): Promise<void> {
  await m.run(
    `docker service ls -q --filter name=${WIRE_SERVICE_PREFIX} | xargs -r docker service rm >/dev/null 2>&1; true`,
    { allowFailure: true },
  );
}

/** deploy's verdict on the probe service while it runs fewer tasks than it needs; undefined while waiting can help. */
async function judgeProbe(
  m: SshSession,
  service: string,
  ids: ReadonlyMap<string, InventoryNode>,
): Promise<Extract<Verdict, { kind: "permanent" }> | undefined> {
  const svc = await namedService(m, service);
  if (!svc) return undefined;
  const v = judgeService(svc, await serviceTasks(m, service), await readNodes(m), (id) => ids.get(id)?.name ?? id);
  return v.kind === "permanent" ? v : undefined;
}
