/** `hcloud-swarm local up|down|status`: the local test bed on this machine. */
import { Command, InvalidArgumentError } from "commander";
import { spawn } from "child_process";
import { DEFAULT_DIR, openBed, upBed } from "../local/ns/bed";
import { nodeCommand } from "../local/ns/node";
import { requireLinuxRoot } from "../local/prerequisites";
import { LOCAL_IMAGE } from "../local/image";
import { detectKernelFeatures } from "../local/ns/kernel";
import { BED_RANGE } from "../local/ns/plan";
import { downBed } from "../local/ns/state";
import { bedStatus, formatStatus } from "../local/ns/status";

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return n;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function fail(err: unknown): never {
  process.stderr.write(`error: ${typeof err === "string" ? err : (err as Error).message}\n`);
  process.exit(1);
}

export function registerLocal(program: Command): void {
  const local = program
    .command("local")
    .description(`A multi-node swarm test bed on this machine: real sshd and dockerd per node in namespaces, on ${BED_RANGE} (Linux, root).`);

  local
    .command("up")
    .description("create the nodes (removing leftovers of an earlier bed in DIR) and write DIR/inventory.json; does not form a swarm")
    .option("--nodes <n>", "number of nodes", wholeNumber, 3)
    .option("--managers <m>", "how many of them are managers (the first ones)", wholeNumber, 1)
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .option("--no-install", "do not apt-get install missing packages; just say what is missing")
    .action(async (o: { nodes: number; managers: number; dir: string; install: boolean }) => {
      try {
        const bed = await upBed({ dir: o.dir, nodes: o.nodes, managers: o.managers, install: o.install, log: (m) => process.stderr.write(`${m}\n`) });
        const rows = [["NODE", "ROLE", "ADDRESS", "NETNS"], ...bed.nodes.map((n) => [n.name, n.role, n.ip, n.netns])];
        process.stdout.write(`${table(rows)}\n\n`);
        process.stdout.write(`${bed.nodes.length} nodes up in ${(bed.timings.total / 1000).toFixed(1)} s (bridge ${bed.ctx.names.bridge}, ${bed.ctx.names.subnet}), image ${LOCAL_IMAGE} on every node.\n`);
        process.stdout.write(`inventory: ${bed.inventoryPath}\n`);
        process.stdout.write(`ssh:       ssh -i ${bed.privateKeyPath} -o UserKnownHostsFile=${bed.knownHostsPath} -o StrictHostKeyChecking=yes root@${bed.nodes[0].ip}\n`);
        const missing = (await detectKernelFeatures()).filter((f) => !f.available);
        for (const f of missing) process.stdout.write(`kernel:    no ${f.name}: ${f.consequence}\n`);
        process.stdout.write(`next:      hcloud-swarm local status --dir ${o.dir}   |   hcloud-swarm local down --dir ${o.dir}\n`);
      } catch (err) {
        // What was created stays for inspection (logs in DIR/nodes/*/); `down` removes it.
        fail(`${(err as Error).message}\nlogs: ${o.dir}/nodes/<node>/{dockerd,sshd}.log; remove what was created with: hcloud-swarm local down --dir ${o.dir}`);
      }
    });

  local
    .command("down")
    .description("remove everything `up` created for DIR: processes, namespaces, cgroups, mounts, bridge, iptables rules; works after a crash")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      try {
        requireLinuxRoot();
        const r = await downBed(o.dir);
        process.stdout.write(r.removed.length > 0 ? `removed test bed ${r.removed.map((k) => `hsw${k}`).join(", ")} of ${o.dir}\n` : `nothing of a test bed left in ${o.dir}\n`);
      } catch (err) {
        fail(err);
      }
    });

  local
    .command("status")
    .description("show the nodes, whether their sshd and dockerd answer, and which kernel features this machine lacks")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      try {
        requireLinuxRoot();
        process.stdout.write(formatStatus(await bedStatus(o.dir)));
      } catch (err) {
        fail(err);
      }
    });

  local
    .command("exec")
    .description("run a command on a node, inside its namespaces as root, without SSH (put `--` before commands with options)")
    .argument("<node>", "node name, e.g. manager-1")
    .argument("<command...>", "command and arguments")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action((node: string, command: string[], o: { dir: string }) => {
      try {
        requireLinuxRoot();
        const bed = openBed(o.dir);
        const rec = bed.nodes.find((n) => n.name === node);
        if (!rec) throw new Error(`no node "${node}" in ${bed.dir}; nodes: ${bed.nodes.map((n) => n.name).join(", ")}`);
        const [cmd, ...args] = nodeCommand(bed.ctx, rec, 'exec "$@"', command);
        spawn(cmd, args, { stdio: "inherit" }).on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
      } catch (err) {
        fail(err);
      }
    });
}
