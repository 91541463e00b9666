// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Pure decisions: given the inventory and what docker reported, what must happen. No I/O here, so
 * every rule (when to init, who joins, what is refused to protect quorum) is unit tested directly.
 * bootstrap/bootstrap.ts gathers the observations and carries the steps out.
 */
import { InventoryNode, Inventory, NodeRole } from "../inventory/inventory";
import { heldPins } from "../inventory/labels";
import { SwarmInfo } from "./swarm-state";
import type { NodeFacts } from "../swarm/nodes";
import { lockedProblem } from "../swarm/autolock-plan";

/**
 * Labels bootstrap keeps on every member: how to reach it over SSH and its pinned host key. When
 * the node later leaves the inventory, they let scale-down run `docker swarm leave` on the node
 * itself (a node only removed with `docker node rm` keeps believing it is in the swarm). The host
 * key was pinned by the inventory when the node joined, so this is not trust-on-first-use.
 */
export const LABEL_SSH = "hcloud-swarm.ssh";
export const LABEL_HOST_KEY = "hcloud-swarm.host-key";

/** The labels a member should carry: the inventory's plus the SSH bookkeeping labels. */
export function desiredLabels(n: InventoryNode): Record<string, string> {
  const [type, blob] = n.hostKey.split(/\s+/);
  return { ...n.labels, [LABEL_SSH]: `${n.user}@${n.host}:${n.port}`, [LABEL_HOST_KEY]: `${type} ${blob}` };
}

/** Where to reach a member that left the inventory, from its bookkeeping labels; undefined if it has none. */
export function departedTarget(
  m: NodeFacts,
): { name: string; user: string; host: string; port: number; hostKey: string } | undefined {
  const ssh = /^([^@\s]+)@([A-Za-z0-9.:-]+):(\d+)$/.exec(m.labels[LABEL_SSH] ?? "");
  const hostKey = m.labels[LABEL_HOST_KEY];
  if (!ssh || !hostKey) return undefined;
  return { name: m.hostname || m.id, user: ssh[1], host: ssh[2], port: Number(ssh[3]), hostKey };
}

/** What SSH and `docker info` told us about one inventory node. */
export type Observation =
  { readonly reachable: true; readonly info: SwarmInfo } | { readonly reachable: false; readonly error: string };

export type Step =
  /** `reset`: the node's own join never finished (why, in docker's words); it leaves that attempt first. */
  | { readonly kind: "join"; readonly node: InventoryNode; readonly role: NodeRole; readonly reset?: string }
  | { readonly kind: "promote" | "demote"; readonly node: string; readonly id: string }
  | {
      readonly kind: "label";
      readonly node: string;
      readonly id: string;
      readonly labels: Readonly<Record<string, string>>;
    }
  /** Scale-down of a member that left the inventory: demote if manager, drain, wait, leave, rm. */
  | { readonly kind: "remove"; readonly node: string; readonly entry: NodeFacts };

export type Entry =
  | { readonly kind: "serve"; readonly node: InventoryNode; readonly clusterId: string }
  | { readonly kind: "init"; readonly node: InventoryNode }
  | { readonly kind: "fail"; readonly problem: string };

/**
 * Which member each inventory node is: the node ID its engine reported when we inspected it, else
 * the same hostname, address or SSH bookkeeping label (ready entries win over stale ones left by an
 * earlier incarnation).
 */
export function matchMembers(
  inv: Inventory,
  members: readonly NodeFacts[],
  obs?: ReadonlyMap<string, Observation>,
): Map<string, NodeFacts> {
  const out = new Map<string, NodeFacts>();
  for (const n of inv.nodes) {
    const o = obs?.get(n.name);
    const byId = o?.reachable && o.info.nodeId ? members.find((m) => m.id === o.info.nodeId) : undefined;
    // The bookkeeping label survives hostnames that differ from inventory names (Hetzner's "<stack>-worker-1").
    const candidates = members.filter(
      (m) =>
        m.hostname === n.name ||
        m.addr === n.advertiseAddress ||
        m.labels[LABEL_SSH] === `${n.user}@${n.host}:${n.port}`,
    );
    const best = byId ?? candidates.find((m) => m.status === "ready") ?? candidates[0];
    if (best) out.set(n.name, best);
  }
  return out;
}

/** Inventory nodes that must be reached over SSH: everyone who is not already a ready member. */
export function nodesToInspect(inv: Inventory, members: readonly NodeFacts[]): InventoryNode[] {
  const matched = matchMembers(inv, members);
  return inv.nodes.filter((n) => matched.get(n.name)?.status !== "ready");
}

function describeTrouble(name: string, o: Observation | undefined): string | undefined {
  if (!o) return `${name} was still being inspected when the run had to decide`;
  if (!o.reachable) return `cannot reach ${name}: ${o.error}`;
  if (o.info.state === "error")
    return `docker on ${name} reports a swarm error: ${o.info.error}; fix it or run \`docker swarm leave --force\` there`;
  if (o.info.state === "locked") return lockedProblem(name, undefined);
  return undefined;
}

/**
 * A manager that answers but cannot read its cluster: the swarm has no leader at that moment.
 * Docker reports it as control available with no cluster ID, and an error such as "The swarm does
 * not have a leader" or "context deadline exceeded" (seen on the bed right after the leader died).
 */
export function awaitsLeader(info: SwarmInfo): boolean {
  return info.state === "active" && info.controlAvailable && !info.clusterId;
}

/** A manager that can serve the run: an active manager of a swarm whose leader answers. */
export function canServe(
  o: Observation | undefined,
): o is { reachable: true; info: SwarmInfo & { clusterId: string } } {
  return o?.reachable === true && o.info.state === "active" && o.info.controlAvailable && !!o.info.clusterId;
}

/** Why a manager does not serve this run, in words that name it and say what to do. */
function whyNotServing(name: string, o: Observation | undefined): string {
  const trouble = describeTrouble(name, o);
  if (trouble || !o?.reachable) return trouble ?? `cannot reach ${name}`;
  const { info } = o;
  if (awaitsLeader(info)) {
    return `${name} is a manager of a swarm but no leader answered while bootstrap waited (docker: ${info.error || "no cluster information"}); if most managers are down the swarm has lost quorum: bring them back, or run \`docker swarm init --force-new-cluster\` on ${name}`;
  }
  if (info.state === "inactive") return `${name} is not in a swarm`;
  if (info.state === "pending")
    return `${name} is still trying to join a swarm (pending); check that it reaches a manager on 2377/tcp, or run \`docker swarm leave --force\` on it`;
  return `${name} is ${info.state} in a swarm but not as a manager of it; run \`docker swarm leave --force\` on it, or promote it from a manager of that swarm`;
}

/**
 * Picks the manager that serves the run: the first inventory manager that is an active manager of
 * a swarm with a leader; else init on the first manager when every manager answered and none is
 * in any swarm. Never inits while a manager cannot be reached or is in a swarm: it may hold the
 * existing one. A refusal names every manager and why it did not serve.
 */
export function chooseEntry(inv: Inventory, obs: ReadonlyMap<string, Observation>): Entry {
  const mgrs = inv.nodes.filter((n) => n.role === "manager");
  const active = mgrs.filter((n) => canServe(obs.get(n.name)));
  const clusterOf = (n: InventoryNode) => (obs.get(n.name) as { info: SwarmInfo }).info.clusterId as string;
  const clusters = new Set(active.map(clusterOf));
  if (clusters.size > 1) {
    const who = active.map((n) => `${n.name} (cluster ${clusterOf(n)})`).join(", ");
    return {
      kind: "fail",
      problem: `the inventory's managers belong to different swarms: ${who}; make them leave all but one swarm first`,
    };
  }
  if (active.length > 0) return { kind: "serve", node: active[0], clusterId: clusterOf(active[0]) };
  const fresh = (n: InventoryNode) => {
    const o = obs.get(n.name);
    return o?.reachable === true && o.info.state === "inactive";
  };
  if (mgrs.every(fresh)) return { kind: "init", node: mgrs[0] };
  const reasons = mgrs.map((n) => whyNotServing(n.name, obs.get(n.name)));
  return {
    kind: "fail",
    problem: `no manager can serve this run, and bootstrap will not create a new swarm while a manager is or may be in one: ${reasons.join("; ")}`,
  };
}

export interface MembershipPlan {
  /** Joins, managers first (they join one by one), then workers. */
  readonly steps: readonly Step[];
  /** Per-node problems: that node is skipped, the others proceed, and the run fails at the end. */
  readonly problems: readonly string[];
}

/**
 * A join that never finished: the engine is still trying ("pending", after the settle wait) or gave
 * up ("error", e.g. DeadlineExceeded when the manager it was sent to died mid-join), and holds
 * nothing another swarm could miss: no node ID (it never got a certificate), or an ID this swarm
 * does not list while the managers it knows are ours. Leaving that attempt and joining again is
 * what a re-run is for; an engine that belongs to another swarm is never touched.
 */
export function unfinishedJoin(
  info: SwarmInfo,
  memberIds: ReadonlySet<string>,
  ourManagers: readonly string[],
): boolean {
  if (info.state !== "pending" && info.state !== "error") return false;
  if (info.nodeId === "") return true;
  return !memberIds.has(info.nodeId) && info.remoteManagers.some((a) => ourManagers.includes(a));
}

/** Joins for inspected nodes that are not members (again, for an unfinished join); refuses nodes in another swarm or in trouble. */
export function planMembership(
  inv: Inventory,
  members: readonly NodeFacts[],
  obs: ReadonlyMap<string, Observation>,
  entry: InventoryNode,
): MembershipPlan {
  const matched = matchMembers(inv, members);
  const ids = new Set(members.map((m) => m.id));
  const ours = inv.nodes.filter((m) => m.role === "manager").map((m) => `${m.advertiseAddress}:2377`);
  const joins: Step[] = [];
  const problems: string[] = [];
  for (const n of inv.nodes) {
    if (n.name === entry.name || matched.get(n.name)?.status === "ready") continue;
    const o = obs.get(n.name);
    if (o?.reachable && unfinishedJoin(o.info, ids, ours)) {
      joins.push({
        kind: "join",
        node: n,
        role: n.role,
        reset: `${o.info.state}${o.info.error ? `: ${o.info.error}` : ""}`,
      });
      continue;
    }
    const trouble = describeTrouble(n.name, o);
    if (trouble || !o?.reachable) {
      problems.push(trouble ?? `cannot reach ${n.name}`);
      continue;
    }
    const { info } = o;
    if (info.state === "pending" && ids.has(info.nodeId))
      problems.push(
        `${n.name} is a member of this swarm (node ${info.nodeId}) that is still connecting to it (pending); check that it reaches a manager on 2377/tcp, and re-run`,
      );
    else if (info.state === "pending")
      problems.push(
        `${n.name} is still trying to join another swarm (pending, node ${info.nodeId}, managers ${info.remoteManagers.join(", ") || "unknown"}); run \`docker swarm leave --force\` on it if it belongs in this one, and re-run`,
      );
    else if (info.state === "active" && !ids.has(info.nodeId)) {
      if (info.remoteManagers.some((a) => ours.includes(a))) {
        problems.push(
          `${n.name} was removed from this swarm but its engine still believes it is a member (node ${info.nodeId}); run \`docker swarm leave --force\` on it, then re-run to join it again`,
        );
        continue;
      }
      problems.push(
        `${n.name} is active in a different swarm (node ${info.nodeId}, managers ${info.remoteManagers.join(", ") || "unknown"}); it is not re-joined silently: run \`docker swarm leave --force\` on it if it belongs in this one`,
      );
    } else if (info.state === "inactive") joins.push({ kind: "join", node: n, role: n.role });
    // active with a known ID: a member that is restarting or just joined; nothing to do.
  }
  const order = (s: Step) => (s.kind === "join" && s.role === "manager" ? 0 : 1);
  return { steps: joins.sort((a, b) => order(a) - order(b)), problems };
}

/** Promotions, demotions and label additions for members that are in the inventory. */
export function planRolesAndLabels(inv: Inventory, members: readonly NodeFacts[]): Step[] {
  const matched = matchMembers(inv, members);
  const steps: Step[] = [];
  for (const n of inv.nodes) {
    const m = matched.get(n.name);
    if (!m || m.status !== "ready") continue;
    if (m.role !== n.role) steps.push({ kind: n.role === "manager" ? "promote" : "demote", node: n.name, id: m.id });
    // Labels are added and updated, never removed: others (operators, stacks) may set their own.
    const missing = Object.entries(desiredLabels(n)).filter(([k, v]) => m.labels[k] !== v);
    if (missing.length > 0) steps.push({ kind: "label", node: n.name, id: m.id, labels: Object.fromEntries(missing) });
  }
  return steps.sort((a, b) => (a.kind === "promote" ? -1 : 0) - (b.kind === "promote" ? -1 : 0));
}

/**
 * Members that no inventory node stands for: those that left the inventory, and stale entries of
 * nodes that re-joined under a new ID. Unreachable managers go first (removing them helps quorum).
 */
export function planRemovals(
  inv: Inventory,
  members: readonly NodeFacts[],
  obs?: ReadonlyMap<string, Observation>,
): Step[] {
  const claimed = new Set([...matchMembers(inv, members, obs).values()].map((m) => m.id));
  const gone = members.filter((m) => !claimed.has(m.id));
  const rank = (m: NodeFacts) => (m.role === "manager" ? (m.reachability === "reachable" ? 2 : 1) : 0);
  return gone
    .sort((a, b) => rank(a) - rank(b))
    .map((entry) => ({ kind: "remove", node: entry.hostname || entry.id, entry }));
}

const quorum = (managers: number) => Math.floor(managers / 2) + 1;

/**
 * Cluster-wide refusals, checked before anything is done: an even final manager count, a change
 * that would pass through a state without quorum, or one that removes the last manager. The
 * dynamic provider removes one node per call and skips the even-count rule: a 3 → 1 change
 * passes through 2 there, and the config it comes from is validated as a whole.
 */
export function checkManagerChanges(
  inv: Inventory,
  members: readonly NodeFacts[],
  steps: readonly Step[],
  checkEvenCount = true,
): string[] {
  const problems: string[] = [];
  const wanted = inv.nodes.filter((n) => n.role === "manager").length;
  if (checkEvenCount && wanted % 2 === 0) {
    problems.push(
      `the inventory has ${wanted} managers; use an odd number (1, 3, 5 or 7): ${wanted} managers tolerate no more failures than ${wanted - 1} and can split their votes`,
    );
  }
  const mgrs = members.filter((m) => m.role === "manager");
  let total = mgrs.length;
  let reachable = mgrs.filter((m) => m.reachability === "reachable").length;
  if (total > 0 && reachable < quorum(total)) {
    problems.push(
      `the swarm has lost quorum: ${reachable} of ${total} managers are reachable; recover with \`docker swarm init --force-new-cluster\` on a healthy manager`,
    );
    return problems;
  }
  for (const s of steps) {
    if ((s.kind === "join" && s.role === "manager") || s.kind === "promote") {
      total++;
      reachable++;
      continue;
    }
    const m = s.kind === "demote" ? members.find((x) => x.id === s.id) : s.kind === "remove" ? s.entry : undefined;
    if (!m || m.role !== "manager") continue;
    if (total <= 1) {
      problems.push(`refusing to ${s.kind} ${s.node}: it is the last manager`);
      continue;
    }
    total--;
    if (m.reachability === "reachable") reachable--;
    if (reachable < quorum(total))
      problems.push(
        `refusing to ${s.kind} ${s.node}: ${reachable} of the remaining ${total} managers would be reachable, which loses quorum`,
      );
  }
  return problems;
}

/**
 * Removals refused because the member holds placement pins: stack deploy pinned a stack's data
 * (local volumes) to it, and removing the node loses that data. Only the nodes named in `forced`
 * go through; `escape(node)` says how to name one from where the user runs this. A holder that is
 * down is told apart: its data cannot be moved while it is down, and is lost if it never returns.
 */
export function pinRefusals(
  steps: readonly Step[],
  forced: readonly string[],
  escape: (node: string) => string,
): string[] {
  return steps.flatMap((s) => {
    if (s.kind !== "remove" || forced.includes(s.node)) return [];
    const pins = heldPins(s.entry.labels);
    if (pins.length === 0) return [];
    const stacks = [...new Set(pins.flatMap((p) => p.stacks))];
    const what = `it holds the data of stack(s) ${stacks.join(", ") || "(unrecorded)"} (placement pin${pins.length > 1 ? "s" : ""} ${pins.map((p) => p.label).join(", ")})`;
    if (s.entry.status !== "ready")
      return [
        `refusing to remove ${s.node}: ${what}, and it is ${s.entry.status || "not ready"}, so that data is on its disk and cannot be moved now. ` +
          `If it can come back, start it and move the data and the pin label to another node first. If it is lost for good, the data is gone with it: ${escape(s.node)}, ` +
          `then restore the data from a backup, or deploy the stack(s) with --accept-empty to start them empty`,
      ];
    return [
      `refusing to remove ${s.node}: ${what}; removing it loses that data. ` +
        `Move the data and the pin label to another node first, or ${escape(s.node)}`,
    ];
  });
}
