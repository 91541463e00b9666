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
import { latencyNote, readShape, shapeNodes } from "../local/ns/shape";
import { formatShapes, isEmptyRequest, parseShapeArgs, selectNodes, ShapeArgs } from "../local/shape";
import * as os from "os";

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
    .command("shape")
    .description("set conditions on running nodes: packet loss between nodes, a CPU cap, frozen, stalled sshd (and delay where the kernel has netem); without options, show them")
    .argument("[nodes...]", "node names, or all")
    .option("--loss <percent>", "drop this share of the packets between the node and the other nodes, e.g. 2% (0 lifts it)")
    .option("--direction <dir>", "which packets --loss drops: in, out or both", undefined)
    .option("--cpu <percent>", "cap the node's CPU at this share of one core, e.g. 20% (none lifts it)")
    .option("--freeze", "freeze every process of the node (cgroup freezer), as a stalled VM")
    .option("--thaw", "thaw a frozen node")
    .option("--stall-ssh", "stop the node's sshd and its open sessions: connections are accepted but never answered")
    .option("--resume-ssh", "resume a stalled sshd")
    .option("--delay <ms>", "add this one-way delay to the node's packets (needs netem: the VM bed)")
    .option("--jitter <ms>", "jitter around --delay")
    .option("--clear", "lift every condition on the nodes")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (names: string[], o: ShapeArgs & { dir: string }) => {
      try {
        requireLinuxRoot();
        const bed = openBed(o.dir);
        const req = parseShapeArgs(o, os.cpus().length);
        if (!isEmptyRequest(req)) {
          if (names.length === 0) throw new Error("name the nodes to shape, or all (e.g. hcloud-swarm local shape all --loss 2%)");
          const actions = await shapeNodes(bed.ctx, selectNodes(bed.nodes, names), req);
          for (const a of actions) process.stdout.write(`[${a.node}] ${a.detail}\n`);
          if (actions.length === 0) process.stdout.write("no changes: the nodes already have these conditions\n");
        }
        const shown = selectNodes(bed.nodes, names.length > 0 ? names : ["all"]);
        process.stdout.write(formatShapes(await Promise.all(shown.map((n) => readShape(bed.ctx, n))), await latencyNote()));
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
