/**
 * `hcloud-swarm backup --schedule [--install]`: wiring only; the unit text and the install are in
 * recovery/schedule.ts. Printing needs no cluster; installing picks the manager a backup would stop.
 */
import * as fs from "fs";
import { loadInventory } from "../inventory/inventory";
import { redact, registerSecret } from "../transport/redact";
import { keysFor } from "./bootstrap";
import { defaultKeyFile, ensureKeyFile } from "../recovery/key-file";
import { describeSchedule, installSchedule, scheduleFiles, scheduleProblems } from "../recovery/schedule";
import { openSessions } from "../recovery/sessions";
import { readNodes } from "../swarm/nodes";
import { chooseBackupSource } from "../recovery/backup-plan";
import { throwIfProblems } from "../common/problems";
import type { BackupCommandOptions } from "./recovery";

/** Archives a manager keeps by default: a week of daily runs. */
export const DEFAULT_KEEP = 7;

export async function runScheduleCommand(opts: BackupCommandOptions, print: (line: string) => void): Promise<void> {
  const inv = loadInventory(opts.inventory);
  const cluster = inv.cluster ?? "hcloud-swarm";
  const o = { cluster, keep: opts.keep ?? DEFAULT_KEEP, onCalendar: opts.onCalendar ?? "daily" };
  throwIfProblems("backup --schedule", scheduleProblems(o));
  const files = scheduleFiles(o);
  if (!opts.install) {
    print(describeSchedule(files));
    return;
  }
  const keyFile = opts.keyFile ?? defaultKeyFile(cluster);
  const { created } = ensureKeyFile(keyFile);
  if (created) print(`generated the backup key ${keyFile} (mode 0600): keep it apart from the backups`);
  // The manager gets the key's base64 text as openssl's passphrase (see the guide for the trade-off).
  const keyPass = fs.readFileSync(keyFile, "utf8").trim().split(" ")[1];
  registerSecret(keyPass);
  const privateKeyFor = keysFor(inv, opts.identity, `backup --schedule of ${opts.inventory}`);
  const managers = inv.nodes.filter((n) => n.role === "manager");
  const sessions = await openSessions(managers, privateKeyFor, (l) => print(redact(l)));
  try {
    const first = managers.find((n) => sessions.open.has(n.name));
    if (!first) throw new Error(`no manager could be reached: ${[...sessions.unreachable.values()].join("; ")}`);
    const choice = chooseBackupSource(inv, await readNodes(sessions.get(first)));
    if (choice.kind === "fail") throw new Error(`backup --schedule of ${cluster}: ${choice.problem}`);
    if (choice.pause) print(`note: ${choice.pause}`);
    for (const line of await installSchedule(sessions.get(choice.node), files, keyPass)) print(redact(line));
  } finally {
    sessions.closeAll();
  }
}
