/**
 * `npm run bench:bootstrap`: on the local test bed, prints
 * - wall time to form 1 manager + 2, 8 and 16 workers with `bootstrap` (init, encrypted ingress,
 *   parallel joins, labels) next to a plain sequential loop of `ssh … docker swarm join` on the same
 *   nodes (init + token + one join after another: the seed post done by hand);
 * - SSH connections and commands used to add one worker to each of those clusters: the manager, the
 *   new node, and one short host-firewall command on every other member (issue 8), in parallel.
 * Target (issue 4): 1+16 within 2× of 1+2.
 * Prints figures, asserts nothing. Needs root; uses its own bed and removes it, also when interrupted.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alignColumns } from "../common/columns";
import { Inventory, InventoryNode } from "../inventory/inventory";
import { bootstrap } from "../bootstrap/bootstrap";
import { sshStats } from "../transport/ssh";
import { downBed, execInNode, upBed } from "../local";

const SIZES = (process.env.BENCH_WORKERS ?? "2,8,16").split(",").map(Number);
/** Each timing is taken this often; the table shows the fastest and the slowest run. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const DIR = path.join(os.tmpdir(), "hcloud-swarm-bench", "bootstrap");
/** One command of the sequential baseline; generous, it never comes near. */
const SSH_TIMEOUT_MS = 120_000;
/** BENCH_TRACE=1 prints every bootstrap line with a timestamp to stderr, to see where time goes. */
const TRACE = process.env.BENCH_TRACE === "1";

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const span = (xs: number[]): string => (xs.length === 1 ? sec(xs[0]) : `${sec(Math.min(...xs))}–${sec(Math.max(...xs))}`);

function ssh(bedDir: string, node: InventoryNode, command: string): Promise<string> {
  const args = ["-i", node.privateKeyPath as string, "-o", `UserKnownHostsFile=${path.join(bedDir, "known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", String(node.port), `${node.user}@${node.host}`, command];
  return new Promise((resolve, reject) =>
    execFile("ssh", args, { timeout: SSH_TIMEOUT_MS }, (err, stdout, stderr) => (err ? reject(new Error(`ssh ${node.name} ${command.split(" ").slice(0, 3).join(" ")}: ${stderr}`)) : resolve(stdout.trim()))),
  );
}

/** The baseline: what the seed post does by hand, one node after another. */
async function sequentialLoop(bedDir: string, inv: Inventory): Promise<number> {
  const t = Date.now();
  const [manager, ...workers] = inv.nodes;
  const pool = inv.swarm?.defaultAddrPool ? ` --default-addr-pool ${inv.swarm.defaultAddrPool}` : "";
  await ssh(bedDir, manager, `docker swarm init --advertise-addr ${manager.advertiseAddress}${pool}`);
  const token = await ssh(bedDir, manager, "docker swarm join-token -q worker");
  for (const w of workers) await ssh(bedDir, w, `docker swarm join --token ${token} --advertise-addr ${w.advertiseAddress} ${manager.advertiseAddress}:2377`);
  return Date.now() - t;
}

async function main(): Promise<void> {
  const stop = (): void => {
    void downBed(DIR).finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const maxWorkers = Math.max(...SIZES);
  const key = (n: InventoryNode) => fs.readFileSync(n.privateKeyPath as string, "utf8");
  const rows = [["cluster", "bootstrap (parallel)", "sequential ssh loop", "add 1 worker: connections", "commands", "time"]];
  try {
    // One bed for everything: 1 manager + the largest worker count + 1 node to add.
    const bed = await upBed({ dir: DIR, nodes: maxWorkers + 2, managers: 1, install: false });
    const all = bed.inventory;
    const leaveAll = () => Promise.all(bed.nodes.map((n) => execInNode(bed.ctx, n, "docker swarm leave --force >/dev/null 2>&1; true")));
    const first = (count: number): Inventory => ({ ...all, nodes: all.nodes.slice(0, count) });
    for (const w of SIZES) {
      const boot: number[] = [];
      const loop: number[] = [];
      let add = { connections: 0, commands: 0, ms: 0 };
      for (let i = 0; i < REPEAT; i++) {
        await leaveAll();
        let t = Date.now();
        await bootstrap(first(1 + w), { privateKeyFor: key });
        boot.push(Date.now() - t);
        if (i === 0) {
          const before = sshStats();
          t = Date.now();
          const log = (l: string) => process.stderr.write(`${((Date.now() - t) / 1000).toFixed(2)} ${l}\n`);
          const r = await bootstrap(first(2 + w), { privateKeyFor: key, ...(TRACE ? { log, trace: log } : {}) });
          const after = sshStats();
          add = { connections: after.connections - before.connections, commands: after.commands - before.commands, ms: Date.now() - t };
          // The other members are only told to let the new node through their host firewalls.
          if (!r.actions.every((a) => a.node === all.nodes[1 + w].name || a.kind === "firewall")) throw new Error(`adding one worker changed other nodes: ${JSON.stringify(r.actions)}`);
        }
        await leaveAll();
        loop.push(await sequentialLoop(bed.dir, first(1 + w)));
      }
      rows.push([`1+${w}`, span(boot), span(loop), String(add.connections), String(add.commands), sec(add.ms)]);
      process.stderr.write(`1+${w} done\n`);
    }
  } finally {
    await downBed(DIR);
  }
  process.stdout.write(`bootstrap on the local test bed: ${os.cpus().length} cores, ${REPEAT} run(s) per figure (fastest–slowest)\n`);
  process.stdout.write("bootstrap also recreates ingress encrypted and labels each node; the loop only inits and joins\n");
  for (const line of alignColumns(rows)) process.stdout.write(line + "\n");
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  void downBed(DIR).finally(() => process.exit(1));
});
