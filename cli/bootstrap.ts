/**
 * `hcloud-swarm bootstrap --inventory FILE [--identity KEYFILE]`: forms or converges the swarm the
 * inventory describes. Wiring only: the work is in bootstrap/bootstrap.ts.
 */
import { Command } from "commander";
import * as fs from "fs";
import * as path from "path";
import { formatActions } from "../bootstrap/actions";
import { Inventory, InventoryNode, loadInventory } from "../inventory/inventory";
import { redact } from "../transport/redact";
import { bootstrap, BootstrapResult, JOIN_CONCURRENCY } from "../bootstrap/bootstrap";
import { throwIfProblems } from "../common/problems";

export interface BootstrapCommandOptions {
  /** Inventory JSON file. Required. */
  readonly inventory: string;
  /** Private key for nodes without privateKeyPath (e.g. the Pulumi export). Default: none. */
  readonly identity?: string;
  /** Parallel SSH sessions and joins. Default JOIN_CONCURRENCY. */
  readonly concurrency?: number;
  /** Also print every remote command (secrets redacted). Default false. */
  readonly verbose?: boolean;
  /** Remove nodes that left the inventory even when they hold a stack's pinned data. Default false. */
  readonly force?: boolean;
}

/** Reads every key the inventory needs up front, reporting all missing or unreadable keys at once. */
export function keysFor(inv: Inventory, identity: string | undefined, source: string): (node: InventoryNode) => string {
  const problems: string[] = [];
  const keys = new Map<string, string>();
  for (const n of inv.nodes) {
    const file = n.privateKeyPath ?? (identity ? path.resolve(identity) : undefined);
    if (!file) {
      problems.push(`${n.name} has no privateKeyPath; pass --identity KEYFILE (the private key matching the servers' SSH key)`);
      continue;
    }
    if (keys.has(file)) continue;
    try {
      const text = fs.readFileSync(file, "utf8");
      if (!/-----BEGIN OPENSSH PRIVATE KEY-----|-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(text)) problems.push(`${file} (key of ${n.name}) is not an OpenSSH private key; convert it with \`ssh-keygen -p -f FILE\``);
      keys.set(file, text);
    } catch (err) {
      problems.push(`cannot read private key ${file} for ${n.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  throwIfProblems(source, problems);
  return (node) => keys.get(node.privateKeyPath ?? path.resolve(identity as string)) as string;
}

/** Runs the command; `print` receives every line the user sees (already redacted). */
export async function runBootstrapCommand(opts: BootstrapCommandOptions, print: (line: string) => void = (l) => console.log(l)): Promise<BootstrapResult> {
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `bootstrap of ${opts.inventory}`);
  const started = Date.now();
  print(`bootstrapping ${inv.cluster ?? "hcloud-swarm"}: ${inv.nodes.filter((n) => n.role === "manager").length} manager(s), ${inv.nodes.filter((n) => n.role === "worker").length} worker(s)`);
  const result = await bootstrap(inv, { privateKeyFor, log: (l) => print(redact(l)), ...(opts.verbose ? { trace: (l: string) => print(redact(l)) } : {}), concurrency: opts.concurrency ?? JOIN_CONCURRENCY, force: opts.force === true });
  for (const w of result.warnings) print(`warning: ${w}`);
  print(formatActions(result.actions));
  print(result.nodeList);
  print(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

export function registerBootstrapCommand(program: Command): void {
  program
    .command("bootstrap")
    .description("Initialise or converge the swarm on the inventory's nodes over SSH (pinned host keys); prints the actions taken.")
    .requiredOption("--inventory <file>", "inventory JSON (from `pulumi stack output inventory`, or written by `hcloud-swarm local up`)")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--verbose", "also print every remote command (secrets are redacted)")
    .option("--force", "remove nodes that left the inventory even when they hold a stack's pinned data (it is lost)")
    .option("--concurrency <n>", `parallel SSH sessions and joins (default ${JOIN_CONCURRENCY})`, (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--concurrency must be a whole number from 1 to 64, got ${JSON.stringify(v)}`);
      return n;
    })
    .action(async (opts: BootstrapCommandOptions) => {
      await runBootstrapCommand(opts);
    });
}
