/**
 * `hcloud-swarm bootstrap --inventory FILE [--identity KEYFILE]`: forms or converges the swarm the
 * inventory describes. Wiring only: the work is in bootstrap/bootstrap.ts.
 */
import { Command, Option } from "commander";
import * as fs from "fs";
import * as path from "path";
import { formatActions } from "../bootstrap/actions";
import { Inventory, InventoryNode, loadInventory } from "../inventory/inventory";
import { redact } from "../transport/redact";
import { bootstrap, BootstrapResult, JOIN_CONCURRENCY } from "../bootstrap/bootstrap";
import { throwIfProblems } from "../common/problems";
import { BootstrapPlan, formatPlan, planBootstrap } from "../bootstrap/dry-run";
import { printJson } from "./json";
import { FORCE_REMOVE_FLAG, parseForceRemove } from "../bootstrap/force-remove";

const collect = (v: string, prev: string[]): string[] => [...prev, v];
import { defaultUnlockKeyFile, fileKeyStore } from "../recovery/unlock-key-file";

export interface BootstrapCommandOptions {
  /** Inventory JSON file. Required. */
  readonly inventory: string;
  /** Private key for nodes without privateKeyPath (e.g. the Pulumi export). Default: none. */
  readonly identity?: string;
  /** Parallel SSH sessions and joins. Default JOIN_CONCURRENCY. */
  readonly concurrency?: number;
  /** Also print every remote command (secrets redacted). Default false. */
  readonly verbose?: boolean;
  /** Nodes that left the inventory to remove even though they hold a stack's pinned data (`--force-remove`, repeatable or comma-separated). Default none. */
  readonly forceRemove?: readonly string[];
  /** The old all-nodes `--force`: refused, with a message to name the node(s). */
  readonly force?: boolean;
  /** Inspect and plan only; change nothing. Default false. */
  readonly dryRun?: boolean;
  /** With dryRun: print the plan as one JSON document. Default false. */
  readonly json?: boolean;
  /** Autolock on or off (--autolock, --no-autolock). Default: the inventory's swarm.autolock, else on. */
  readonly autolock?: boolean;
  /** File (0600) the unlock keys are kept in. Default .hcloud-swarm/unlock-keys/<cluster>.key. */
  readonly unlockKeyFile?: string;
  /** Rotate the join tokens a run used (commander's --no-rotate-join-tokens sets false). Default true. */
  readonly rotateJoinTokens?: boolean;
}

/** What bootstrap does about autolock for this command: the wanted setting and the key file. */
export function autolockFor(opts: BootstrapCommandOptions, inv: Inventory): { enabled: boolean; keyFile: string } {
  return {
    enabled: opts.autolock ?? inv.swarm?.autolock ?? true,
    keyFile: opts.unlockKeyFile ?? defaultUnlockKeyFile(inv.cluster ?? "hcloud-swarm"),
  };
}

/** Reads every key the inventory needs up front, reporting all missing or unreadable keys at once. */
export function keysFor(inv: Inventory, identity: string | undefined, source: string): (node: InventoryNode) => string {
  const problems: string[] = [];
  const keys = new Map<string, string>();
  for (const n of inv.nodes) {
    const file = n.privateKeyPath ?? (identity ? path.resolve(identity) : undefined);
    if (!file) {
      problems.push(
        `${n.name} has no privateKeyPath; pass --identity KEYFILE (the private key matching the servers' SSH key)`,
      );
      continue;
    }
    if (keys.has(file)) continue;
    try {
      const text = fs.readFileSync(file, "utf8");
      if (!/-----BEGIN OPENSSH PRIVATE KEY-----|-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(text))
        problems.push(
          `${file} (key of ${n.name}) is not an OpenSSH private key; convert it with \`ssh-keygen -p -f FILE\``,
        );
      keys.set(file, text);
    } catch (err) {
      problems.push(
        `cannot read private key ${file} for ${n.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  throwIfProblems(source, problems);
  return (node) => keys.get(node.privateKeyPath ?? path.resolve(identity as string)) as string;
}

/** The nodes `--force-remove` names; the old `--force` (every node of the run) is refused. */
function forcedNodes(opts: BootstrapCommandOptions): string[] {
  const { names, problems } = parseForceRemove(opts.forceRemove ?? []);
  if (opts.force)
    problems.unshift(
      `--force no longer lets every node that holds pinned data go at once: name each node whose data may be lost, e.g. ${FORCE_REMOVE_FLAG} worker-1`,
    );
  throwIfProblems("bootstrap", problems);
  return names;
}

/** Runs the command; `print` receives every line the user sees (already redacted). */
export async function runBootstrapCommand(
  opts: BootstrapCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<BootstrapResult> {
  forcedNodes(opts);
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `bootstrap of ${opts.inventory}`);
  const started = Date.now();
  const lock = autolockFor(opts, inv);
  print(
    `bootstrapping ${inv.cluster ?? "hcloud-swarm"}: ${inv.nodes.filter((n) => n.role === "manager").length} manager(s), ${inv.nodes.filter((n) => n.role === "worker").length} worker(s)`,
  );
  const result = await bootstrap(inv, {
    privateKeyFor,
    log: (l) => print(redact(l)),
    ...(opts.verbose ? { trace: (l: string) => print(redact(l)) } : {}),
    concurrency: opts.concurrency ?? JOIN_CONCURRENCY,
    forceRemove: forcedNodes(opts),
    autolock: { enabled: lock.enabled, keys: fileKeyStore(lock.keyFile) },
    rotateJoinTokens: opts.rotateJoinTokens !== false,
  });
  for (const w of result.warnings) print(`warning: ${w}`);
  print(formatActions(result.actions));
  if (result.rotatedJoinTokens.length > 0)
    print(
      `join tokens rotated after the joins (${result.rotatedJoinTokens.join(", ")}): the tokens this run used admit no one now; --no-rotate-join-tokens keeps them`,
    );
  print(result.nodeList);
  print(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/**
 * `bootstrap --dry-run`: what a run would do, and nothing done. Progress goes to stderr so that
 * stdout holds only the plan (or, with --json, only the JSON document). Exit 1 when a run would fail.
 */
export async function runBootstrapDryRun(opts: BootstrapCommandOptions): Promise<BootstrapPlan> {
  forcedNodes(opts);
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `bootstrap of ${opts.inventory}`);
  const progress = (l: string) => console.error(redact(l));
  const plan = await planBootstrap(inv, {
    privateKeyFor,
    log: progress,
    ...(opts.verbose ? { trace: progress } : {}),
    concurrency: opts.concurrency ?? JOIN_CONCURRENCY,
    forceRemove: forcedNodes(opts),
  });
  if (opts.json)
    printJson({
      command: "bootstrap --dry-run",
      cluster: inv.cluster ?? null,
      ok: plan.problems.length === 0,
      entry: plan.entry ?? null,
      steps: plan.steps,
      problems: plan.problems.map(redact),
      warnings: plan.warnings.map(redact),
    });
  else for (const l of formatPlan(plan)) console.log(redact(l));
  if (plan.problems.length > 0) process.exitCode = 1;
  return plan;
}

export function registerBootstrapCommand(program: Command): void {
  program
    .command("bootstrap")
    .description(
      "Initialise or converge the swarm on the inventory's nodes over SSH (pinned host keys); prints the actions taken.",
    )
    .requiredOption(
      "--inventory <file>",
      "inventory JSON (from `pulumi stack output inventory`, or written by `hcloud-swarm local up`)",
    )
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--verbose", "also print every remote command (secrets are redacted)")
    .option(
      `${FORCE_REMOVE_FLAG} <node>`,
      "remove this node, which left the inventory, even though it holds a stack's pinned data (lost with it); repeatable or comma-separated, never all at once",
      collect,
      [],
    )
    .addOption(new Option("--force", "refused: name the node(s) with --force-remove").hideHelp())
    .option("--concurrency <n>", `parallel SSH sessions and joins (default ${JOIN_CONCURRENCY})`, (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64)
        throw new Error(`--concurrency must be a whole number from 1 to 64, got ${JSON.stringify(v)}`);
      return n;
    })
    .option(
      "--autolock",
      "turn autolock on (the default unless the inventory's swarm.autolock is false): managers' Raft keys encrypted at rest, a restarted manager stays locked until unlocked",
    )
    .option("--no-autolock", "turn autolock off (applied in place; the kept unlock keys are left in their file)")
    .option(
      "--unlock-key-file <file>",
      "file (mode 0600) the swarm's unlock keys are kept in and read from to unlock a locked manager (default .hcloud-swarm/unlock-keys/<cluster>.key)",
    )
    .option("--no-rotate-join-tokens", "keep the join tokens a run used (by default they are rotated after the joins)")
    .option("--dry-run", "inspect the nodes and print what a run would do; change nothing (reads over SSH only)")
    .option("--json", "with --dry-run: print the plan as one JSON document on stdout (shape: docs/reference/cli.md)")
    .action(async (opts: BootstrapCommandOptions) => {
      if (opts.json && !opts.dryRun)
        throw new Error("--json is only available with --dry-run (a real run prints its actions as they happen)");
      if (opts.dryRun) await runBootstrapDryRun(opts);
      else await runBootstrapCommand(opts);
    });
}
