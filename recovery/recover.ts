/**
 * `hcloud-swarm recover`: for when most managers are gone. Inspect every node, pick the surviving
 * manager with the newest Raft state, show the plan and confirm, force a new cluster there, remove
 * the other managers' entries, and let bootstrap rejoin whoever is reachable. Workers stay joined
 * and their tasks keep running throughout. Run again once lost managers are back or replaced.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import { shellQuote } from "../transport/shell";
import { parseSwarmInfo } from "../bootstrap/swarm-state";
import { SWARM_INFO } from "../bootstrap/swarm-ops";
import { readNodes } from "../swarm/nodes";
import { matchMembers, Observation } from "../bootstrap/plan";
import { bootstrap } from "../bootstrap/bootstrap";
import type { Action } from "../bootstrap/actions";
import { onLeader } from "../swarm/leader";
import { openSessions } from "./sessions";
import { confirm } from "./confirm";
import { parseRaftListing, planRecover, RaftPosition } from "./recover-plan";
import { FORCE_NEW_CLUSTER_TIMEOUT_MS, LEAVE_TIMEOUT_MS } from "./restore";

export interface RecoverOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly yes: boolean;
  readonly log: (line: string) => void;
}

export interface RecoverResult {
  /** The node a new cluster was forced on; undefined when the swarm had a leader. */
  readonly forcedOn?: string;
  readonly actions: readonly Action[];
  /** Managers of the inventory that are ready members at the end, and how many it configures. */
  readonly managersReady: number;
  readonly managersWanted: number;
  readonly nodeList: string;
}

const RAFT_LISTING = `r=$(docker info --format '{{.DockerRootDir}}')/swarm/raft && cd "$r" && ls snap-v3-encrypted; echo ---; ls wal-v3-encrypted; echo ---; du -sb wal-v3-encrypted`;

async function observe(s: SshSession | undefined, error: string | undefined): Promise<Observation> {
  if (!s) return { reachable: false, error: error ?? "not connected" };
  const r = await s
    .run(SWARM_INFO, { allowFailure: true })
    .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
  if (r.code !== 0) return { reachable: false, error: `docker does not answer: ${r.stderr.trim()}` };
  return { reachable: true, info: parseSwarmInfo(r.stdout, s.node) };
}

export async function recover(inv: Inventory, opts: RecoverOptions): Promise<RecoverResult> {
  const sessions = await openSessions(inv.nodes, opts.privateKeyFor, opts.log);
  try {
    const obs = new Map<string, Observation>();
    await Promise.all(
      inv.nodes.map(async (n) =>
        obs.set(n.name, await observe(sessions.open.get(n.name), sessions.unreachable.get(n.name))),
      ),
    );
    const raft = new Map<string, RaftPosition>();
    for (const n of inv.nodes.filter((x) => x.role === "manager" && obs.get(x.name)?.reachable)) {
      const r = await sessions.get(n).run(RAFT_LISTING, { allowFailure: true });
      if (r.code === 0) raft.set(n.name, parseRaftListing(r.stdout, n.name));
    }
    const plan = planRecover(inv, obs, raft);
    if (plan.kind === "fail") throw new Error(`recover: ${plan.problem}`);
    let entry: InventoryNode;
    let forcedOn: string | undefined;
    if (plan.kind === "healthy") {
      opts.log(`the swarm has a leader (${plan.leaderOn} serves it); no new cluster is forced`);
      entry = inv.nodes.find((n) => n.name === plan.leaderOn) as InventoryNode;
      await leaveStaleCopies(inv, obs, sessions.get(entry), (n) => sessions.get(n), opts);
    } else {
      opts.log(`recover will:\n${plan.steps.map((l) => `  ${l}`).join("\n")}`);
      await confirm(`Force a new cluster on ${plan.survivor.name}?`, opts.yes);
      entry = plan.survivor;
      forcedOn = entry.name;
      const s = sessions.get(entry);
      await s.run(`docker swarm init --force-new-cluster --advertise-addr ${shellQuote(entry.advertiseAddress)}`, {
        timeoutMs: FORCE_NEW_CLUSTER_TIMEOUT_MS,
      });
      opts.log(`[${entry.name}] docker swarm init --force-new-cluster --advertise-addr ${entry.advertiseAddress}`);
      await onLeader(s, "docker node ls -q");
      for (const n of plan.rejoin) {
        await sessions.get(n).run("docker swarm leave --force", { timeoutMs: LEAVE_TIMEOUT_MS });
        opts.log(`[${n.name}] left its diverged copy of the swarm`);
      }
      await dropOtherManagers(s, entry, opts.log);
    }
    // Reachable nodes that are not ready members: rejoined survivors, replaced or wiped servers.
    const s = sessions.get(entry);
    const members = await readNodes(s);
    const matched = matchMembers(inv, members);
    const targets = inv.nodes
      .filter((n) => n !== entry && sessions.open.has(n.name) && matched.get(n.name)?.status !== "ready")
      .map((n) => n.name);
    let actions: readonly Action[] = [];
    let nodeList = "";
    if (targets.length > 0) {
      const result = await bootstrap(inv, {
        privateKeyFor: opts.privateKeyFor,
        log: opts.log,
        targets: new Set(targets),
      });
      actions = result.actions;
      nodeList = result.nodeList;
    } else nodeList = (await s.run("docker node ls")).stdout.trimEnd();
    const after = matchMembers(inv, await readNodes(s));
    const managersWanted = inv.nodes.filter((n) => n.role === "manager").length;
    // Docker marks a silent node down only after its heartbeats lapse, so "ready" also needs an answer over SSH now.
    const managersReady = inv.nodes.filter(
      (n) =>
        n.role === "manager" &&
        sessions.open.has(n.name) &&
        after.get(n.name)?.status === "ready" &&
        after.get(n.name)?.role === "manager",
    ).length;
    return { ...(forcedOn ? { forcedOn } : {}), actions, managersReady, managersWanted, nodeList };
  } finally {
    sessions.closeAll();
  }
}

/**
 * A manager that came back with its copy of the state from before the recovery has no leader and
 * is not a member of the recovered swarm: it leaves, and bootstrap joins it again. One that the
 * recovered swarm lists as ready is in a normal election and is left alone.
 */
async function leaveStaleCopies(
  inv: Inventory,
  obs: ReadonlyMap<string, Observation>,
  leader: SshSession,
  session: (n: InventoryNode) => SshSession,
  opts: RecoverOptions,
): Promise<void> {
  const ready = new Set((await readNodes(leader)).filter((m) => m.status === "ready").map((m) => m.id));
  const stale = inv.nodes.filter((n) => {
    const o = obs.get(n.name);
    return (
      o?.reachable === true &&
      o.info.state === "active" &&
      o.info.controlAvailable &&
      !o.info.clusterId &&
      !ready.has(o.info.nodeId)
    );
  });
  if (stale.length === 0) return;
  await confirm(
    `${stale.map((n) => n.name).join(", ")} hold${stale.length === 1 ? "s" : ""} a copy of the swarm from before the recovery; make ${stale.length === 1 ? "it" : "them"} leave and rejoin?`,
    opts.yes,
  );
  for (const n of stale) {
    await session(n).run("docker swarm leave --force", { timeoutMs: LEAVE_TIMEOUT_MS });
    opts.log(`[${n.name}] left its copy of the swarm from before the recovery`);
  }
}

/** After --force-new-cluster, removes every other manager's entry (they are out of Raft already; demote says so). */
async function dropOtherManagers(s: SshSession, entry: InventoryNode, log: (l: string) => void): Promise<void> {
  const self = parseSwarmInfo((await s.run(SWARM_INFO)).stdout, s.node).nodeId;
  for (const m of await readNodes(s)) {
    if (m.id === self || m.role !== "manager") continue;
    const r = await onLeader(s, `docker node demote ${shellQuote(m.id)}`, { allowFailure: true });
    if (r.code !== 0 && !/can't find manager in raft memberlist/i.test(r.stderr))
      throw new Error(`docker node demote ${m.id} (${m.hostname}) failed on ${entry.name}: ${r.stderr.trim()}`);
    await onLeader(s, `docker node rm --force ${shellQuote(m.id)}`);
    log(`[${entry.name}] removed the entry of manager ${m.hostname} (${m.id})`);
  }
}
