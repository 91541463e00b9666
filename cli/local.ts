/** `hcloud-swarm local up|down|status`: the local test bed on this machine. */
import { Command, InvalidArgumentError } from "commander";
import * as os from "os";
import { printJson } from "./json";
import { alignColumns } from "../common/columns";
import {
  anyBedStatus,
  anyBedStatusJson,
  BED_RANGE,
  bedDriver,
  DEFAULT_DIR,
  downAnyBed,
  driverOf,
  formatShapes,
  isEmptyRequest,
  LOCAL_IMAGE,
  parseShapeArgs,
  requireLinuxRoot,
  type ShapeArgs,
  upAnyBed,
  VM_PUBLIC_RANGE,
} from "../local";

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return n;
}

function fail(err: unknown): never {
  process.stderr.write(`error: ${typeof err === "string" ? err : (err as Error).message}\n`);
  process.exit(1);
}

export function registerLocal(program: Command): void {
  const local = program
    .command("local")
    .description(
      `A multi-node swarm test bed on this machine (Linux, root): real sshd and dockerd per node in namespaces on ${BED_RANGE}, or with --vm real Debian VMs (qemu) on ${VM_PUBLIC_RANGE}.`,
    );

  local
    .command("up")
    .description(
      "create the nodes (removing leftovers of an earlier bed in DIR) and write DIR/inventory.json; does not form a swarm",
    )
    .option("--nodes <n>", "number of nodes", wholeNumber, 3)
    .option("--managers <m>", "how many of them are managers (the first ones)", wholeNumber, 1)
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .option(
      "--vm",
      "real Debian 12 VMs (qemu, stock kernel with ESP and IPVS), booted by cloud-init from the program's user data; minutes instead of seconds",
    )
    .option("--no-install", "do not apt-get install missing packages; just say what is missing")
    .action(async (o: { nodes: number; managers: number; dir: string; install: boolean; vm?: boolean }) => {
      const driver = bedDriver(o.vm ? "vm" : "ns");
      try {
        const bed = await upAnyBed({
          kind: driver.kind,
          dir: o.dir,
          nodes: o.nodes,
          managers: o.managers,
          install: o.install,
          log: (m) => process.stderr.write(`${m}\n`),
        });
        const rows = [
          ["NODE", "ROLE", "ADDRESS", driver.detailHeading],
          ...bed.nodes.map((n) => [n.name, n.role, n.address, n.detail]),
        ];
        process.stdout.write(`${alignColumns(rows).join("\n")}\n\n`);
        process.stdout.write(
          `${bed.nodes.length} ${driver.nodeNoun} up in ${(bed.totalMs / 1000).toFixed(1)} s, image ${LOCAL_IMAGE} on every node.\n`,
        );
        for (const n of bed.notes) process.stdout.write(`bed:       ${n}\n`);
        process.stdout.write(`inventory: ${bed.inventoryPath}\n`);
        process.stdout.write(
          `ssh:       ssh -i ${bed.privateKeyPath} -o UserKnownHostsFile=${bed.knownHostsPath} -o StrictHostKeyChecking=yes root@${bed.nodes[0].address}\n`,
        );
        for (const line of (await driver.hostKernelNotes?.()) ?? []) process.stdout.write(`kernel:    ${line}\n`);
        process.stdout.write(
          `next:      hcloud-swarm bootstrap --inventory ${bed.inventoryPath}   |   hcloud-swarm local status --dir ${o.dir}   |   hcloud-swarm local down --dir ${o.dir}\n`,
        );
      } catch (err) {
        // What was created stays for inspection; `down` removes it.
        fail(
          `${(err as Error).message}\nlogs: ${driver.logHint(o.dir)}; remove what was created with: hcloud-swarm local down --dir ${o.dir}`,
        );
      }
    });

  local
    .command("down")
    .description(
      "remove everything `up` created for DIR (either kind): VMs, processes, namespaces, cgroups, mounts, bridges, taps, iptables rules, disks and seeds; works after a crash",
    )
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      try {
        requireLinuxRoot();
        const r = await downAnyBed(o.dir);
        process.stdout.write(
          r.removed.length > 0
            ? `removed ${r.removed.join(", ")} of ${o.dir}\n`
            : `nothing of a test bed left in ${o.dir}\n`,
        );
      } catch (err) {
        fail(err);
      }
    });

  local
    .command("status")
    .description(
      "show the nodes, whether their sshd and dockerd answer, and which kernel features this machine lacks (or, for VMs, qemu and its memory)",
    )
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .option("--json", "print the status as one JSON document on stdout (shape: docs/reference/cli.md)")
    .action(async (o: { dir: string; json?: boolean }) => {
      try {
        requireLinuxRoot();
        if (o.json) printJson(await anyBedStatusJson(o.dir));
        else process.stdout.write(await anyBedStatus(o.dir));
      } catch (err) {
        fail(err);
      }
    });

  local
    .command("shape")
    .description(
      "set conditions on running nodes: packet loss between nodes, frozen; on the namespace bed a CPU cap and a stalled sshd, on the VM bed delay and jitter; without options, show them",
    )
    .argument("[nodes...]", "node names, or all")
    .option(
      "--loss <percent>",
      "drop this share of the packets between the node and the other nodes, e.g. 2% (0 lifts it)",
    )
    .option("--direction <dir>", "which packets --loss drops: in, out or both", undefined)
    .option("--cpu <percent>", "cap the node's CPU at this share of one core, e.g. 20% (none lifts it)")
    .option("--freeze", "freeze every process of the node (cgroup freezer), as a stalled VM")
    .option("--thaw", "thaw a frozen node")
    .option("--stall-ssh", "stop the node's sshd and its open sessions: connections are accepted but never answered")
    .option("--resume-ssh", "resume a stalled sshd")
    .option(
      "--delay <ms>",
      "add this one-way delay to the node's packets to the other nodes (needs netem: the VM bed), e.g. 12.5ms (0 lifts it)",
    )
    .option("--jitter <ms>", "jitter around --delay")
    .option("--to <nodes>", "the other nodes --delay applies to, comma-separated (default: all of them)")
    .option("--clear", "lift every condition on the nodes")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (names: string[], o: ShapeArgs & { dir: string }) => {
      try {
        requireLinuxRoot();
        const req = parseShapeArgs(o, os.cpus().length);
        if (!isEmptyRequest(req) && names.length === 0)
          throw new Error("name the nodes to shape, or all (e.g. hcloud-swarm local shape all --loss 2%)");
        const { actions, shapes, note } = await driverOf(o.dir).shape(o.dir, names, req);
        for (const a of actions) process.stdout.write(`[${a.node}] ${a.detail}\n`);
        if (!isEmptyRequest(req) && actions.length === 0)
          process.stdout.write("no changes: the nodes already have these conditions\n");
        process.stdout.write(formatShapes(shapes, note));
      } catch (err) {
        fail(err);
      }
    });

  local
    .command("exec")
    .description(
      "run a command on a node as root: inside its namespaces without SSH, or on a VM over the bed's SSH (put `--` before commands with options)",
    )
    .argument("<node>", "node name, e.g. manager-1")
    .argument("<command...>", "command and arguments")
    .option("--dir <dir>", "bed directory", DEFAULT_DIR)
    .action(async (node: string, command: string[], o: { dir: string }) => {
      try {
        requireLinuxRoot();
        process.exitCode = await driverOf(o.dir).exec(o.dir, node, command);
      } catch (err) {
        fail(err);
      }
    });
}
