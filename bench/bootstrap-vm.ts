/**
 * `npm run bench:bootstrap:vm`: on the VM bed (real guest kernels, so netem works), prints the wall
 * time to form 1 manager + N workers (BENCH_WORKERS, default 8) with `bootstrap`, first with nothing
 * between the nodes and then with the nodes spread over three locations, 0.2 ms round trip inside
 * one and BENCH_RTT_MS (default 25) between them, set with `local shape --delay` inside the guests.
 * It pings across locations to show the delay is really there, and divides the extra time by the
 * round trip: about how many round trips between locations forming waits for one after another.
 * The operator's SSH sessions are not delayed (the shaping sits on the private network), so this
 * isolates what the nodes do among themselves. A form that fails is re-run once, as a user would;
 * its time counts both runs and the table says how many needed it.
 * Prints figures, asserts nothing. Needs root; uses its own bed and removes it, also when interrupted.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alignColumns } from "../common/columns";
import { BootstrapError } from "../bootstrap/actions";
import { bootstrap } from "../bootstrap/bootstrap";
import { Inventory, InventoryNode } from "../inventory/inventory";
import {
  CLEAR,
  downAnyBed,
  locationRequests,
  Locations,
  selectNodes,
  shapeVmNodes,
  upVmBed,
  vmShapeContext,
} from "../local";
import { connect, sshStats } from "../transport/ssh";

const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const RTT_MS = Number(process.env.BENCH_RTT_MS ?? 25);
/** Each timing is taken this often; the table shows fastest, median and slowest. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const DIR = path.join(os.tmpdir(), "hcloud-swarm-bench", "bootstrap-vm");
/** A command of the benchmark itself (leave, ping); a TCG guest answers in seconds. */
const EXEC_TIMEOUT_MS = 120_000;
const PINGS = 20;

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const say = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Round-robin over nbg1, fsn1, hel1 in node order, so the manager's peers sit in every location. */
function spread(nodes: readonly InventoryNode[]): Locations {
  const names = ["nbg1", "fsn1", "hel1"];
  const out: Record<string, string[]> = { nbg1: [], fsn1: [], hel1: [] };
  nodes.forEach((n, i) => out[names[i % 3]].push(n.name));
  return out;
}

async function run(n: InventoryNode, script: string): Promise<string> {
  const s = await connect(n, fs.readFileSync(n.privateKeyPath as string, "utf8"));
  try {
    return (await s.run(script, { allowFailure: true, timeoutMs: EXEC_TIMEOUT_MS })).stdout.trim();
  } finally {
    s.close();
  }
}

/** ping's "rtt min/avg/max/mdev = a/b/c/d ms" → avg, from `from` to `to` over the private network. */
async function pingMs(from: InventoryNode, to: InventoryNode): Promise<string> {
  const out = await run(from, `ping -q -c ${PINGS} -i 0.2 ${to.advertiseAddress} | tail -1`);
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(out);
  return m ? `${m[2]} ms (min ${m[1]}, max ${m[3]})` : `no answer (${out || "empty"})`;
}

interface Timing {
  readonly label: string;
  readonly ms: number[];
  /** Forms that needed a re-run to finish (the first run failed with a true message). */
  reruns: number;
  connections: number;
  commands: number;
}

/** A user whose run fails re-runs it once; the time counts both runs. A second failure ends the benchmark. */
async function form(inv: Inventory, label: string, t: Timing): Promise<void> {
  const key = (n: InventoryNode) => fs.readFileSync(n.privateKeyPath as string, "utf8");
  try {
    await bootstrap(inv, { privateKeyFor: key, log: say });
  } catch (err) {
    if (!(err instanceof BootstrapError)) throw err;
    say(`${label}: the run failed; re-running as a user would:\n${err.message}`);
    t.reruns++;
    await bootstrap(inv, { privateKeyFor: key, log: say });
  }
}

async function formRepeatedly(inv: Inventory, label: string): Promise<Timing> {
  const t: Timing = { label, ms: [], reruns: 0, connections: 0, commands: 0 };
  for (let i = 0; i < REPEAT; i++) {
    await Promise.all(inv.nodes.map((n) => run(n, "docker swarm leave --force >/dev/null 2>&1; true")));
    const before = sshStats();
    const started = Date.now();
    await form(inv, label, t);
    t.ms.push(Date.now() - started);
    const after = sshStats();
    t.connections = after.connections - before.connections;
    t.commands = after.commands - before.commands;
    say(`${label}: formed 1+${WORKERS} in ${sec(t.ms[t.ms.length - 1])}`);
  }
  return t;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function main(): Promise<void> {
  const stop = (): void => void downAnyBed(DIR).finally(() => process.exit(130));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const lines: string[] = [];
  try {
    const up = await upVmBed({ dir: DIR, nodes: 1 + WORKERS, managers: 1, log: say });
    const inv = up.inventory;
    say(`bed ready in ${sec(up.totalMs)}`);
    const [manager, far] = [inv.nodes[0], inv.nodes[1]];
    const flat = await formRepeatedly(inv, "0 ms");
    const ctx = vmShapeContext(up.bed.dir);
    for (const { node, req } of locationRequests(spread(inv.nodes), {
      inside: 0.2,
      "nbg1-fsn1": RTT_MS,
      "nbg1-hel1": RTT_MS,
      "fsn1-hel1": RTT_MS,
    })) {
      await shapeVmNodes(ctx, selectNodes(ctx.inventory.nodes, [node]), req);
    }
    lines.push(`ping ${manager.name} → ${far.name} (another location): ${await pingMs(manager, far)}`);
    const shaped = await formRepeatedly(inv, `${RTT_MS} ms between locations`);
    await shapeVmNodes(ctx, ctx.inventory.nodes, CLEAR);
    lines.push(`ping ${manager.name} → ${far.name} after the shaping was lifted: ${await pingMs(manager, far)}`);
    const rows = [
      [
        "between locations",
        "form 1+" + WORKERS + " (fastest / median / slowest)",
        "re-runs needed",
        "SSH connections",
        "commands",
      ],
    ];
    for (const t of [flat, shaped])
      rows.push([
        t.label,
        `${sec(Math.min(...t.ms))} / ${sec(median(t.ms))} / ${sec(Math.max(...t.ms))}`,
        `${t.reruns} of ${t.ms.length}`,
        String(t.connections),
        String(t.commands),
      ]);
    lines.push(...alignColumns(rows));
    const extra = median(shaped.ms) - median(flat.ms);
    const trips =
      extra > 0
        ? `, about ${(extra / RTT_MS).toFixed(0)} round trips between locations one after another`
        : ", within the spread of the runs";
    lines.push(`extra time with ${RTT_MS} ms between locations: ${sec(extra)} (median to median)${trips}`);
  } finally {
    await downAnyBed(DIR);
  }
  process.stdout.write(
    `bootstrap on the VM bed: ${os.cpus().length} cores, 1+${WORKERS} TCG VMs, ${REPEAT} run(s) per figure\n${lines.join("\n")}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  void downAnyBed(DIR).finally(() => process.exit(1));
});
