// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Label changes for many nodes in one command on a manager. Issued one command each, the updates
 * queued through a single SSH session (at most a few channels at once) and the leader for seconds
 * (issue 24: ~8 s of a 15 s run at 1+8). Here a short script on the manager starts one
 * `docker node update` per node, all at once, and waits for them: one round trip whatever the
 * number of nodes.
 *
 * The retry rule is ./node-update's, carried into the script: a try that docker answers with
 * "update out of sequence" (a concurrent change of that node's spec, e.g. a node that has just
 * joined reporting its status) is tried again after a jittered UPDATE_RETRY_DELAY_MS, up to
 * UPDATE_RETRIES tries; every try is bounded by NODE_UPDATE_TIMEOUT_MS. While the swarm has no
 * leader, the whole script is run again (onLeader): adding a label is idempotent.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { onLeader } from "./leader";
import { NODE_UPDATE_TIMEOUT_MS, OUT_OF_SEQUENCE, UPDATE_RETRIES, UPDATE_RETRY_DELAY_MS } from "./node-update";

/**
 * Docker CLIs started at once on the manager. Each is a short-lived Go process; this many fit a
 * 2-vCPU manager's memory with room to spare, and a 1+16 cluster (17 nodes) still goes in one wave.
 */
export const LABEL_BATCH_WAVE = 32;
/**
 * Limit for one wave of the script. Inside it, one try that commits is bounded by
 * NODE_UPDATE_TIMEOUT_MS; out-of-sequence answers come at once and their delays add up to at most
 * UPDATE_RETRIES × 1.5 × UPDATE_RETRY_DELAY_MS (~11 s). The second NODE_UPDATE_TIMEOUT_MS covers
 * those and one slow try that was refused.
 */
export const LABEL_BATCH_WAVE_TIMEOUT_MS = 2 * NODE_UPDATE_TIMEOUT_MS;

export interface LabelUpdate {
  /** Swarm node ID. */
  readonly id: string;
  /** Labels to add or update (never removed). */
  readonly labels: Readonly<Record<string, string>>;
}

export interface LabelOutcome {
  readonly id: string;
  /** Docker's answer when the update failed for good; undefined when it was applied. */
  readonly error?: string;
}

/**
 * The script: a function `u` running one node's update with the retry rule, then one background
 * `u` per node, LABEL_BATCH_WAVE at a time. It prints `ok I` or `fail I message` per update and
 * exits non-zero (docker's messages on stderr, which onLeader reads) when any failed.
 */
export function labelBatchScript(updates: readonly LabelUpdate[]): string {
  const secs = Math.ceil(NODE_UPDATE_TIMEOUT_MS / 1000);
  const lines = [
    "u() {",
    "  i=$1; shift; n=1",
    "  while :; do",
    `    out=$(timeout -k 5 ${secs} docker node update "$@" 2>&1 >/dev/null) && { echo "ok $i"; return 0; }`,
    `    [ -n "$out" ] || out="docker node update gave no answer within ${secs} s"`,
    `    case $(printf %s "$out" | tr 'A-Z' 'a-z') in *${shellQuote(OUT_OF_SEQUENCE)}*)`,
    `      if [ "$n" -lt ${UPDATE_RETRIES} ]; then`,
    "        n=$((n + 1)); r=$(od -An -N2 -tu2 /dev/urandom | tr -dc 0-9)",
    `        ms=$((${UPDATE_RETRY_DELAY_MS} / 2 + r * ${UPDATE_RETRY_DELAY_MS} / 65536)); sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"; continue`,
    "      fi ;;",
    "    esac",
    `    printf 'fail %s %s\\n' "$i" "$(printf %s "$out" | tr '\\n' ' ')"; printf '%s\\n' "$out" >&2; return 1`,
    "  done",
    "}",
    "s=0",
  ];
  for (let start = 0; start < updates.length; start += LABEL_BATCH_WAVE) {
    const wave = updates.slice(start, start + LABEL_BATCH_WAVE);
    wave.forEach((u, k) => {
      const args = Object.entries(u.labels).map(([key, v]) => `--label-add ${shellQuote(`${key}=${v}`)}`);
      lines.push(`u ${start + k} ${args.join(" ")} ${shellQuote(u.id)} & p${k}=$!`);
    });
    lines.push(wave.map((_, k) => `wait $p${k} || s=1`).join("; "));
  }
  lines.push("exit $s");
  return lines.join("\n") + "\n";
}

/**
 * Applies every update in one command on `manager`; returns one outcome per update, in order. Only
 * a lost connection or a swarm without a leader for ELECTION_WAIT_MS throws; a node docker refuses
 * is an outcome with its error.
 */
export async function addLabelsBatch(manager: SshSession, updates: readonly LabelUpdate[]): Promise<LabelOutcome[]> {
  const todo = updates.filter((u) => Object.keys(u.labels).length > 0);
  if (todo.length === 0) return updates.map((u) => ({ id: u.id }));
  const waves = Math.ceil(todo.length / LABEL_BATCH_WAVE);
  const r = await onLeader(manager, "sh -s", {
    stdin: labelBatchScript(todo),
    allowFailure: true,
    timeoutMs: waves * LABEL_BATCH_WAVE_TIMEOUT_MS,
    display: `docker node update --label-add … on ${todo.length} node(s) at once (script on stdin)`,
  });
  const said: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(ok|fail) (\d+) ?(.*)$/.exec(line);
    const u = m ? todo[Number(m[2])] : undefined;
    if (m && u) said[u.id] = m[1] === "ok" ? "" : m[3].trim() || "failed";
  }
  return updates.map((u) => {
    if (Object.keys(u.labels).length === 0) return { id: u.id };
    const answer = said[u.id];
    if (answer === undefined)
      return {
        id: u.id,
        error: `no answer from the label script on ${manager.node} (exit ${r.code}): ${r.stderr.trim() || "no output"}`,
      };
    return answer === "" ? { id: u.id } : { id: u.id, error: answer };
  });
}
