// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Keeps every member's host firewall (hostfw/) in step with the swarm's membership:
 * - before nodes join, every member and every joining node accepts the joiners (and each other);
 * - after a run, every member enforces exactly the members' addresses (whole-inventory runs), or at
 *   least them (one-node runs of the Pulumi provider, which may run beside other joins);
 * - after a node is taken out, no member accepts it any more.
 *
 * Each member carries the label LABEL_FIREWALL, the hash of the list it enforces. Before joins it
 * spares in-step members a connection; at the end of every run the label is not trusted: every
 * ready member gets ONE command, the check-and-repair program (hostfw/install.ts: installs the script,
 * unit and docker drop-in where cloud-init did not, hardens sshd, rebuilds the rules, reads them
 * back). Every such step goes to all its targets in one parallel wave over the sessions the run
 * already holds (new ones are opened in the same wave), and a member the run already repaired and
 * read back is not asked again. Only a member where something changed is reported as an action.
 * The labels are not written here: they are collected in the context and the run writes them with
 * its other labels in one command (swarm/label-batch), off the joins' path. Members
 * outside the inventory (the Pulumi provider only knows the managers) are reached through their
 * SSH bookkeeping labels, with the host key pinned when they joined.
 */
import type { Action } from "./actions";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { departedTarget, matchMembers } from "./plan";
import { allowList, allowListHash, LABEL_FIREWALL } from "../hostfw/rules";
import { FirewallMode, parseAllowLine } from "../hostfw/script";
import { checkAndRepairProgram, INSTALLED, NOT_INSTALLED } from "../hostfw/install";
import { redact } from "../transport/redact";
import { shellQuote } from "../transport/shell";
import { SshSession, SshTarget, waitForSsh } from "../transport/ssh";
import { addLabelsBatch } from "../swarm/label-batch";
import { readNodes, type NodeFacts } from "../swarm/nodes";

/** A handful of iptables commands, and on a host cloud-init did not prepare a daemon-reload and an sshd reload. */
export const FIREWALL_COMMAND_TIMEOUT_MS = 30_000;
/** A ready member answers SSH at once; one that does not within this is reported, not waited for. */
export const FIREWALL_SSH_WAIT_MS = 20_000;
/**
 * Members updated at once: the whole wave of a 1+16 cluster and more. Each costs the client one SSH
 * handshake at most (sessions the run holds are reused) and each member a few iptables calls of
 * its own; adding a node must not cost a round trip more per 8 members (issue 24).
 */
export const FIREWALL_WAVE_CONCURRENCY = 64;

/** What a bootstrap run (./bootstrap Run) offers: sessions it holds, the key, logging, actions, problems. */
export interface AllowListRun {
  readonly sessions: Map<string, SshSession>;
  readonly problems: string[];
  readonly warnings: string[];
  readonly o: { readonly privateKeyFor: (node: InventoryNode) => string; readonly trace?: (line: string) => void };
  /** Takes a session opened for the run into `sessions`, or closes it when the run is already over. */
  keep(key: string, s: SshSession): void;
  log(line: string): void;
  act(a: Action): void;
}

export interface AllowListContext {
  readonly run: AllowListRun;
  /** Session on the manager that serves the run (reads members, writes labels). */
  readonly manager: SshSession;
  /** The inventory of the run; members outside it are reached through their labels. */
  readonly inv: Inventory;
  /** Node whose key opens members outside the inventory (every node shares the deploy key). */
  readonly keyNode: InventoryNode;
  /** Bounds the firewall wave (FIREWALL_WAVE_CONCURRENCY). */
  readonly gate: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Firewall labels to record once the run's changes are done, by member ID (see recordLabels). */
  readonly labels: FirewallLabels;
  /** Sessions being opened, by target key (see openAdmissionSessions). */
  readonly opening: Map<string, Promise<SshSession>>;
}

/** LABEL_FIREWALL values to write, by swarm node ID, with the member's name for messages. */
export type FirewallLabels = Map<string, { readonly name: string; readonly hash: string }>;

/** Lists a run already saw enforced, by session key, so a later step does not ask again. */
export type Enforced = Map<string, readonly string[]>;

/** The node's private side: its own private address (its interface admits members only) and the ranges opened there. */
export interface PrivateSideArgs {
  /** null: the node has no private interface (public-only); undefined: keep what the node saved. */
  readonly privateAddress?: string | null;
  readonly open?: readonly string[];
}

export interface FirewallResult {
  readonly before: string[];
  readonly after: string[];
  /** What the run installed or rebuilt (empty: the node was in step). */
  readonly changes: string[];
  /** What could not be installed on this host, and why (no systemd, sshd not manageable). */
  readonly notes: string[];
}

/** Check-and-repair on a node: one command, the program on stdin; returns what it enforces now. */
export async function applyFirewall(
  s: SshSession,
  mode: FirewallMode,
  addresses: readonly string[],
  side: PrivateSideArgs = {},
): Promise<FirewallResult> {
  const opts =
    side.privateAddress === undefined
      ? []
      : ["--private", side.privateAddress ?? "none", ...(side.open ?? []).flatMap((c) => ["--open", c])];
  const args = [mode, ...opts, ...addresses].map(shellQuote).join(" ");
  const r = await s.run(`sh -s -- ${args}`, {
    stdin: checkAndRepairProgram(),
    timeoutMs: FIREWALL_COMMAND_TIMEOUT_MS,
    allowFailure: true,
  });
  const mine = r.stdout;
  const after = r.code === 0 ? parseAllowLine(mine) : undefined;
  if (after === undefined)
    throw new Error(`the host firewall script failed on ${s.node} (exit ${r.code}): ${(r.stderr || mine).trim()}`);
  const was = /^was:(.*)$/m.exec(mine);
  const lines = mine.split("\n");
  return {
    before: was ? was[1].trim().split(/\s+/).filter(Boolean) : [],
    after,
    changes: lines
      .filter((l) => l.startsWith(INSTALLED) || l.startsWith("changed:"))
      .map((l) => l.replace(/^[a-z-]+: /, "")),
    notes: lines.filter((l) => l.startsWith(NOT_INSTALLED)).map((l) => l.slice(NOT_INSTALLED.length).trim()),
  };
}

/** Addresses the swarm itself uses for its members (what `docker node inspect` reports). */
function memberAddresses(ctx: AllowListContext, members: readonly NodeFacts[]): string[] {
  const list = allowList(members.map((m) => m.addr));
  for (const r of list.rejected)
    ctx.run.warnings.push(
      `a swarm member reports no usable address (${r}); it is left out of the host firewall's allow-list`,
    );
  return [...list.addresses];
}

interface Target {
  /** Key in run.sessions and in Enforced. */
  readonly key: string;
  readonly name: string;
  readonly reach: SshTarget;
  readonly keyNode: InventoryNode;
  readonly member?: NodeFacts;
  /** Inventory nodes only: members reached through their labels keep the private side they saved. */
  readonly node?: InventoryNode;
}

function sideOf(ctx: AllowListContext, t: Target): PrivateSideArgs {
  if (!t.node) return {};
  return { privateAddress: t.node.privateAddress ?? null, open: ctx.inv.firewall?.privateAllowedCidrs ?? [] };
}

/** How to reach each member: its inventory node, else its SSH bookkeeping labels. */
function targetsOf(ctx: AllowListContext, members: readonly NodeFacts[], quiet = false): Target[] {
  const byId = new Map(
    [...matchMembers(ctx.inv, members).entries()].map(([name, m]) => [
      m.id,
      ctx.inv.nodes.find((n) => n.name === name) as InventoryNode,
    ]),
  );
  const out: Target[] = [];
  for (const m of members) {
    const node = byId.get(m.id);
    if (node) {
      out.push({ key: node.name, name: node.name, reach: node, keyNode: node, member: m, node });
      continue;
    }
    const t = departedTarget(m);
    if (t) out.push({ key: `member:${m.id}`, name: t.name, reach: t, keyNode: ctx.keyNode, member: m });
    else if (!quiet)
      ctx.run.warnings.push(
        `${m.hostname || m.id} is in the swarm but neither in the inventory nor labelled with its SSH address: its host firewall cannot be kept in step, so it may drop swarm traffic from new nodes`,
      );
  }
  return out;
}

/** The run's session to a target: one it holds, one being opened (a failure there is this call's failure), else a new one. */
async function session(ctx: AllowListContext, t: Target): Promise<SshSession> {
  const open = ctx.run.sessions.get(t.key);
  if (open?.isOpen()) return open;
  const pending = ctx.opening.get(t.key);
  if (pending) {
    const s = await pending;
    if (s.isOpen()) return s;
  }
  const p = waitForSsh(t.reach, ctx.run.o.privateKeyFor(t.keyNode), {
    log: (l) => ctx.run.log(l),
    trace: ctx.run.o.trace,
    timeoutMs: FIREWALL_SSH_WAIT_MS,
  }).then((s) => {
    ctx.run.keep(t.key, s);
    return s;
  });
  ctx.opening.set(t.key, p);
  return p;
}

/** Members to update before `wanted` joins: those whose label does not show that list enforced. */
function admissionTargets(
  ctx: AllowListContext,
  members: readonly NodeFacts[],
  wanted: readonly string[],
  quiet = false,
): Target[] {
  const hash = allowListHash(wanted);
  return targetsOf(ctx, members, quiet).filter((t) => t.member?.labels[LABEL_FIREWALL] !== hash);
}

/**
 * Starts opening sessions to the members admitJoiners will reach if `candidates` join, while the
 * run is still inspecting the candidates: adding a node then waits for one wave of handshakes that
 * overlaps the inspection, not for a wave after it. A failure shows when admitJoiners uses the session.
 */
export function openAdmissionSessions(
  ctx: AllowListContext,
  members: readonly NodeFacts[],
  candidates: readonly InventoryNode[],
): void {
  if (candidates.length === 0) return;
  const wanted = allowList([...members.map((m) => m.addr), ...candidates.map((n) => n.advertiseAddress)]).addresses;
  for (const t of admissionTargets(ctx, members, wanted, true))
    if (t.member?.status === "ready") session(ctx, t).catch(() => undefined);
}

function describeChange(r: FirewallResult): string | undefined {
  const added = r.after.filter((a) => !r.before.includes(a)).map((a) => `+${a}`);
  const removed = r.before.filter((a) => !r.after.includes(a)).map((a) => `-${a}`);
  const change = [...added, ...removed].join(" ");
  if (!change && r.changes.length === 0) return undefined;
  return `swarm ports and ESP open to ${r.after.length} cluster address${r.after.length === 1 ? "" : "es"}${change ? ` (${change})` : ""}${r.changes.length ? `; ${r.changes.join("; ")}` : ""}`;
}

/**
 * Applies `mode addresses` on every target that needs it, all in one wave, and notes the label each
 * member should carry for what it enforces (written later, recordLabels). Failures on ready members are problems (the run fails at the end
 * and a re-run finishes), members that are down are warnings. One promise per target, in order,
 * each settled once that target's command has ended (never rejected).
 */
function enforceEach(
  ctx: AllowListContext,
  targets: readonly Target[],
  mode: FirewallMode,
  addresses: readonly string[],
  enforced: Enforced,
): Promise<void>[] {
  return targets.map((t) =>
    ctx.gate(async () => {
      if (t.member && t.member.status !== "ready") {
        ctx.run.warnings.push(
          `${t.name} is ${t.member.status || "not ready"} in the swarm: its host firewall was not updated; re-run bootstrap once it is back`,
        );
        return;
      }
      let s: SshSession;
      try {
        s = await session(ctx, t);
      } catch (err) {
        // Down in all but name (the swarm has not noticed yet): its label stays stale, so the next run retries.
        ctx.run.warnings.push(
          `${t.name} does not answer SSH: its host firewall was not updated; re-run bootstrap once it is back (${redact((err as Error).message)})`,
        );
        return;
      }
      try {
        const r = await applyFirewall(s, mode, addresses, sideOf(ctx, t));
        const after = r.after;
        enforced.set(t.key, after);
        const detail = describeChange(r);
        if (detail) ctx.run.act({ node: t.name, kind: "firewall", detail });
        for (const n of r.notes) ctx.run.log(`[${t.name}] host firewall: ${n}`);
        if (t.member) noteLabel(ctx, t.member, t.name, after);
      } catch (err) {
        ctx.run.problems.push(
          `the host firewall of ${t.name} could not be updated: ${redact((err as Error).message)}; re-run bootstrap`,
        );
      }
    }),
  );
}

async function enforce(
  ctx: AllowListContext,
  targets: readonly Target[],
  mode: FirewallMode,
  addresses: readonly string[],
  enforced: Enforced,
): Promise<void> {
  await Promise.all(enforceEach(ctx, targets, mode, addresses, enforced));
}

/** Remembers the label a member should carry for the list it enforces (dropped when it already does). */
function noteLabel(ctx: AllowListContext, member: NodeFacts, name: string, enforcedList: readonly string[]): void {
  const hash = allowListHash(enforcedList);
  if (member.labels[LABEL_FIREWALL] === hash) ctx.labels.delete(member.id);
  else ctx.labels.set(member.id, { name, hash });
}

/**
 * Writes the collected firewall labels, together with `extra` label updates of the run, in one
 * command (swarm/label-batch). A label that could not be written only costs the next run a
 * firewall command: it is a warning. Failures of `extra` updates are returned, by node ID.
 */
export async function recordLabels(
  ctx: AllowListContext,
  extra: ReadonlyArray<{ readonly id: string; readonly labels: Readonly<Record<string, string>> }> = [],
): Promise<Record<string, string>> {
  const byId: Record<string, Record<string, string>> = {};
  for (const u of extra) byId[u.id] = { ...u.labels };
  for (const [id, l] of ctx.labels) byId[id] = { ...(byId[id] ?? {}), [LABEL_FIREWALL]: l.hash };
  const failed: Record<string, string> = {};
  if (Object.keys(byId).length === 0) return failed;
  const outcomes = await addLabelsBatch(
    ctx.manager,
    Object.entries(byId).map(([id, labels]) => ({ id, labels })),
  );
  for (const o of outcomes) {
    if (o.error === undefined) continue;
    const fw = ctx.labels.get(o.id);
    if (fw) ctx.run.warnings.push(`could not record the firewall label on ${fw.name}: ${redact(o.error)}`);
    if (extra.some((u) => u.id === o.id)) failed[o.id] = o.error;
  }
  ctx.labels.clear();
  return failed;
}

/** The admission wave before joins (admitJoiners), under way. */
export interface Admission {
  /** What each target enforces, once its command has ended; complete once `done` settles. */
  readonly enforced: Enforced;
  /**
   * Settles when `joiner` may join: every member's command has ended, and the joiner's own. A
   * joiner needs no other joiner's: a joiner becomes a member only by joining, and it joins only
   * after its own command admitted every member and every joiner, so whoever is a member by then
   * accepts it and is accepted by it.
   */
  ready(joiner: string): Promise<void>;
  /** Settles once every command of the wave has ended (never rejects). */
  readonly done: Promise<void>;
}

/**
 * Before joins: members and joiners all accept the members' and the joiners' addresses, in one
 * wave. Returns at once; each joiner waits for what it needs (Admission.ready), not for the wave.
 */
export function admitJoiners(
  ctx: AllowListContext,
  members: readonly NodeFacts[],
  joiners: readonly InventoryNode[],
): Admission {
  const enforced: Enforced = new Map();
  if (joiners.length === 0) return { enforced, ready: () => Promise.resolve(), done: Promise.resolve() };
  const wanted = allowList([...memberAddresses(ctx, members), ...joiners.map((n) => n.advertiseAddress)]).addresses;
  const targets = admissionTargets(ctx, members, wanted);
  for (const n of joiners)
    if (!targets.some((t) => t.key === n.name))
      targets.push({ key: n.name, name: n.name, reach: n, keyNode: n, node: n });
  const each = enforceEach(ctx, targets, "add", wanted, enforced);
  // A joiner already listed in the swarm (a pending join being redone) counts as a member here.
  const membersDone = Promise.all(each.filter((_, i) => targets[i].member !== undefined));
  const own = new Map(targets.map((t, i) => [t.key, each[i]]));
  return {
    enforced,
    ready: async (joiner) => {
      await Promise.all([membersDone, own.get(joiner)]);
    },
    done: Promise.all(each).then(() => undefined),
  };
}

/**
 * After a run's changes: every member enforces the members' addresses. `exact` (a whole-inventory
 * run) also drops every other address; otherwise addresses are only added, so that a join running
 * beside this one (the Pulumi provider adds nodes in parallel) is never undone.
 */
export async function settleAllowLists(
  ctx: AllowListContext,
  exact: boolean,
  enforced: Enforced = new Map(),
  current?: readonly NodeFacts[],
): Promise<void> {
  const members = current ?? (await readNodes(ctx.manager));
  const wanted = memberAddresses(ctx, members);
  const hash = allowListHash(wanted);
  // A label is no proof (a deleted jump or a failed unit leaves it in place): only nodes this run
  // already repaired and read back are skipped.
  const done = (t: Target): boolean => {
    const seen = enforced.get(t.key);
    if (seen === undefined) return false;
    return exact ? allowListHash(seen) === hash : wanted.every((a) => seen.includes(a));
  };
  const targets = targetsOf(ctx, members);
  await enforce(
    ctx,
    targets.filter((t) => !done(t)),
    exact ? "set" : "add",
    wanted,
    enforced,
  );
  // Members that needed nothing new but whose label is missing or stale (e.g. joined this run).
  for (const t of targets)
    if (done(t) && t.member && enforced.has(t.key)) noteLabel(ctx, t.member, t.name, enforced.get(t.key) ?? []);
}

/** After a node was taken out of the swarm: no remaining member accepts its addresses any more. */
export async function dropFromAllowLists(ctx: AllowListContext, departed: readonly string[]): Promise<void> {
  const members = await readNodes(ctx.manager);
  const wanted = memberAddresses(ctx, members);
  // An address a remaining member still uses stays (a node replaced under the same address).
  const gone = allowList(departed).addresses.filter((a) => !wanted.includes(a));
  if (gone.length === 0) return;
  const hash = allowListHash(wanted);
  await enforce(
    ctx,
    targetsOf(ctx, members).filter((t) => t.member?.labels[LABEL_FIREWALL] !== hash),
    "remove",
    gone,
    new Map(),
  );
  await recordLabels(ctx);
}
