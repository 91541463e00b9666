// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The docker commands bootstrap runs, one function each, over a session from transport/ssh. Decisions live
 * in ./plan; these only act and report. Join tokens pass through stdin and memory only.
 */
import { InventoryNode, SwarmSettings } from "../inventory/inventory";
import { registerSecret } from "../transport/redact";
import { shellQuote } from "../transport/shell";
import { SshSession } from "../transport/ssh";
import { parseSwarmInfo, SwarmInfo } from "./swarm-state";
import { readNodes, type NodeFacts } from "../swarm/nodes";
import { waitFor } from "../common/time";
import { onLeader } from "../swarm/leader";
import { nodeUpdate } from "../swarm/node-update";

/** `swarm init` creates the CA and raft store; a minute covers a slow disk. */
export const INIT_TIMEOUT_MS = 60_000;
/** `swarm join` returns once the node has its certificate (managers: once raft has added them). */
export const JOIN_TIMEOUT_MS = 120_000;
/**
 * When a node has not joined within Docker's own 20 s, the engine answers 503 "Timeout was reached
 * before node joined" and goes on joining in the background. Seen on 9 TCG VMs sharing 2 cores: the
 * run gave up on a join that was still under way. It now waits this long for the node's own state.
 */
export const JOIN_BACKGROUND_WAIT_MS = 300_000;
const JOIN_GOES_ON = /Timeout was reached before node joined/;
/** After drain, tasks need time to stop (10 s stop grace each by default; more on a starved CPU); the wait ends as soon as they have. */
export const DRAIN_TIMEOUT_MS = 180_000;
/**
 * Ingress removal is asynchronous; creating the new one is retried this long. Usually it is gone in
 * under a second, but a slow host (a 1-vCPU VM under software emulation on a busy machine) took over
 * 30 s to release the old network, so bootstrap stopped half way.
 */
export const INGRESS_RECREATE_TIMEOUT_MS = 180_000;
const INGRESS_POLL_MS = 200;
/** Demotion is asynchronous: raft removes the member after the command returns. */
export const DEMOTE_TIMEOUT_MS = 60_000;
/**
 * A demotion can move leadership, and the new leader lists members as "unknown" until their next
 * heartbeat (every 5 s by default). A run that changed managers waits this long for the members
 * that were ready before to be ready again, so it ends on a settled cluster and prints a true list.
 */
export const SETTLE_TIMEOUT_MS = 60_000;
const POLL_MS = 1_000;
async function poll(what: string, limitMs: number, done: () => Promise<boolean>, intervalMs = POLL_MS): Promise<void> {
  if (!(await waitFor(done, limitMs, intervalMs)))
    throw new Error(`timed out after ${limitMs / 1000} s waiting for ${what}`);
}

/** The engine's own swarm state, as Ansible's docker_swarm reads it. */
export const SWARM_INFO = "docker info --format '{{json .Swarm}}'";

export async function readSwarmInfo(s: SshSession): Promise<SwarmInfo> {
  return parseSwarmInfo((await s.run(SWARM_INFO)).stdout, s.node);
}

/** Waits until every member among `ids` that is still in the swarm reports ready (see SETTLE_TIMEOUT_MS). */
export async function waitForMembersReady(manager: SshSession, ids: readonly string[]): Promise<void> {
  await poll("the members to be ready again after a manager change", SETTLE_TIMEOUT_MS, async () => {
    // During a leader election `docker node ls` fails for a moment: keep polling.
    const current = await readNodes(manager).catch(() => undefined);
    return current !== undefined && current.every((m) => !ids.includes(m.id) || m.status === "ready");
  });
}

/**
 * Waits until no member is "unknown": a leader that has just been elected (after a demotion, or
 * after the old leader went away mid-run) lists every member so until their next heartbeat. Done
 * when each is ready or down; a run that ends earlier would take live members for absent ones.
 * Returns the list that showed it.
 */
export async function waitForMembersKnown(manager: SshSession, current?: readonly NodeFacts[]): Promise<NodeFacts[]> {
  // A list just read with no member unknown is the answer already: no read, no wait.
  if (current && !current.some((m) => m.status === "unknown")) return [...current];
  let members: NodeFacts[] = [];
  await poll("the members to report to the new leader", SETTLE_TIMEOUT_MS, async () => {
    members = await readNodes(manager);
    return !members.some((m) => m.status === "unknown");
  });
  return members;
}

export async function initSwarm(s: SshSession, node: InventoryNode, settings: SwarmSettings = {}): Promise<void> {
  const pool = settings.defaultAddrPool
    ? ` --default-addr-pool ${shellQuote(settings.defaultAddrPool)} --default-addr-pool-mask-length ${settings.defaultAddrPoolMaskLength ?? 24}`
    : "";
  await s.run(`docker swarm init --advertise-addr ${shellQuote(node.advertiseAddress)}${pool}`, {
    timeoutMs: INIT_TIMEOUT_MS,
  });
}

export interface IngressState {
  readonly exists: boolean;
  readonly encrypted: boolean;
  readonly mtu?: string;
}

export async function readIngress(s: SshSession): Promise<IngressState> {
  const r = await onLeader(s, "docker network inspect ingress --format '{{json .Options}}'", { allowFailure: true });
  if (r.code !== 0) {
    if (/no such network|not found/i.test(r.stderr)) return { exists: false, encrypted: false };
    throw new Error(`cannot inspect the ingress network on ${s.node}: ${r.stderr}`);
  }
  const opts = (JSON.parse(r.stdout || "{}") ?? {}) as Record<string, string>;
  const mtu = opts["com.docker.network.driver.mtu"];
  return { exists: true, encrypted: "encrypted" in opts, ...(mtu !== undefined ? { mtu } : {}) };
}

/**
 * Replaces the default (plain) routing-mesh network with an encrypted one carrying the underlay
 * MTU. Docker refuses while a service publishes through ingress; the error says what to do.
 */
export async function recreateIngress(s: SshSession, state: IngressState, mtu: number): Promise<void> {
  if (state.exists) {
    // `network rm ingress` asks for confirmation; it reads the answer from stdin.
    const rm = await onLeader(s, "docker network rm ingress", { stdin: "y\n", allowFailure: true });
    if (rm.code !== 0 && !/no such network/i.test(rm.stderr)) {
      throw new Error(
        `cannot replace the plain ingress network on ${s.node} (${rm.stderr || rm.stdout}); remove the services that publish ports through it, or publish them with mode: host, then re-run`,
      );
    }
  }
  const create = `docker network create --driver overlay --ingress --opt encrypted --opt com.docker.network.driver.mtu=${mtu} ingress`;
  await poll(
    `the ingress network to be recreated on ${s.node}`,
    INGRESS_RECREATE_TIMEOUT_MS,
    async () => {
      const r = await onLeader(s, create, { allowFailure: true });
      if (r.code === 0) return true;
      if (/already exists|being removed|in use/i.test(r.stderr)) return false;
      throw new Error(`creating the encrypted ingress network on ${s.node} failed: ${r.stderr}`);
      // The old network is usually gone within a few hundred milliseconds.
    },
    INGRESS_POLL_MS,
  );
}

/** Fetched from a manager at the moment it is needed; held only in memory by the caller. */
export async function joinToken(manager: SshSession, role: "manager" | "worker"): Promise<string> {
  const token = (await onLeader(manager, `docker swarm join-token -q ${role}`)).stdout.trim();
  registerSecret(token);
  if (!token.startsWith("SWMTKN-")) throw new Error(`${manager.node} returned no ${role} join token`);
  return token;
}

/**
 * Posts a JSON body read from stdin to the local Engine API over its unix socket. perl-base is
 * Essential on every Debian and Ubuntu system (curl is not on minimal images), so this runs on any
 * node. The program text is on the command line; the body, which holds the join token, only on
 * stdin: no process's argv or environment ever carries the token (`ps`, /proc/PID/cmdline).
 */
const ENGINE_POST = `perl -MIO::Socket::UNIX -e '
  my ($path) = @ARGV; local $/; my $body = <STDIN>;
  my $s = IO::Socket::UNIX->new(Peer => "/var/run/docker.sock") or die "cannot reach /var/run/docker.sock: $!\\n";
  print $s "POST $path HTTP/1.0\\r\\nHost: docker\\r\\nContent-Type: application/json\\r\\nContent-Length: " . length($body) . "\\r\\n\\r\\n" . $body;
  my $r = <$s>; my ($code) = $r =~ m{^HTTP/\\S+ (\\d+)}; my ($text) = $r =~ m{\\r\\n\\r\\n(.*)}s;
  exit 0 if defined $code && $code < 300; print STDERR "engine API $path: ", ($code // "no answer"), " ", ($text // ""), "\\n"; exit 1;'`;

/**
 * Joins through `managerAddr` ("ip:2377") and returns the node's new swarm ID. The token goes
 * through stdin into the Engine API's POST /swarm/join, never onto a command line (the docker CLI
 * only takes it as an argument). The ID matters: until the new member has reported its
 * description, a manager lists it with no hostname or address, and only the ID tells it apart from
 * a stranger that scale-down would remove.
 */
export async function joinSwarm(
  s: SshSession,
  node: InventoryNode,
  token: string,
  managerAddr: string,
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const body = JSON.stringify({
    ListenAddr: "0.0.0.0:2377",
    AdvertiseAddr: node.advertiseAddress,
    RemoteAddrs: [managerAddr],
    JoinToken: token,
  });
  const nodeIdNow = "docker info --format '{{.Swarm.NodeID}}'";
  const r = await s.run(`${ENGINE_POST} /swarm/join && ${nodeIdNow}`, {
    stdin: body,
    timeoutMs: JOIN_TIMEOUT_MS,
    allowFailure: true,
  });
  let nodeId = r.stdout.trim();
  if (r.code !== 0) {
    if (!JOIN_GOES_ON.test(r.stderr))
      throw new Error(
        `the join through ${managerAddr} failed on ${node.name}: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`}`,
      );
    log(
      `[${node.name}] docker's own 20 s join timeout passed; the join goes on in the background, waiting up to ${JOIN_BACKGROUND_WAIT_MS / 1000} s for it`,
    );
    await backgroundJoin(s, node);
    nodeId = (await s.run(nodeIdNow)).stdout.trim();
  }
  if (!nodeId) throw new Error(`${node.name} joined but reported no swarm node ID`);
  return nodeId;
}

/** Waits while the node's engine says its join is pending; fails with what it says otherwise. */
async function backgroundJoin(s: SshSession, node: InventoryNode): Promise<void> {
  let state = "";
  const settled = await waitFor(
    async () => {
      state = (await s.run("docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.Error}}'")).stdout.trim();
      return !state.startsWith("pending");
    },
    JOIN_BACKGROUND_WAIT_MS,
    POLL_MS,
  );
  if (!settled)
    throw new Error(
      `${node.name} was still joining ${JOIN_BACKGROUND_WAIT_MS / 1000} s after docker's own timeout (docker info: ${state}); a re-run makes it leave that attempt and join again`,
    );
  if (!state.startsWith("active"))
    throw new Error(`${node.name}'s join, which docker went on with in the background, ended "${state}"`);
}

/** Promotes or demotes; a demotion also waits until raft has let the member go. */
export async function setRole(manager: SshSession, id: string, role: "manager" | "worker"): Promise<void> {
  await nodeUpdate(manager, `docker node ${role === "manager" ? "promote" : "demote"} ${shellQuote(id)}`);
  if (role === "worker") {
    await poll(`the demotion of ${id} to take effect`, DEMOTE_TIMEOUT_MS, async () => {
      const r = await onLeader(
        manager,
        `docker node inspect ${shellQuote(id)} --format '{{if .ManagerStatus}}manager{{else}}worker{{end}}'`,
      );
      return r.stdout.trim() === "worker";
    });
  }
}

/** Task states that are over (Docker's TaskState): a drained node is done when every task on it is in one. */
const TASK_OVER = ["complete", "shutdown", "failed", "rejected", "orphaned", "remove"];

/**
 * Drains the node and waits until every task on it has stopped, as its engine reports (the
 * orchestrator marks them for shutdown at once, so the desired state alone proves nothing; seen on
 * the bed: tasks still running a second after). A node that goes down meanwhile will not report
 * again: the wait ends there and says so. Returns how the drain ended, for the action's detail.
 */
export async function drain(manager: SshSession, id: string, name: string): Promise<string> {
  await nodeUpdate(manager, `docker node update --availability drain ${shellQuote(id)}`);
  const q = shellQuote(id);
  let running: string[] = [];
  let down = false;
  const over = await waitFor(
    async () => {
      const r = await onLeader(
        manager,
        `docker node inspect ${q} --format 'status={{.Status.State}}' && docker node ps ${q} --format '{{.Name}} {{.CurrentState}}'`,
      );
      const [status, ...tasks] = r.stdout.trim().split("\n");
      down = status === "status=down";
      running = tasks.filter((t) => t.trim() !== "" && !TASK_OVER.includes((t.split(" ")[1] ?? "").toLowerCase()));
      return running.length === 0 || down;
    },
    DRAIN_TIMEOUT_MS,
    POLL_MS,
  );
  if (!over)
    throw new Error(
      `timed out after ${DRAIN_TIMEOUT_MS / 1000} s waiting for the tasks on ${name} to stop after drain; still running: ${running.join(", ")}`,
    );
  return down && running.length > 0
    ? `${name} went down while draining; ${running.length} task(s) on it were not seen to stop`
    : "every task on it stopped";
}

export async function leaveSwarm(s: SshSession): Promise<void> {
  const info = await readSwarmInfo(s);
  if (info.state !== "inactive") await s.run("docker swarm leave --force", { timeoutMs: JOIN_TIMEOUT_MS });
}

/**
 * `docker node rm --force`: by now the node is drained and has left (or cannot be reached), and
 * waiting for the managers to mark it down first would only add a few heartbeats (~15 s).
 */
export async function removeMember(manager: SshSession, id: string, name: string): Promise<void> {
  const r = await onLeader(manager, `docker node rm --force ${shellQuote(id)}`, { allowFailure: true });
  if (r.code !== 0 && !/could not find node|not found/i.test(r.stderr))
    throw new Error(`docker node rm ${name} failed on ${manager.node}: ${r.stderr}`);
}

export async function nodeList(manager: SshSession): Promise<string> {
  return (
    await onLeader(
      manager,
      "docker node ls --format 'table {{.Hostname}}\\t{{.Status}}\\t{{.Availability}}\\t{{.ManagerStatus}}\\t{{.ID}}'",
    )
  ).stdout;
}
