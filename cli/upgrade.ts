/**
 * `hcloud-swarm upgrade`: rolls a change through the cluster one node at a time (rolling/), the
 * node spec's rolling changes always included. Wiring only.
 */
import { Command, InvalidArgumentError } from "commander";
import { loadInventory } from "../inventory/inventory";
import { nodeSpecProblems } from "../nodespec/spec";
import { redact } from "../transport/redact";
import { rollNodes, RollReport } from "../rolling/engine";
import { defaultUnlockKeyFile, readUnlockKeys } from "../recovery/unlock-key-file";
import type { RollRequest } from "../rolling/plan";
import { keysFor } from "./bootstrap";
import { printJson } from "./json";

export interface UpgradeCommandOptions {
  readonly inventory: string;
  readonly identity?: string;
  readonly dockerVersion?: string;
  readonly os?: boolean;
  readonly rebootIfNeeded?: boolean;
  readonly restartEngine?: boolean;
  readonly nodes?: string[];
  readonly maxUnavailable?: number;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/** Exit code when the roll stopped at a node that did not come back. */
export const EXIT_ROLL_STOPPED = 3;

function reportJson(r: RollReport): object {
  return {
    command: "upgrade",
    ok: r.plan.refusals.length === 0 && r.stopped === undefined,
    rollId: r.plan.rollId,
    resumed: r.plan.resumed,
    batches: r.plan.batches.map((b) =>
      b.map((p) => ({ node: p.name, role: p.role, steps: p.steps, estimate: p.estimate })),
    ),
    skipped: r.plan.skipped,
    downtime: r.plan.downtime,
    notes: r.plan.notes,
    refusals: r.plan.refusals,
    nodes: r.nodes,
    ...(r.stopped ? { stopped: { node: r.stopped.node, phase: r.stopped.phase, why: r.stopped.why } } : {}),
  };
}

export async function runUpgradeCommand(
  opts: UpgradeCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<RollReport> {
  const inv = loadInventory(opts.inventory);
  if (opts.dockerVersion !== undefined) {
    const bad = nodeSpecProblems({ dockerVersion: opts.dockerVersion }, "--docker-version");
    if (bad.length) throw new Error(bad.join("\n"));
  }
  const request: RollRequest = {
    restartEngine: opts.restartEngine === true,
    os: opts.os === true,
    rebootIfNeeded: opts.rebootIfNeeded === true,
    ...(opts.dockerVersion ? { dockerVersion: opts.dockerVersion } : {}),
    ...(opts.nodes?.length ? { nodes: opts.nodes } : {}),
    maxUnavailable: opts.maxUnavailable ?? inv.rolling?.maxUnavailable ?? 1,
  };
  const privateKeyFor = keysFor(inv, opts.identity, `upgrade of ${opts.inventory}`);
  // With --json the document alone goes to stdout; progress to stderr.
  const log = opts.json ? (l: string) => console.error(redact(l)) : (l: string) => print(redact(l));
  const started = Date.now();
  const unlockKeys = readUnlockKeys(defaultUnlockKeyFile(inv.cluster ?? "hcloud-swarm"));
  const report = await rollNodes(inv, request, { privateKeyFor, log, dryRun: opts.dryRun === true, unlockKeys });
  if (opts.json) printJson(reportJson(report));
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (report.plan.refusals.length) {
    log(
      `upgrade refused before touching anything (${report.plan.refusals.length} reason${report.plan.refusals.length === 1 ? "" : "s"} above)`,
    );
    process.exitCode = 1;
  } else if (report.stopped) {
    log(`upgrade stopped: ${report.stopped.message}`);
    process.exitCode = EXIT_ROLL_STOPPED;
  } else if (!opts.dryRun) {
    for (const n of report.nodes)
      log(
        `${n.node}: drain ${n.seconds.drain.toFixed(1)} s, act ${n.seconds.act.toFixed(1)} s, ready ${n.seconds.ready.toFixed(1)} s, verify ${n.seconds.verify.toFixed(1)} s`,
      );
    log(`upgrade done: ${report.nodes.length} node${report.nodes.length === 1 ? "" : "s"} rolled in ${secs} s`);
  }
  return report;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError("must be a whole number of workers, at least 1");
  return n;
}

export function registerUpgradeCommand(program: Command): void {
  program
    .command("upgrade")
    .description(
      "Roll a change through the cluster one node at a time: managers first, one at a time, keeping a Raft majority Ready; then workers, --max-unavailable at a time. Each node is drained (its tasks moved), changed, waited for until Ready with its firewall and encryption rules back, reactivated and verified. The node spec's changes that need the engine restarted (daemon.json, the Docker package) always roll. Stops at the first node that does not come back; a re-run resumes.",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option(
      "--docker-version <version>",
      "install the Docker package carrying this release (systemd hosts; refused on the namespace bed, whose engine is the host machine's)",
    )
    .option("--os", "apply Debian/Ubuntu updates (apt-get upgrade; held packages, the engine's among them, stay)")
    .option("--reboot-if-needed", "reboot a node whose updates ask for it (/var/run/reboot-required)")
    .option("--restart-engine", "restart dockerd on each node (what a daemon.json change needs); works on both beds")
    .option("--nodes <names...>", "only these nodes (inventory names)")
    .option(
      "--max-unavailable <n>",
      "workers maintained at once (default: the inventory's rolling.maxUnavailable, else 1)",
      positiveInt,
    )
    .option(
      "--dry-run",
      "print the plan (nodes in order, what happens to each, which stacks go down and for how long) and change nothing",
    )
    .option("--json", "print the plan and outcome as one JSON document on stdout; progress on stderr")
    .action(async (opts: UpgradeCommandOptions) => {
      await runUpgradeCommand(opts);
    });
}
