/**
 * `hcloud-swarm backup` and `hcloud-swarm restore`: wiring only; the work is in recovery/.
 */
import { Command } from "commander";
import { loadInventory } from "../inventory/inventory";
import { redact } from "../transport/redact";
import { keysFor } from "./bootstrap";
import { backup } from "../recovery/backup";
import { defaultKeyFile } from "../recovery/key-file";

export interface BackupCommandOptions {
  readonly inventory: string;
  readonly out: string;
  readonly identity?: string;
  /** Backup key file. Default .hcloud-swarm/backup-keys/<cluster>.key. */
  readonly keyFile?: string;
}

/** Runs backup; progress lines first, the archive's path alone on the last line. */
export async function runBackupCommand(opts: BackupCommandOptions, print: (line: string) => void = (l) => console.log(l)): Promise<string> {
  const inv = loadInventory(opts.inventory);
  const privateKeyFor = keysFor(inv, opts.identity, `backup of ${opts.inventory}`);
  const started = Date.now();
  const keyFile = opts.keyFile ?? defaultKeyFile(inv.cluster ?? "hcloud-swarm");
  const result = await backup(inv, { privateKeyFor, outDir: opts.out, keyFile, log: (l) => print(redact(l)) });
  print(`backup of ${result.manifest.cluster} from ${result.manifest.source.node} done in ${((Date.now() - started) / 1000).toFixed(1)} s, encrypted with ${keyFile}`);
  print(result.archive);
  return result.archive;
}

export function registerRecoveryCommands(program: Command): void {
  program
    .command("backup")
    .description("Copy the swarm's Raft state as Docker documents it (dockerd stopped briefly on a non-leader manager), with a manifest, encrypted with a key kept in a 0600 file; prints the archive's path on the last line.")
    .requiredOption("--inventory <file>", "inventory JSON of the cluster")
    .requiredOption("--out <dir>", "directory the archive is written to (created, mode 0700)")
    .option("--identity <keyfile>", "SSH private key for nodes without privateKeyPath")
    .option("--key-file <file>", "backup key, generated at the first backup (default .hcloud-swarm/backup-keys/<cluster>.key)")
    .action(async (opts: BackupCommandOptions) => {
      await runBackupCommand(opts);
    });
}
