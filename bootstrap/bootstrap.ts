// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * One bootstrap run: inspect, decide (./plan), act (./swarm-ops), report. Used by the CLI for a
 * whole inventory and by the dynamic provider for one node at a time (`targets`).
 *
 * Only nodes that are not already ready members are inspected. Every ready member is still reached
 * once for its host firewall (./allow-list: one check-and-repair command each, all in one wave), so
 * connections and commands grow with the cluster while the round trips on the critical path do not.
 */
import { Action, BootstrapError } from "./actions";
import {
  admitJoiners,
  AllowListContext,
  FIREWALL_WAVE_CONCURRENCY,
  openAdmissionSessions,
  settleAllowLists,
} from "./allow-list";
import { writeLabels } from "./write-labels";
import { reconcileSpecs, withSpecLabels } from "./node-specs";
import { Inventory, InventoryNode } from "../inventory/inventory";
import {
  awaitsLeader,
  canServe,
  chooseEntry,
  checkManagerChanges,
  departedTarget,
  matchMembers,
  Observation,
  pinRefusals,
  planMembership,
  planRemovals,
  planRolesAndLabels,
  Step,
} from "./plan";
import { redact } from "../transport/redact";
import { scaleDown } from "./scale-down";
import { SshSession, waitForNodeReady, waitForSsh } from "../transport/ssh";
import { SwarmInfo, parseSwarmInfo } from "./swarm-state";
import { readNodes, type NodeFacts } from "../swarm/nodes";
import { ELECTION_WAIT_MS } from "../swarm/leader";
import {
  initSwarm,
  joinSwarm,
  joinToken,
  leaveSwarm,
  nodeList,
  readIngress,
  readSwarmInfo,
  recreateIngress,
  setRole,
  SWARM_INFO,
  waitForMembersKnown,
  waitForMembersReady,
} from "./swarm-ops";
import { sleep } from "../common/time";
import { limiter, mapLimit } from "../common/concurrency";
import { cliEscape, unknownForced } from "./force-remove";
import type { UnlockKeyStore } from "../swarm/autolock";
import type { NodeRole } from "../inventory/inventory";
import { reportLocked, settleSwarmKeys, unlockLeft, unlockObserved } from "./autolock-step";

/** Parallel SSH sessions and joins: enough that 16 workers join in two waves, few enough for 2-core CI and a manager's CA. */
export const JOIN_CONCURRENCY = 8;
/**
 * Once one manager serves (an active manager whose swarm has a leader), the others get this long to
 * answer before the run goes on without them (e.g. a stopped first manager). It only ever lets the
 * run go on: it never decides that no manager serves.
 */
export const MANAGER_GRACE_MS = 10_000;
/** A manager answering during an election is read again this often (each read itself waits up to docker's 20 s). */
export const ELECTION_POLL_MS = 1_000;
/**
 * The serving manager can go away mid-run (powered off, its SSH dropped, frozen past the command
 * timeout). Everything done so far is in the swarm, so the run inspects again and goes on through
 * another manager, up to this many times.
 */
export const ENTRY_FAILOVERS = 2;
/** A node the swarm lists as down is given this long to answer SSH: it is usually off, and waiting the full boot time helps no one. */
export const DOWN_NODE_SSH_WAIT_MS = 15_000;
/** A node that reports "pending" is finishing a join from an interrupted run; give it this long to settle. */
export const PENDING_SETTLE_MS = 30_000;
/** Underlay MTU when the inventory sets none (a public NIC). */
export const DEFAULT_OVERLAY_MTU = 1500;

export interface BootstrapOptions {
  /** The private key (OpenSSH format) for a node. */
  readonly privateKeyFor: (node: InventoryNode) => string;
  /** Progress lines, already redacted. Default: none. */
  readonly log?: (line: string) => void;
  /** Every remote command, already redacted. Default: none. */
  readonly trace?: (line: string) => void;
  /** Act only on these nodes; the other managers serve as entry points and nothing is scaled down. Default: every node. */
  readonly targets?: ReadonlySet<string>;
  /** Parallel sessions and joins. Default JOIN_CONCURRENCY. */
  readonly concurrency?: number;
  /** How long to wait for a node's SSH. Default SSH_WAIT_TIMEOUT_MS (transport/ssh.ts). */
  readonly sshWaitTimeoutMs?: number;
  /** Nodes that left the inventory to remove even though they hold a stack's pinned data (lost with them). Default none. */
  readonly forceRemove?: readonly string[];
  /**
   * Autolock: the setting to bring the swarm to (undefined: leave it as it is) and where its unlock
   * keys are kept; a locked manager is opened with them. Default: none, locked managers are only named.
   */
  readonly autolock?: { readonly enabled?: boolean; readonly keys: UnlockKeyStore };
  /** Rotate the join tokens a run used once its joins are done. Default: true, false with `targets` (the SwarmKeys resource rotates then). */
  readonly rotateJoinTokens?: boolean;
}

export interface BootstrapResult {
  readonly actions: readonly Action[];
  /** Things left as they are, e.g. a manager that is down. */
  readonly warnings: readonly string[];
  /** `docker node ls` after the run. */
  readonly nodeList: string;
  /** Members as the serving manager last read them. */
  readonly members: readonly NodeFacts[];
  /** The join-token roles rotated after this run's joins; empty when none. */
  readonly rotatedJoinTokens: readonly NodeRole[];
}

/** State of one run: open sessions, observations, actions, problems. Shared with ./member. */
export class Run {
  // Assigned in the constructor rather than as field initializers: Pulumi's closure serializer
  // (which carries this class into the dynamic provider) keeps constructors but drops initializers.
  readonly sessions: Map<string, SshSession>;
  readonly obs: Map<string, Observation>;
  readonly actions: Action[];
  readonly problems: string[];
  readonly warnings: string[];
  /** Managers left locked, with why and how to open them. */
  readonly locked: Map<string, string>;
  /** The manager serving this run, once chosen. */
  entry: string | undefined;
  private closed: boolean;
  readonly o: BootstrapOptions;
  constructor(o: BootstrapOptions) {
    this.o = o;
    this.entry = undefined;
    this.sessions = new Map();
    this.obs = new Map();
    this.actions = [];
    this.problems = [];
    this.warnings = [];
    this.locked = new Map();
    this.closed = false;
  }

  log(line: string): void {
    this.o.log?.(redact(line));
  }

  keep(key: string, s: SshSession): void {
    if (this.closed) s.close();
    else this.sessions.set(key, s);
  }

  act(a: Action): void {
    this.actions.push(a);
    this.log(`[${a.node}] ${a.kind}: ${a.detail}`);
  }

  /** SSH in, wait for cloud-init and docker, read the swarm state. Never throws: failure is an observation. */
  async inspect(node: InventoryNode, timeoutMs: number | undefined, signal?: AbortSignal): Promise<Observation> {
    let o: Observation;
    try {
      const s = await waitForSsh(node, this.o.privateKeyFor(node), {
        log: (l) => this.log(l),
        trace: this.o.trace,
        timeoutMs,
        signal,
      });
      // A manager we stopped waiting for may connect after the run ended: don't leak it.
      if (this.closed) s.close();
      this.sessions.set(node.name, s);
      let info = parseSwarmInfo(await waitForNodeReady(s, (l) => this.log(l), SWARM_INFO), node.name);
      for (const deadline = Date.now() + PENDING_SETTLE_MS; info.state === "pending" && Date.now() < deadline;) {
        await sleep(1000);
        info = await readSwarmInfo(s);
      }
      if (info.state === "locked") info = await unlockObserved(this, node, s, info);
      if (node.role === "manager" && awaitsLeader(info)) info = await this.awaitLeader(s, info, signal);
      this.log(`[${node.name}] swarm state: ${info.state}${info.controlAvailable ? " (manager)" : ""}`);
      o = { reachable: true, info };
    } catch (err) {
      o = { reachable: false, error: redact((err as Error).message) };
    }
    this.obs.set(node.name, o);
    return o;
  }

  /**
   * A manager that answers while its swarm has no leader (an election after the leader went away)
   * is read again until a leader answers or ELECTION_WAIT_MS passes; only then does it count as
   * serving or not. Stops early when the run no longer needs this manager.
   */
  private async awaitLeader(s: SshSession, first: SwarmInfo, signal?: AbortSignal): Promise<SwarmInfo> {
    this.log(
      `[${s.node}] is a manager but its swarm has no leader yet (docker: ${first.error || "no cluster information"}); reading it again for up to ${ELECTION_WAIT_MS / 1000} s`,
    );
    let info = first;
    for (
      const deadline = Date.now() + ELECTION_WAIT_MS;
      awaitsLeader(info) && Date.now() < deadline && !signal?.aborted;
    ) {
      await sleep(ELECTION_POLL_MS);
      info = await readSwarmInfo(s);
    }
    if (!awaitsLeader(info)) this.log(`[${s.node}] a leader answers again`);
    return info;
  }

  /** The serving manager, if its connection dropped during the run. */
  entryLost(): string | undefined {
    const s = this.entry === undefined ? undefined : this.sessions.get(this.entry);
    return s && !s.isOpen() ? this.entry : undefined;
  }

  closeAll(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.close();
  }
}

/** Inspects every manager in parallel; returns once all answered, or once one serves (see MANAGER_GRACE_MS). */
export async function inspectManagers(
  run: Run,
  mgrs: readonly InventoryNode[],
): Promise<Map<string, { done: Promise<Observation>; abort: AbortController }>> {
  const pending = new Map<string, { done: Promise<Observation>; abort: AbortController }>();
  let serving!: () => void;
  const someoneServes = new Promise<void>((r) => (serving = r));
  for (const m of mgrs) {
    const abort = new AbortController();
    const done = run.inspect(m, run.o.sshWaitTimeoutMs, abort.signal).then((o) => {
      if (canServe(o)) serving();
      return o;
    });
    pending.set(m.name, { done, abort });
  }
  const all = Promise.all([...pending.values()].map((p) => p.done));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    all,
    someoneServes.then(() => new Promise<void>((r) => (timer = setTimeout(r, MANAGER_GRACE_MS)))),
  ]);
  clearTimeout(timer);
  return pending;
}

/** Brings the swarm to match the inventory. Throws BootstrapError (listing all problems and the actions already taken) on failure. */
export async function bootstrap(inv: Inventory, o: BootstrapOptions): Promise<BootstrapResult> {
  const earlier: Action[] = [];
  const warnings: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const run = new Run(o);
    try {
      const result = await reconcile(inv, run);
      return {
        ...result,
        actions: [...earlier, ...result.actions],
        warnings: [...warnings, ...result.warnings],
      };
    } catch (err) {
      const lost = run.entryLost();
      if (lost !== undefined && attempt < ENTRY_FAILOVERS) {
        earlier.push(...run.actions);
        warnings.push(...run.warnings);
        run.log(
          `[${lost}] the serving manager stopped answering mid-run (${redact((err as Error).message)
            .split("\n")
            .slice(0, 3)
            .join(" ")}); inspecting again to go on through another manager`,
        );
        continue;
      }
      const problems = err instanceof BootstrapError ? err.problems : [...run.problems, redact((err as Error).message)];
      throw new BootstrapError(problems, [...earlier, ...run.actions]);
    } finally {
      run.closeAll();
    }
  }
}

/** Makes the swarm match the inventory. Bootstrap reconciles; a stack's services converge (Docker's word, stacks/deploy/converge.ts). */
async function reconcile(inv: Inventory, run: Run): Promise<BootstrapResult> {
  const inScope = (n: InventoryNode) => !run.o.targets || run.o.targets.has(n.name);
  const refusals = checkManagerChanges(inv, [], []);
  if (refusals.length) throw new BootstrapError(refusals, []);
  const mgrs = inv.nodes.filter((n) => n.role === "manager");
  const pending = await inspectManagers(run, mgrs);

  const entry = chooseEntry(inv, run.obs);
  if (entry.kind === "fail") throw new BootstrapError([entry.problem], []);
  run.entry = entry.node.name;
  const manager = run.sessions.get(entry.node.name) as SshSession;
  const gate = limiter(run.o.concurrency ?? JOIN_CONCURRENCY);
  const early = new Map<string, Promise<Observation>>();
  if (entry.kind === "init") {
    if (!inScope(entry.node))
      throw new BootstrapError(
        [`the swarm is not initialised yet: bootstrap its first manager ${entry.node.name} first`],
        [],
      );
    // A new swarm: every other node must be reached anyway, so start now, alongside init.
    for (const n of inv.nodes)
      if (inScope(n) && !pending.has(n.name))
        early.set(
          n.name,
          gate(() => run.inspect(n, run.o.sshWaitTimeoutMs)),
        );
    await initSwarm(manager, entry.node, inv.swarm);
    run.act({
      node: entry.node.name,
      kind: "init",
      detail: `swarm init --advertise-addr ${entry.node.advertiseAddress}${inv.swarm?.defaultAddrPool ? ` --default-addr-pool ${inv.swarm.defaultAddrPool}` : ""}`,
    });
    run.obs.set(entry.node.name, { reachable: true, info: await readSwarmInfo(manager) });
  }
  await ensureIngress(run, manager, entry.node.name, inv.swarm?.overlayMtu ?? DEFAULT_OVERLAY_MTU);

  let members = await readNodes(manager);
  const matched = matchMembers(inv, members, run.obs);
  // Reach every node in scope that is not a ready member (managers are being reached already).
  const todo = inv.nodes.filter(
    (n) => inScope(n) && n.name !== entry.node.name && matched.get(n.name)?.status !== "ready",
  );
  const downButListed = (n: InventoryNode) => matched.get(n.name) !== undefined;
  for (const [name, p] of pending)
    if (!todo.some((n) => n.name === name) || downButListed(inv.nodes.find((n) => n.name === name) as InventoryNode))
      p.abort.abort();
  const allow: AllowListContext = {
    run,
    manager,
    inv,
    keyNode: entry.node,
    gate: limiter(FIREWALL_WAVE_CONCURRENCY),
    labels: new Map(),
    opening: new Map(),
  };
  // Members whose host firewall must admit the newcomers are connected to while those are inspected.
  openAdmissionSessions(
    allow,
    members,
    todo.filter((n) => !downButListed(n)),
  );
  await Promise.all(
    todo.map(
      (n) =>
        pending.get(n.name)?.done ??
        early.get(n.name) ??
        gate(() => run.inspect(n, downButListed(n) ? DOWN_NODE_SSH_WAIT_MS : run.o.sshWaitTimeoutMs)),
    ),
  );
  const considered = todo.filter((n) => {
    const ob = run.obs.get(n.name);
    if (downButListed(n) && ob && !ob.reachable) {
      run.warnings.push(
        `${n.name} is listed as ${matched.get(n.name)?.status} in the swarm and does not answer (${ob.error}); left as it is`,
      );
      run.log(`[${n.name}] warning: down and unreachable; left as it is`);
      return false;
    }
    return true;
  });
  const scope: Inventory = {
    ...inv,
    nodes: inv.nodes.filter(
      (n) => n.name === entry.node.name || considered.includes(n) || (inScope(n) && !todo.includes(n)),
    ),
  };
  const membership = planMembership(scope, members, run.obs, entry.node);
  run.problems.push(...membership.problems);
  const removals = () => (run.o.targets ? [] : planRemovals(inv, members, run.obs));
  const refused = [
    ...checkManagerChanges(inv, members, [...membership.steps, ...planRolesAndLabels(scope, members), ...removals()]),
    ...unknownForced(run.o.forceRemove ?? [], [...inv.nodes.map((n) => n.name), ...members.map((m) => m.hostname)]),
    ...pinRefusals(removals(), run.o.forceRemove ?? [], cliEscape),
  ];
  if (refused.length) throw new BootstrapError([...refused, ...run.problems], run.actions);

  // Join tokens are fetched while the host firewalls are updated; they live only in this scope.
  const tokens = joinTokens(manager, membership.steps);
  // Host firewalls: every member accepts a joiner, and the joiner every member, before it joins.
  const admission = admitJoiners(
    allow,
    members,
    membership.steps.flatMap((s) => (s.kind === "join" ? [s.node] : [])),
  );
  await joinAll(run, membership.steps, tokens, entry.node, admission.ready);
  await admission.done;
  const enforced = admission.enforced;
  if (run.actions.some((a) => a.kind === "join")) members = await readNodes(manager);
  const attempt = async (step: Step): Promise<boolean> => {
    try {
      await execute(run, manager, step, entry.node);
      return true;
    } catch (err) {
      run.problems.push(`${step.kind} ${step.node} failed: ${redact((err as Error).message)}`);
      return false;
    }
  };
  // Role changes and removals one by one, stopping at the first failure: the quorum arithmetic
  // above assumed every step.
  for (const step of [...planRolesAndLabels(scope, members).filter((s) => s.kind !== "label"), ...removals()])
    if (!(await attempt(step))) break;
  const changed = run.actions.some((a) => ["demote", "promote", "drain", "leave", "remove"].includes(a.kind));
  if (run.actions.some((a) => a.kind === "demote" || a.kind === "promote")) {
    const wereReady = members.filter((m) => m.status === "ready").map((m) => m.id);
    await waitForMembersReady(manager, wereReady).catch((err: Error) => run.warnings.push(redact(err.message)));
  }
  // A leader elected during the run lists members as unknown for a heartbeat; they are alive. The
  // list read after the joins is the first look when nothing else changed since.
  members = await waitForMembersKnown(manager, changed ? undefined : members).catch((err: Error) => {
    run.warnings.push(redact(err.message));
    return members;
  });
  // Host firewalls: every member ends accepting exactly the members (or, one node at a time, at least them).
  await settleAllowLists(allow, !run.o.targets, enforced, changed ? undefined : members);
  // The node reconcile step (nodespec/): what user data carried, applied in place where it differs.
  const specLabels = await reconcileSpecs(run, inv, scope.nodes.filter(inScope), members, allow.gate);
  // Labels last, every node's in one command with the firewall labels: they touch one node object
  // each, and nothing in the run reads them back.
  // The node list does not show labels: read alongside.
  const labelled = writeLabels(
    run,
    allow,
    withSpecLabels(
      planRolesAndLabels(scope, members).filter((s): s is Extract<Step, { kind: "label" }> => s.kind === "label"),
      specLabels,
    ),
  );
  const joined = membership.steps.flatMap((st) =>
    st.kind === "join" && run.actions.some((a) => a.kind === "join" && a.node === st.node.name) ? [st] : [],
  );
  const [list, , rotatedJoinTokens] = await Promise.all([
    nodeList(manager),
    labelled,
    settleSwarmKeys(run, manager, entry.node.name, joined),
  ]);
  await unlockLeft(run, inv);
  reportLocked(run, inv);
  if (run.problems.length) throw new BootstrapError(run.problems, run.actions);
  return { actions: run.actions, warnings: run.warnings, nodeList: list, members, rotatedJoinTokens };
}

async function ensureIngress(run: Run, manager: SshSession, name: string, mtu: number): Promise<void> {
  const ingress = await readIngress(manager);
  if (ingress.exists && ingress.encrypted && ingress.mtu === String(mtu)) return;
  try {
    await recreateIngress(manager, ingress, mtu);
    run.act({
      node: name,
      kind: "ingress",
      detail: `ingress network recreated encrypted, com.docker.network.driver.mtu=${mtu}`,
    });
  } catch (err) {
    run.problems.push(redact((err as Error).message));
  }
}

type TokenOf = (role: "manager" | "worker") => Promise<string>;

/** Starts fetching the join token of every role that `steps` join as; a failure shows when a join asks for it. */
function joinTokens(manager: SshSession, steps: readonly Step[]): TokenOf {
  const tokens = new Map<string, Promise<string>>();
  for (const s of steps) {
    if (s.kind !== "join" || tokens.has(s.role)) continue;
    const t = joinToken(manager, s.role);
    t.catch(() => undefined);
    tokens.set(s.role, t);
  }
  return (role) => tokens.get(role) ?? joinToken(manager, role);
}

/**
 * Managers join one at a time (raft adds members one by one); workers join in parallel. Each join
 * waits for its own admission (`admitted`: ./allow-list Admission.ready), not for the whole wave.
 */
async function joinAll(
  run: Run,
  steps: readonly Step[],
  token: TokenOf,
  entry: InventoryNode,
  admitted: (node: string) => Promise<void>,
): Promise<void> {
  const joins = steps.filter((s): s is Extract<Step, { kind: "join" }> => s.kind === "join");
  if (joins.length === 0) return;
  const join = async (s: Extract<Step, { kind: "join" }>) => {
    try {
      const session = run.sessions.get(s.node.name) as SshSession;
      if (s.reset) await leaveSwarm(session);
      // A fact, not a wave: every member and the node itself have answered its admission.
      await admitted(s.node.name);
      const nodeId = await joinSwarm(session, s.node, await token(s.role), `${entry.advertiseAddress}:2377`, (l) =>
        run.log(l),
      );
      // Recorded so that matchMembers claims the new member by ID, even before it reports its hostname.
      const seen = run.obs.get(s.node.name);
      if (seen?.reachable)
        run.obs.set(s.node.name, { reachable: true, info: { ...seen.info, state: "active", nodeId } });
      const again = s.reset
        ? ` (its earlier join had not finished: ${redact(s.reset)}; it left that attempt first)`
        : "";
      run.act({ node: s.node.name, kind: "join", detail: `joined as ${s.role} via ${entry.name}${again}` });
    } catch (err) {
      run.problems.push(`${s.node.name} could not join: ${redact((err as Error).message)}`);
    }
  };
  // Labels follow once all have joined (planRolesAndLabels): measured faster on a busy manager than
  // labelling each node right after its join, where the updates queue behind the other joins.
  for (const s of joins.filter((j) => j.role === "manager")) await join(s);
  await mapLimit(
    joins.filter((j) => j.role === "worker"),
    run.o.concurrency ?? JOIN_CONCURRENCY,
    join,
  );
}

/** A node that left the inventory, reached through its bookkeeping labels so it can leave the swarm itself. */
async function reachDeparted(run: Run, entry: NodeFacts, keyNode: InventoryNode): Promise<SshSession | undefined> {
  const target = departedTarget(entry);
  if (!target || entry.status !== "ready") return undefined;
  try {
    return await waitForSsh(target, run.o.privateKeyFor(keyNode), {
      log: (l) => run.log(l),
      trace: run.o.trace,
      timeoutMs: DOWN_NODE_SSH_WAIT_MS,
    });
  } catch (err) {
    run.warnings.push(
      `could not reach ${target.name} to run \`docker swarm leave\` there (${redact((err as Error).message)}); it is removed from the swarm anyway: run \`docker swarm leave --force\` on it before reusing it`,
    );
    return undefined;
  }
}

async function execute(run: Run, manager: SshSession, step: Step, keyNode: InventoryNode): Promise<void> {
  switch (step.kind) {
    case "promote":
    case "demote":
      await setRole(manager, step.id, step.kind === "promote" ? "manager" : "worker");
      run.act({
        node: step.node,
        kind: step.kind,
        detail: step.kind === "promote" ? "worker → manager" : "manager → worker",
      });
      return;
    case "remove": {
      const node = await reachDeparted(run, step.entry, keyNode);
      try {
        await scaleDown(manager, step.entry, step.node, node, (a) => run.act(a));
      } finally {
        node?.close();
      }
      return;
    }
    case "join":
    case "label": // written together with the firewall labels: writeLabels
      return;
  }
}
