/**
 * `hcloud-swarm backup`, `restore`, `recover`, `rotate` and `unlock`: wiring only; the work is in recovery/.
 */
import { Command } from "commander";
import { loadInventory } from "../inventory/inventory";
import { redact } from "../transport/redact";
import { keysFor } from "./bootstrap";
import { backup } from "../recovery/backup";
import { defaultKeyFile } from "../recovery/key-file";
import { restore } from "../recovery/restore";
import { formatActions } from "../bootstrap/actions";
import { recover } from "../recovery/recover";
import { rotate } from "../recovery/rotate";
import { runScheduleCommand } from "./backup-schedule";
import { unlock } from "../recovery/unlock";
import { defaultUnlockKeyFile, fileKeyStore } from "../recovery/unlock-key-file";

export interface BackupCommandOptions {
  readonly inventory: string;
  readonly out?: string;
  readonly schedule?: boolean;
  readonly install?: boolean;
  readonly keep?: number;
  readonly onCalendar?: string;
  readonly identity?: string;
  /** Backup key file. Default .hcloud-swarm/backup-keys/<cluster>.key. */
  readonly keyFile?: string;
  /** Unlock keys of an autolocked swarm. Default .hcloud-swarm/unlock-keys/<cluster>.key. */
  readonly unlockKeyFile?: string;
}

/** Runs backup; progress lines first, the archive's path alone on the last line. */
export async function runBackupCommand(
  opts: BackupCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<string> {
  if (opts.schedule) {
    await runScheduleCommand(opts, print);
    return "";
  }
  if (opts.install || opts.keep !== undefined || opts.onCalendar !== undefined)
    throw new Error("--install, --keep and --on-calendar go with --schedule");
  if (!opts.out) throw new Error("say where the archive goes: --out DIR (or --schedule for a timer on a manager)");
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `backup of ${opts.inventory}`);
  const started = Date.now();
  const keyFile = opts.keyFile ?? defaultKeyFile(inv.cluster ?? "hcloud-swarm");
  const unlockKeys = fileKeyStore(opts.unlockKeyFile ?? defaultUnlockKeyFile(inv.cluster ?? "hcloud-swarm"));
  const result = await backup(inv, {
    privateKeyFor,
    outDir: opts.out,
    keyFile,
    unlockKeys,
    log: (l) => print(redact(l)),
  });
  print(
    `backup of ${result.manifest.cluster} from ${result.manifest.source.node} done in ${((Date.now() - started) / 1000).toFixed(1)} s, encrypted with ${keyFile}`,
  );
  print(result.archive);
  return result.archive;
}

export interface RestoreCommandOptions {
  readonly inventory: string;
  readonly from: string;
  readonly identity?: string;
  readonly keyFile?: string;
  readonly unlockKeyFile?: string;
  readonly yes?: boolean;
  readonly force?: boolean;
  readonly otherCluster?: boolean;
}

export async function runRestoreCommand(
  opts: RestoreCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `restore of ${opts.inventory}`);
  const started = Date.now();
  const result = await restore(inv, {
    privateKeyFor,
    archivePath: opts.from,
    keyFile: opts.keyFile ?? defaultKeyFile(inv.cluster ?? "hcloud-swarm"),
    ...(opts.unlockKeyFile ? { unlockKeyFile: opts.unlockKeyFile } : {}),
    yes: opts.yes === true,
    force: opts.force === true,
    otherCluster: opts.otherCluster === true,
    log: (l) => print(redact(l)),
  });
  for (const w of result.bootstrap.warnings) print(redact(`warning: ${w}`));
  for (const w of result.volumeProblems) print(redact(`warning: pinned volume not restored: ${w}`));
  if (result.volumeProblems.length > 0) process.exitCode = 1;
  print(formatActions(result.bootstrap.actions));
  print(result.bootstrap.nodeList);
  print(
    `restored ${result.manifest.cluster} from the backup of ${result.manifest.createdAt} onto ${result.target} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

export interface RecoverCommandOptions {
  readonly inventory: string;
  readonly identity?: string;
  readonly yes?: boolean;
}

/** Runs recover; exit 1 when the configured number of managers is not back at the end. */
export async function runRecoverCommand(
  opts: RecoverCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `recover of ${opts.inventory}`);
  const started = Date.now();
  const result = await recover(inv, { privateKeyFor, yes: opts.yes === true, log: (l) => print(redact(l)) });
  if (result.actions.length > 0) print(formatActions(result.actions));
  print(result.nodeList);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (result.managersReady < result.managersWanted) {
    print(
      `recovered${result.forcedOn ? ` on ${result.forcedOn}` : ""} in ${secs} s, but only ${result.managersReady} of ${result.managersWanted} managers are ready: bring the others back with an empty swarm state (or replace them), then run recover again`,
    );
    process.exitCode = 1;
  } else
    print(
      `${result.forcedOn ? `recovered on ${result.forcedOn}` : "nothing to force"}: ${result.managersReady} of ${result.managersWanted} managers ready, in ${secs} s`,
    );
}

export interface RotateCommandOptions {
  readonly inventory: string;
  readonly identity?: string;
  readonly joinTokens?: boolean;
  readonly ca?: boolean;
  readonly unlockKey?: boolean;
  /** Where the unlock keys are kept. Default .hcloud-swarm/unlock-keys/<cluster>.key. */
  readonly unlockKeyFile?: string;
}

export async function runRotateCommand(
  opts: RotateCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  if (!opts.joinTokens && !opts.ca && !opts.unlockKey)
    throw new Error("say what to rotate: --join-tokens, --ca, --unlock-key, or several of them");
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `rotate of ${opts.inventory}`);
  const keyFile = opts.unlockKeyFile ?? defaultUnlockKeyFile(inv.cluster ?? "hcloud-swarm");
  for (const line of await rotate(inv, {
    privateKeyFor,
    joinTokens: opts.joinTokens === true,
    ca: opts.ca === true,
    ...(opts.unlockKey ? { unlockKeys: fileKeyStore(keyFile) } : {}),
    log: (l) => print(redact(l)),
  }))
    print(redact(line));
}

export interface UnlockCommandOptions {
  readonly inventory: string;
  readonly identity?: string;
  /** Unlock keys, one per line, newest first. Default .hcloud-swarm/unlock-keys/<cluster>.key. */
  readonly keyFile?: string;
}

/** Runs unlock; exit 1 when a manager stays locked or cannot be reached. */
export async function runUnlockCommand(
  opts: UnlockCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `unlock of ${opts.inventory}`);
  const keyFile = opts.keyFile ?? defaultUnlockKeyFile(inv.cluster ?? "hcloud-swarm");
  const result = await unlock(inv, { privateKeyFor, keys: fileKeyStore(keyFile), log: (l) => print(redact(l)) });
  for (const p of result.problems) print(redact(`problem: ${p}`));
  const unlocked = result.unlocked.length
    ? `unlocked ${result.unlocked.join(", ")}`
    : result.problems.length
      ? "unlocked none"
      : "no manager needed unlocking";
  print(
    `${unlocked}; ${result.open.length + result.unlocked.length} of ${result.open.length + result.unlocked.length + result.problems.length} managers open`,
  );
  if (result.problems.length > 0) process.exitCode = 1;
}

export function registerRecoveryCommands(program: Command): void {
  program
    .command("backup")
    .description(
      "Copy the swarm's Raft state as Docker documents it (dockerd stopped briefly on a non-leader manager), with a manifest, encrypted with a key kept in a 0600 file; prints the archive's path on the last line.",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .option("--out <dir>", "directory the archive is written to (created, mode 0700); required without --schedule")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option(
      "--key-file <file>",
      "backup key, generated at the first backup (default .hcloud-swarm/backup-keys/<cluster>.key)",
    )
    .option(
      "--schedule",
      "print a systemd timer and service that back the Raft state up locally on a manager, encrypted with the backup key",
    )
    .option(
      "--install",
      "with --schedule: install them on one manager (a non-leader with 3 or more) and enable the timer",
    )
    .option("--keep <n>", "with --schedule: how many local archives the manager keeps (default 7)", (v) => Number(v))
    .option("--on-calendar <spec>", "with --schedule: systemd OnCalendar expression (default daily)")
    .option(
      "--unlock-key-file <file>",
      "with autolock: the unlock keys (mode 0600) the stopped manager is unlocked with after its restart (default .hcloud-swarm/unlock-keys/<cluster>.key)",
    )
    .action(async (opts: BackupCommandOptions) => {
      await runBackupCommand(opts);
    });
  program
    .command("restore")
    .description(
      "Restore a backup onto a manager (dockerd stopped, swarm directory replaced, unlocked if locked, swarm init --force-new-cluster); the other nodes leave and rejoin through bootstrap. Asks first (or --yes).",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .requiredOption("--from <archive>", "archive written by `hcloud-swarm backup`")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--key-file <file>", "backup key (default .hcloud-swarm/backup-keys/<cluster>.key)")
    .option(
      "--unlock-key-file <file>",
      "file (mode 0600) holding the swarm's unlock key, when the backup is of an autolocked swarm",
    )
    .option("--yes", "do not ask before replacing the swarm state")
    .option("--force", "restore even though the swarm is running (its state is replaced by the backup's)")
    .option("--other-cluster", "restore a backup whose manifest names another cluster")
    .action(async (opts: RestoreCommandOptions) => {
      await runRestoreCommand(opts);
    });
  program
    .command("recover")
    .description(
      "When most managers are lost: force a new cluster on the surviving manager with the newest Raft state (asks first, or --yes), remove the lost managers' entries and rejoin the reachable nodes; run again once lost managers are back or replaced. Exit 1 while managers are missing.",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--yes", "do not ask before forcing a new cluster")
    .action(async (opts: RecoverCommandOptions) => {
      await runRecoverCommand(opts);
    });
  program
    .command("rotate")
    .description(
      "Rotate the swarm's join tokens, its CA (waits until every node has renewed its certificate) and/or the autolock unlock key; no secret is printed.",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--join-tokens", "rotate the worker and manager join tokens (joined nodes are not affected)")
    .option("--ca", "rotate the swarm CA and wait until every node has a certificate from the new root")
    .option(
      "--unlock-key",
      "rotate the autolock unlock key; the new key is kept in the unlock key file before the old one is let go",
    )
    .option(
      "--unlock-key-file <file>",
      "with --unlock-key: file (mode 0600) the unlock keys are kept in (default .hcloud-swarm/unlock-keys/<cluster>.key)",
    )
    .action(async (opts: RotateCommandOptions) => {
      await runRotateCommand(opts);
    });
  program
    .command("unlock")
    .description(
      "Unlock every locked manager of an autolocked swarm (a restarted manager stays locked until then) with the kept unlock key, over stdin; exit 1 when one stays locked.",
    )
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option(
      "--key-file <file>",
      "unlock keys, one per line, newest first, mode 0600 (default .hcloud-swarm/unlock-keys/<cluster>.key, written by bootstrap)",
    )
    .action(async (opts: UnlockCommandOptions) => {
      await runUnlockCommand(opts);
    });
}
