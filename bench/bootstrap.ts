/**
 * `npm run bench:bootstrap`: on the local test bed, prints
 * - wall time to form 1 manager + 2, 8 and 16 workers with `bootstrap` (init, encrypted ingress,
 *   host firewalls, parallel joins, labels) next to a plain sequential loop of `ssh … docker swarm
 *   join` on the same nodes (init + token + one join after another: the seed post done by hand);
 * - for forming, the loop, adding one worker to each of those clusters and a run that changes
 *   nothing right after (every member's host firewall is still checked live, issue 23): SSH connections,
 *   commands and round trips on the critical path (transport/ssh.ts SshStats.roundTrips: the
 *   longest chain of exchanges each started after the one before had ended; the loop's own `ssh`
 *   calls are counted the same way here, a connection and then its command each);
 * - where the first forming, adding and no-op run at each size spent its time, from bootstrap's own
 *   action lines and from every SSH exchange (transport/ssh onSshExchange): per kind (connect,
 *   inspect, firewall, join, labels, …) when the first started and the last ended;
 * - CPU per run, split between this process (the SSH client: ssh2's handshakes) and every process
 *   of the bed's nodes (sshd, the commands, dockerd: the bed's cgroup), and what the formed
 *   cluster's nodes burn doing nothing (on this bed every node shares the same cores);
 * - adding a worker is timed after every forming run (fastest–slowest);
 * - the 1-minute load average when each size started and ended (the machine may be shared).
 * Targets (issue 24): the slowest 1+16 bootstrap no slower than the fastest 1+16 loop; adding a
 * worker at 1+16 within 1.5× of 1+2, in a constant number of round trips.
 * Prints figures, asserts nothing. Needs root; uses its own bed and removes it, also when interrupted.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alignColumns } from "../common/columns";
import { Inventory, InventoryNode } from "../inventory/inventory";
import { bootstrap } from "../bootstrap/bootstrap";
import { onSshExchange, sshStats, SshExchange } from "../transport/ssh";
import { Bed, downBed, execInNode, upBed } from "../local";

const SIZES = (process.env.BENCH_WORKERS ?? "2,8,16").split(",").map(Number);
/** Each timing is taken this often; the table shows the fastest and the slowest run. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const DIR = path.join(os.tmpdir(), "hcloud-swarm-bench", "bootstrap");
/** One command of the sequential baseline; generous, it never comes near. */
const SSH_TIMEOUT_MS = 120_000;
/** BENCH_TRACE=1 prints every bootstrap line with a timestamp, then every SSH exchange (start→end, depth), to stderr. */
const TRACE = process.env.BENCH_TRACE === "1";

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const span = (xs: number[]): string =>
  xs.length === 1 ? sec(xs[0]) : `${sec(Math.min(...xs))}–${sec(Math.max(...xs))}`;

/** The loop's own `ssh` processes: each is one connection and one command, strictly one after another. */
const loopStats = { calls: 0 };

function ssh(bedDir: string, node: InventoryNode, command: string): Promise<string> {
  loopStats.calls++;
  const args = [
    "-i",
    node.privateKeyPath as string,
    "-o",
    `UserKnownHostsFile=${path.join(bedDir, "known_hosts")}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-p",
    String(node.port),
    `${node.user}@${node.host}`,
    command,
  ];
  return new Promise((resolve, reject) =>
    execFile("ssh", args, { timeout: SSH_TIMEOUT_MS }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`ssh ${node.name} ${command.split(" ").slice(0, 3).join(" ")}: ${stderr}`))
        : resolve(stdout.trim()),
    ),
  );
}

/** The baseline: what the seed post does by hand, one node after another. */
async function sequentialLoop(bedDir: string, inv: Inventory): Promise<number> {
  const t = Date.now();
  const [manager, ...workers] = inv.nodes;
  const pool = inv.swarm?.defaultAddrPool ? ` --default-addr-pool ${inv.swarm.defaultAddrPool}` : "";
  await ssh(bedDir, manager, `docker swarm init --advertise-addr ${manager.advertiseAddress}${pool}`);
  const token = await ssh(bedDir, manager, "docker swarm join-token -q worker");
  for (const w of workers)
    await ssh(
      bedDir,
      w,
      `docker swarm join --token ${token} --advertise-addr ${w.advertiseAddress} ${manager.advertiseAddress}:2377`,
    );
  return Date.now() - t;
}

interface Cost {
  connections: number;
  commands: number;
  roundTrips: number;
  ms: number;
  /** CPU of this process (the SSH client side: ssh2's handshakes and channels, the run's own code). */
  clientCpuMs: number;
  /** CPU of every process of the bed's nodes (sshd, the commands, dockerd), from the bed's cgroup; undefined where unreadable. */
  nodesCpuMs?: number;
  /** Every SSH exchange of the run, in the order they ended. */
  exchanges: SshExchange[];
  t0: number;
}

/** Total CPU used so far by the bed's nodes, in ms: cgroup v1 cpuacct, else cgroup v2 cpu.stat. */
function nodesCpu(bed: Bed): number | undefined {
  for (const h of bed.ctx.hierarchies) {
    const dir = path.join(h.mountpoint, bed.ctx.names.cgroup);
    try {
      if (h.options.split(",").includes("cpuacct"))
        return Number(fs.readFileSync(path.join(dir, "cpuacct.usage"), "utf8")) / 1e6;
      if (h.fstype === "cgroup2") {
        const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(dir, "cpu.stat"), "utf8"));
        if (m) return Number(m[1]) / 1000;
      }
    } catch {
      // not this hierarchy
    }
  }
  return undefined;
}

/** Runs `fn` and returns what it cost on the SSH transport and in CPU (nothing else may run meanwhile). */
async function measured(bed: Bed, fn: () => Promise<unknown>): Promise<Cost> {
  const exchanges: SshExchange[] = [];
  const stop = onSshExchange((e) => exchanges.push(e));
  const before = sshStats();
  const cpu = process.cpuUsage();
  const nodes = nodesCpu(bed);
  const t = Date.now();
  try {
    await fn();
  } finally {
    stop();
  }
  const after = sshStats();
  const used = process.cpuUsage(cpu);
  const nodesAfter = nodesCpu(bed);
  return {
    connections: after.connections - before.connections,
    commands: after.commands - before.commands,
    roundTrips: after.roundTrips - before.roundTrips,
    ms: Date.now() - t,
    clientCpuMs: (used.user + used.system) / 1000,
    ...(nodes !== undefined && nodesAfter !== undefined ? { nodesCpuMs: nodesAfter - nodes } : {}),
    exchanges,
    t0: t,
  };
}

/** What kind of exchange, by its command: the timeline's rows. */
function kindOf(e: SshExchange): string {
  if (e.kind === "connect") return "connect";
  const d = e.display;
  if (d.startsWith("cloud-init status")) return "inspect";
  if (d.startsWith("sh -s -- ")) return "firewall";
  if (d.startsWith("perl ") && d.includes("/swarm/join")) return "join";
  if (d.includes("docker node update")) return "labels";
  if (d.includes("docker node inspect") || d.includes("docker node ls")) return "node read";
  if (d.includes("join-token")) return "token";
  if (d.includes("swarm init")) return "init";
  if (d.includes("network")) return "ingress";
  return "other";
}

/**
 * Where a run's time went, from its SSH exchanges: per kind, how many, when the first started and
 * the last ended (seconds since the run started), and the longest single one.
 */
function timeline(c: Cost): string {
  const rows = new Map<string, SshExchange[]>();
  for (const e of [...c.exchanges].sort((a, b) => a.startedAt - b.startedAt))
    rows.set(kindOf(e), [...(rows.get(kindOf(e)) ?? []), e]);
  const at = (ms: number) => ((ms - c.t0) / 1000).toFixed(2);
  return [...rows.entries()]
    .map(([k, xs]) => {
      const first = Math.min(...xs.map((e) => e.startedAt));
      const last = Math.max(...xs.map((e) => e.endedAt));
      const longest = Math.max(...xs.map((e) => e.endedAt - e.startedAt));
      return `${k} ×${xs.length} ${at(first)}→${at(last)} (longest ${(longest / 1000).toFixed(2)})`;
    })
    .join(", ");
}

/** Each exchange on its own line, for BENCH_TRACE=1. */
function traceExchanges(label: string, c: Cost): void {
  for (const e of [...c.exchanges].sort((a, b) => a.startedAt - b.startedAt))
    process.stderr.write(
      `${label} ${((e.startedAt - c.t0) / 1000).toFixed(2)}→${((e.endedAt - c.t0) / 1000).toFixed(2)} depth ${e.depth} [${e.node}] ${e.kind === "connect" ? "connect" : e.display.split("\n")[0].slice(0, 100)}${e.ok ? "" : " (failed)"}\n`,
    );
}

/** How long the formed cluster is watched doing nothing, for its background CPU. */
const IDLE_SAMPLE_MS = 3_000;
const idleCores = (c: Cost | undefined): string =>
  c?.nodesCpuMs === undefined ? "?" : `${(c.nodesCpuMs / c.ms).toFixed(2)} cores`;

const cpu = (c: Cost): string =>
  `${(c.clientCpuMs / 1000).toFixed(1)}/${c.nodesCpuMs === undefined ? "?" : (c.nodesCpuMs / 1000).toFixed(1)} s`;

/** Collects bootstrap's action lines ("[node] kind: detail") with their time since `t0`. */
function phaseLog(t0: number, echo: boolean): { log: (l: string) => void; summary: (endMs: number) => string } {
  const seen: Record<string, number[]> = {};
  return {
    log: (l) => {
      const at = Date.now() - t0;
      if (echo) process.stderr.write(`${(at / 1000).toFixed(2)} ${l}\n`);
      const m = /^\[[^\]]+\] (init|ingress|firewall|join|label|promote|demote): /.exec(l);
      if (m) (seen[m[1]] ??= []).push(at);
    },
    summary: (endMs) => {
      const parts = Object.entries(seen).map(([k, xs]) =>
        xs.length === 1
          ? `${k} +${sec(xs[0])}`
          : `${k} ×${xs.length} +${sec(Math.min(...xs))}…+${sec(Math.max(...xs))}`,
      );
      return [...parts, `end +${sec(endMs)}`].join(", ");
    },
  };
}

const load = (): string => os.loadavg()[0].toFixed(1);

async function main(): Promise<void> {
  const stop = (): void => {
    void downBed(DIR).finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const maxWorkers = Math.max(...SIZES);
  const key = (n: InventoryNode) => fs.readFileSync(n.privateKeyPath as string, "utf8");
  const rows = [
    [
      "cluster",
      "bootstrap (parallel)",
      "sequential ssh loop",
      "form: conn/cmd/round trips",
      "form CPU client/nodes",
      "loop: conn/cmd/round trips",
      "add 1 worker: connections",
      "commands",
      "round trips",
      "time",
      "add CPU client/nodes",
      "no-op: conn/cmd/round trips",
      "no-op time",
      "bed idle CPU",
      "load avg (start→end)",
    ],
  ];
  const phases: string[] = [];
  const triple = (c: { connections: number; commands: number; roundTrips: number }) =>
    `${c.connections}/${c.commands}/${c.roundTrips}`;
  try {
    // One bed for everything: 1 manager + the largest worker count + 1 node to add.
    const bed = await upBed({ dir: DIR, nodes: maxWorkers + 2, managers: 1, install: false });
    const all = bed.inventory;
    const leaveAll = () =>
      Promise.all(bed.nodes.map((n) => execInNode(bed.ctx, n, "docker swarm leave --force >/dev/null 2>&1; true")));
    const first = (count: number): Inventory => ({ ...all, nodes: all.nodes.slice(0, count) });
    for (const w of SIZES) {
      const loadStart = load();
      const boot: number[] = [];
      const loop: number[] = [];
      const adds: number[] = [];
      let form: Cost | undefined;
      let add: Cost | undefined;
      let noop: Cost | undefined;
      let idle: Cost | undefined;
      let loopCalls = 0;
      for (let i = 0; i < REPEAT; i++) {
        await leaveAll();
        const t0 = Date.now();
        const p = phaseLog(t0, TRACE && i === 0);
        const cost = await measured(bed, () =>
          bootstrap(first(1 + w), { privateKeyFor: key, log: p.log, ...(TRACE && i === 0 ? { trace: p.log } : {}) }),
        );
        boot.push(cost.ms);
        const q = phaseLog(Date.now(), TRACE && i === 0);
        let actions: readonly { node: string; kind: string }[] = [];
        const added = await measured(bed, async () => {
          actions = (
            await bootstrap(first(2 + w), {
              privateKeyFor: key,
              log: q.log,
              ...(TRACE && i === 0 ? { trace: q.log } : {}),
            })
          ).actions;
        });
        adds.push(added.ms);
        // The other members are only told to let the new node through their host firewalls.
        if (!actions.every((a) => a.node === all.nodes[1 + w].name || a.kind === "firewall"))
          throw new Error(`adding one worker changed other nodes: ${JSON.stringify(actions)}`);
        if (i === 0) {
          form = cost;
          add = added;
          phases.push(`1+${w} forming: ${p.summary(cost.ms)}`);
          phases.push(`    SSH: ${timeline(cost)}`);
          phases.push(`1+${w} adding:  ${q.summary(added.ms)}`);
          phases.push(`    SSH: ${timeline(added)}`);
          if (TRACE) {
            traceExchanges(`1+${w} form`, cost);
            traceExchanges(`1+${w} add`, added);
          }
          // The same inventory again: nothing to change, but every member's firewall is checked.
          noop = await measured(bed, async () => {
            actions = (await bootstrap(first(2 + w), { privateKeyFor: key })).actions;
          });
          if (actions.length > 0)
            throw new Error(`a second run of the same inventory changed something: ${JSON.stringify(actions)}`);
          phases.push(`1+${w} no-op:   end +${sec(noop.ms)}`);
          phases.push(`    SSH: ${timeline(noop)}`);
          // What the formed cluster's nodes burn doing nothing (dockerd, gossip, heartbeats): every
          // run competes with it for the same cores on this bed.
          idle = await measured(bed, () => new Promise((r) => setTimeout(r, IDLE_SAMPLE_MS)));
        }
        await leaveAll();
        loopStats.calls = 0;
        loop.push(await sequentialLoop(bed.dir, first(1 + w)));
        loopCalls = loopStats.calls;
      }
      const f = form as Cost;
      const a = add as Cost;
      const z = noop as Cost;
      rows.push([
        `1+${w}`,
        span(boot),
        span(loop),
        triple(f),
        cpu(f),
        `${loopCalls}/${loopCalls}/${2 * loopCalls}`,
        String(a.connections),
        String(a.commands),
        String(a.roundTrips),
        span(adds),
        cpu(a),
        triple(z),
        sec(z.ms),
        idleCores(idle),
        `${loadStart}→${load()}`,
      ]);
      process.stderr.write(`1+${w} done\n`);
    }
  } finally {
    await downBed(DIR);
  }
  process.stdout.write(
    `bootstrap on the local test bed: ${os.cpus().length} cores, ${REPEAT} run(s) per figure (fastest–slowest)\n`,
  );
  process.stdout.write(
    "bootstrap also recreates ingress encrypted and labels each node; the loop only inits and joins\n",
  );
  for (const line of alignColumns(rows)) process.stdout.write(line + "\n");
  process.stdout.write(
    "CPU client/nodes: this process (the SSH client) / every process of the bed's nodes (sshd, commands, dockerd), first run;\n" +
      "bed idle CPU: the formed 1+N+1 cluster's nodes doing nothing for 3 s (dockerd, gossip, heartbeats)\n",
  );
  process.stdout.write(
    "where the time went (first run at each size; seconds since the run started; SSH: first start→last end per kind):\n",
  );
  for (const line of phases) process.stdout.write(`  ${line}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  void downBed(DIR).finally(() => process.exit(1));
});
