// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * `docker node update`, as bootstrap (roles, drain, inventory labels) and stack deploy (placement
 * pins) both run it on a manager. It lives below both rooms so there is one retry rule.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { sleep } from "../common/time";
import { onLeader } from "./leader";

/**
 * Node updates read the spec version and write it back; a concurrent change (a node that has just
 * joined reports its status several times in its first seconds, a demotion still being applied)
 * makes docker answer "update out of sequence". Re-reading and retrying is the cure; short, jittered
 * retries keep a freshly joined batch from queueing up behind one another (up to ~8 s in all).
 */
export const UPDATE_RETRIES = 30;
export const UPDATE_RETRY_DELAY_MS = 250;
/**
 * One try of a node update, docker's commit included. The transport's 60 s default was too short
 * on one TCG manager labelling 8 workers that had just joined from 25 ms away: 7 of 9 updates ran
 * past it, and on the next run they ended up to 135 s after the joins (bench:bootstrap:vm). A
 * manager slower than this is reported, not waited for.
 */
export const NODE_UPDATE_TIMEOUT_MS = 180_000;
/** Docker's answer to a concurrent spec change (lower case; matched case-insensitively). */
export const OUT_OF_SEQUENCE = "update out of sequence";

/** Runs a node update on a manager, retrying while docker reports a concurrent spec change (and waiting out an election). */
export async function nodeUpdate(manager: SshSession, command: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await onLeader(manager, command, { allowFailure: true, timeoutMs: NODE_UPDATE_TIMEOUT_MS });
    if (r.code === 0) return;
    if (!r.stderr.toLowerCase().includes(OUT_OF_SEQUENCE) || attempt >= UPDATE_RETRIES)
      throw new Error(`${command} failed on ${manager.node} (exit ${r.code}): ${r.stderr}`);
    await sleep(UPDATE_RETRY_DELAY_MS * (0.5 + Math.random()));
  }
}

/** Adds or updates labels on a node (never removes one). */
export async function addLabels(
  manager: SshSession,
  id: string,
  labels: Readonly<Record<string, string>>,
): Promise<void> {
  const args = Object.entries(labels)
    .map(([k, v]) => `--label-add ${shellQuote(`${k}=${v}`)}`)
    .join(" ");
  await nodeUpdate(manager, `docker node update ${args} ${shellQuote(id)}`);
}
