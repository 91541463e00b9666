/**
 * The resilience scenarios (issue 11), run through the user's entry points (`hcloud-swarm
 * bootstrap --inventory`, `verify`) on a bed under a condition (loss, starved CPUs, latency).
 * Every scenario must end correct: the first run makes the swarm match the inventory, or it fails
 * with a message that names a node the fault was aimed at, the conditions are lifted, a second run
 * converges, and the run after it takes 0 actions. Each outcome is appended to $RESILIENCE_FIGURES
 * (JSON lines) when set, for `npm run bench:resilience`.
 */
import * as fs from "fs";
import type { Row } from "../../bench/resilience";
import { Inventory, NodeRole } from "../../inventory/inventory";
import { desiredLabels } from "../../bootstrap/plan";
import { RunResult, ShapeAction, ShapeRequest } from "../../local";
import { actionsOf, CliRun, expectSuccess, Member, members, runCli, writeInventory } from "./bootstrap-helpers";
import { sleep } from "../../common/time";

/** What the scenarios need from a bed: the namespace bed's BedFixture, or the VM bed's (test/support/vm-bed-fixture.ts). */
export interface ScenarioBed {
  readonly dir: string;
  /** Every node of the bed, as an inventory. */
  readonly inventory: Inventory;
  /** Runs a shell script on the node as root, never throwing on its exit code. */
  exec(node: string, script: string): Promise<RunResult>;
  shape(nodes: string | readonly string[], req: ShapeRequest): Promise<ShapeAction[]>;
  clearShape(): Promise<ShapeAction[]>;
  /** Power cut: every process (or the whole VM) gone, the disk kept. */
  powerOff(node: string): Promise<void>;
  /** Power back on; returns once sshd and dockerd answer. */
  powerOn(node: string): Promise<void>;
}

/** A condition held on the whole bed during a suite (re-applied before each scenario, so added nodes get it too). */
export interface Condition {
  /** Short name for the figures, e.g. "loss". */
  readonly name: string;
  /** What it is, for the figures table. */
  readonly description: string;
  apply(bed: ScenarioBed): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  /** Bed nodes in the inventory this scenario runs bootstrap with. */
  readonly nodes: readonly string[];
  /** Roles that differ from the bed's (a worker promoted to manager). Default: none. */
  readonly roles?: Readonly<Record<string, NodeRole>>;
  /** Faults set before the run (e.g. a power cut). */
  readonly before?: () => Promise<void>;
  /** A fault set mid-run, when a line of the run (the --verbose trace included) matches; the scenario fails if it never fired. */
  readonly trigger?: Trigger;
  /** The nodes a fault was aimed at: a failed run must name one of them, in a line that shows a fault's symptom. */
  readonly culprits: () => readonly string[];
  /** What this scenario's fault may truly cause beyond FAULT_SYMPTOMS. Default: nothing more. */
  readonly symptoms?: RegExp;
  /** Nodes that are legitimately not ready right after the first run (a powered-off manager). */
  readonly downAfter?: () => readonly string[];
  /** Undoes the scenario's faults (power on, thaw). */
  readonly lift?: () => Promise<void>;
}

/** After a run, members may still be settling (heartbeats every 5 s, slower on starved CPUs): the facts are read again this long. */
export const SETTLE_MS = 120_000;

/** Messages that are never true of these scenarios: they blame a healthy majority or show a bug. */
export const FALSE_MESSAGES =
  /no reachable manager is in a swarm|was not inspected|TypeError|is not a function|Cannot read propert|undefined/;

function mismatches(inv: Inventory, ms: readonly Member[], down: readonly string[]): string[] {
  const out: string[] = [];
  const names = new Set(inv.nodes.map((n) => n.name));
  for (const m of ms)
    if (!names.has(m.hostname)) out.push(`${m.hostname || m.id} is a member (${m.status}) but not in the inventory`);
  for (const n of inv.nodes) {
    const found = ms.filter((m) => m.hostname === n.name);
    if (found.length !== 1) {
      out.push(`${n.name} is listed ${found.length} times`);
      continue;
    }
    const m = found[0];
    if (m.role !== n.role) out.push(`${n.name} is a ${m.role}, the inventory says ${n.role}`);
    if (m.availability !== "active") out.push(`${n.name} is ${m.availability}`);
    if (down.includes(n.name)) continue;
    if (m.status !== "ready") out.push(`${n.name} is ${m.status}`);
    if (n.role === "manager" && !["leader", "reachable"].includes(m.managerStatus))
      out.push(`manager ${n.name} is ${m.managerStatus || "not a manager"}`);
    for (const [k, v] of Object.entries(desiredLabels(n)))
      if (m.labels[k] !== v) out.push(`${n.name} lacks label ${k}=${v}`);
  }
  if (ms.filter((m) => m.managerStatus === "leader").length !== 1)
    out.push(`${ms.filter((m) => m.managerStatus === "leader").length} leaders`);
  return out;
}

/** Waits (SETTLE_MS at most) until the swarm, read by a live manager's own docker, matches the inventory. */
export async function expectMatches(bed: ScenarioBed, inv: Inventory, down: readonly string[] = []): Promise<void> {
  const via = inv.nodes.filter((n) => n.role === "manager" && !down.includes(n.name)).map((n) => n.name);
  const deadline = Date.now() + SETTLE_MS;
  let last: string[] = [];
  for (;;) {
    for (const m of via) {
      const ms = await members(bed, m).catch(() => undefined);
      if (!ms) continue;
      last = mismatches(inv, ms, down);
      if (last.length === 0) return;
      break;
    }
    if (Date.now() > deadline)
      throw new Error(
        `the swarm does not match the inventory after ${SETTLE_MS / 1000} s: ${last.join("; ") || "no manager answered"}`,
      );
    await sleep(2_000);
  }
}

/**
 * What packet loss, a starved CPU, a powered-off, frozen or killed node truly cause, as bootstrap
 * reports it: a connection that times out, is refused, resets or closes, or a node that is down or
 * does not answer. A failure must show one of these next to the node it names: naming a node alone
 * proved nothing, since the conditions put every node under a fault.
 */
export const FAULT_SYMPTOMS =
  /timed out|timeout|handshake|ECONN\w+|EHOSTUNREACH|ETIMEDOUT|unreachable|not reachable|refused|connection (?:lost|closed|reset)|closed|did not answer|does not answer|no answer|is down|\bdown\b|not ready|unavailable/i;

/**
 * A failed run must say something true: a problem that names a node the fault was aimed at together
 * with a symptom of a fault (FAULT_SYMPTOMS or the scenario's own), and nothing known to be false.
 */
export function expectTrueFailure(run: CliRun, culprits: readonly string[], symptoms?: RegExp): void {
  const message = run.error?.message ?? "";
  expect(message).toMatch(/^bootstrap failed:/);
  expect(message).not.toMatch(FALSE_MESSAGES);
  // One problem per "  - " item (bootstrap/actions.ts); an item may run over several lines.
  const problems = message.split(/\n {2}- /).slice(1);
  const shows = (p: string) => FAULT_SYMPTOMS.test(p) || (symptoms?.test(p) ?? false);
  const named = culprits.filter((c) => problems.some((p) => new RegExp(`\\b${c}\\b`).test(p) && shows(p)));
  if (named.length === 0)
    throw new Error(
      `the failure names none of the nodes under a fault (${culprits.join(", ")}) with a symptom of that fault:\n${message}`,
    );
}

/** What the figures record per scenario; the benchmark reads the same rows (type only: importing it would run the benchmark). */
export type Outcome = Row;

export function record(o: Outcome): void {
  const file = process.env.RESILIENCE_FIGURES;
  if (file) fs.appendFileSync(file, JSON.stringify({ ...o, at: new Date().toISOString() }) + "\n");
}

/** Every run's output, for reading what happened ($RESILIENCE_LOG). */
async function runLogged(file: string, label: string, onLine?: (line: string) => void): Promise<CliRun> {
  const started = Date.now();
  const stamp = (l: string) => `${((Date.now() - started) / 1000).toFixed(2).padStart(7)} ${l}`;
  const lines: string[] = [];
  const run = await runCli(file, (l) => {
    if (process.env.RESILIENCE_LOG) lines.push(stamp(l));
    onLine?.(l);
  });
  if (process.env.RESILIENCE_LOG)
    fs.appendFileSync(
      process.env.RESILIENCE_LOG,
      `\n===== ${label}: ${run.error ? "FAILED" : "ok"} in ${((Date.now() - started) / 1000).toFixed(1)} s\n${lines.join("\n")}\n${run.error ? run.error.message : ""}\n`,
    );
  return run;
}

/** The inventory of a scenario: the bed's nodes with these names, in bed order, with any role changed. */
export function inventoryOf(
  bed: ScenarioBed,
  names: readonly string[],
  roles: Readonly<Record<string, NodeRole>> = {},
): Inventory {
  return {
    ...bed.inventory,
    nodes: bed.inventory.nodes
      .filter((n) => names.includes(n.name))
      .map((n) => (roles[n.name] ? { ...n, role: roles[n.name] } : n)),
  };
}

/** Runs one scenario to a correct end (see the module comment); returns how it went. A failure is recorded too. */
export function runScenario(bed: ScenarioBed, condition: Condition, s: Scenario): Promise<Outcome> {
  // The next scenarios need a whole bed: undo this one's faults even though it failed.
  return recordingFailure(condition, s.name, () => scenarioSteps(bed, condition, s), s.lift);
}

/** Runs a scenario's body; when it fails, a row saying so is recorded and `cleanup` runs before the error goes on. */
export async function recordingFailure(
  condition: Condition,
  scenario: string,
  body: () => Promise<Outcome>,
  cleanup?: () => Promise<unknown>,
): Promise<Outcome> {
  const started = Date.now();
  try {
    return await body();
  } catch (err) {
    record({
      condition: condition.name,
      scenario,
      passed: false,
      firstRun: `test failed: ${(err as Error).message.split("\n")[0]}`,
      runs: 0,
      seconds: (Date.now() - started) / 1000,
    });
    await cleanup?.().catch(() => undefined);
    throw err;
  }
}

async function scenarioSteps(bed: ScenarioBed, condition: Condition, s: Scenario): Promise<Outcome> {
  await condition.apply(bed);
  await s.before?.();
  const inv = inventoryOf(bed, s.nodes, s.roles);
  const file = writeInventory(bed, inv, `${condition.name}-${s.name}`);
  const started = Date.now();
  const label = `${condition.name} / ${s.name}`;
  const first = await runLogged(file, `${label} / first`, s.trigger?.onLine);
  if (s.trigger) {
    await s.trigger.done();
    if (!s.trigger.fired())
      throw new Error(`the fault of "${s.name}" never fired: no line matched its trigger\n${first.output}`);
  }
  let runs = 1;
  if (first.result) {
    await expectMatches(bed, inv, s.downAfter?.() ?? []);
    const seconds = (Date.now() - started) / 1000;
    // Idempotent under the same conditions: nothing left to do.
    expect(actionsOf(await runLogged(file, `${label} / again`))).toEqual([]);
    await s.lift?.();
    if (s.lift) {
      expectSuccess(await runLogged(file, `${label} / lifted`));
      await expectMatches(bed, inv);
    }
    const outcome = { condition: condition.name, scenario: s.name, passed: true, firstRun: "ok", runs, seconds };
    record(outcome);
    return outcome;
  }
  expectTrueFailure(first, s.culprits(), s.symptoms);
  // With every condition lifted, a re-run completes what the failed one left, and the next does nothing.
  await s.lift?.();
  await bed.clearShape();
  runs++;
  expectSuccess(await runLogged(file, `${label} / re-run, conditions lifted`));
  await expectMatches(bed, inv);
  const seconds = (Date.now() - started) / 1000;
  expect(actionsOf(await runLogged(file, `${label} / again`))).toEqual([]);
  const outcome = {
    condition: condition.name,
    scenario: s.name,
    passed: true,
    firstRun: (first.error?.message ?? "").split("\n").slice(0, 2).join(" "),
    runs,
    seconds,
  };
  record(outcome);
  return outcome;
}

export interface Trigger {
  readonly onLine: (line: string) => void;
  /** Settles once the fault is in place (at once if it never fired). */
  readonly done: () => Promise<unknown>;
  readonly fired: () => boolean;
}

/** Starts `fault` (once) when a line matches. */
export function triggerOn(pattern: RegExp, fault: () => Promise<unknown>): Trigger {
  let started: Promise<unknown> | undefined;
  return {
    onLine: (line) => {
      if (!started && pattern.test(line)) started = fault();
    },
    done: () => started ?? Promise.resolve(),
    fired: () => started !== undefined,
  };
}

/** The current leader, read by a manager's own docker. */
export async function leaderOf(bed: ScenarioBed, via: readonly string[]): Promise<string> {
  for (const m of via) {
    const leader = (await members(bed, m).catch(() => [])).find((x) => x.managerStatus === "leader");
    if (leader) return leader.hostname;
  }
  throw new Error(`no leader is listed by ${via.join(", ")}`);
}

const BASE = ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"];
const WITH_W3 = [...BASE, "worker-3"];
const MANAGERS = ["manager-1", "manager-2", "manager-3"];

/** A task on every worker (a user's workload, not the product's job), so a drain has something to wait for. */
async function holdWorkers(bed: ScenarioBed, image: string): Promise<void> {
  const exists = await bed.exec("manager-1", "docker service inspect hold >/dev/null 2>&1");
  if (exists.code === 0) return;
  const r = await bed.exec(
    "manager-1",
    `docker service create --detach --name hold --mode global --constraint node.role==worker --no-resolve-image ${image} sleep 86400`,
  );
  if (r.code !== 0) throw new Error(`docker service create hold failed: ${r.stderr}`);
}

/** Waits until the hold service runs on `node` (bounded): the drain in the next run must find a task there. */
async function holdRunsOn(bed: ScenarioBed, node: string): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const r = await bed.exec(
      "manager-1",
      "docker service ps hold --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'",
    );
    if (new RegExp(`^${node} Running`, "m").test(r.stdout)) return;
    if (Date.now() > deadline) throw new Error(`the hold service does not run on ${node}: ${r.stdout} ${r.stderr}`);
    await sleep(2_000);
  }
}

/** How a bed grows: the namespace bed starts new nodes; the VM bed boots all its VMs up front (a boot takes minutes). */
export interface Growth {
  /** Makes sure the bed has a worker-3 (not yet in any inventory). */
  readonly thirdWorker: () => Promise<void>;
  /** How 3→5 managers is done: two new manager nodes join, or two workers are promoted. */
  readonly fiveManagers: {
    readonly nodes: readonly string[];
    readonly roles?: Readonly<Record<string, NodeRole>>;
    readonly before?: () => Promise<void>;
  };
}

/**
 * The scenarios of issue 11 in the order one bed goes through them: form; add a worker; remove it
 * (a task on it to drain); 3→5→3 managers; the first manager powered off; the leader frozen mid-run
 * (while a worker is drained); the leader killed between inspect and act (while a worker joins).
 * `faulty` lists the nodes a condition itself affects, which a failure may name too.
 */
export function bootstrapScenarios(
  bed: () => ScenarioBed,
  image: string,
  growth: Growth,
  faulty: () => readonly string[],
): Scenario[] {
  const frozen = { node: "" };
  const killed = { node: "" };
  const freezeLeader = triggerOn(/\$ docker node update --availability drain /, () =>
    bed().shape(frozen.node, { frozen: true }),
  );
  const killLeader = triggerOn(/\$ docker network inspect ingress /, () => bed().powerOff(killed.node));
  const grown = growth.fiveManagers.nodes.filter(
    (n) => !BASE.includes(n) || growth.fiveManagers.roles?.[n] === "manager",
  );
  return [
    // No fault is aimed at a node here: only the condition's own may be named.
    { name: "form", nodes: BASE, culprits: faulty },
    { name: "add a worker", nodes: WITH_W3, before: growth.thirdWorker, culprits: () => ["worker-3", ...faulty()] },
    {
      name: "remove a worker",
      nodes: BASE,
      before: async () => {
        await holdWorkers(bed(), image);
        await holdRunsOn(bed(), "worker-3");
      },
      culprits: () => ["worker-3", ...faulty()],
    },
    {
      name: "3→5 managers",
      nodes: growth.fiveManagers.nodes,
      ...(growth.fiveManagers.roles ? { roles: growth.fiveManagers.roles } : {}),
      ...(growth.fiveManagers.before ? { before: growth.fiveManagers.before } : {}),
      culprits: () => [...grown, ...faulty()],
    },
    { name: "5→3 managers", nodes: BASE, culprits: () => [...grown, ...faulty()] },
    {
      name: "first manager powered off",
      nodes: WITH_W3,
      before: () => bed().powerOff("manager-1"),
      downAfter: () => ["manager-1"],
      lift: () => bed().powerOn("manager-1"),
      culprits: () => ["manager-1", "worker-3", ...faulty()],
    },
    {
      name: "leader frozen mid-run",
      nodes: BASE,
      before: async () => {
        frozen.node = await leaderOf(bed(), MANAGERS);
        await holdRunsOn(bed(), "worker-3");
      },
      trigger: freezeLeader,
      downAfter: () => [frozen.node],
      lift: async () => {
        await bed().shape(frozen.node, { frozen: false });
      },
      culprits: () => [frozen.node, "worker-3", ...faulty()],
    },
    {
      name: "leader killed between inspect and act",
      nodes: WITH_W3,
      before: async () => {
        killed.node = await leaderOf(bed(), MANAGERS);
      },
      trigger: killLeader,
      downAfter: () => [killed.node],
      lift: () => bed().powerOn(killed.node),
      culprits: () => [killed.node, "worker-3", ...faulty()],
      // Seen truly: worker-3's join went to the leader that had just died.
      symptoms: /could not join/,
    },
  ];
}

/** The namespace bed grows by starting nodes: worker-3, and manager-4 and manager-5 that join as managers. */
export function nsGrowth(
  bed: () => { readonly inventory: Inventory; addNode(role: NodeRole): Promise<{ name: string }> },
): Growth {
  const ensure = async (name: string, role: NodeRole): Promise<void> => {
    if (bed().inventory.nodes.some((n) => n.name === name)) return;
    const added = await bed().addNode(role);
    if (added.name !== name) throw new Error(`the bed added ${added.name}, the scenario expected ${name}`);
  };
  return {
    thirdWorker: () => ensure("worker-3", "worker"),
    fiveManagers: {
      nodes: [...BASE, "manager-4", "manager-5"],
      before: async () => {
        await ensure("manager-4", "manager");
        await ensure("manager-5", "manager");
      },
    },
  };
}
