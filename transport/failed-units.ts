// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Why dockerd does not answer, when systemd knows: docker.service Requires= the host firewall unit
 * (hostfw/units.ts), so a firewall unit that failed at boot keeps dockerd down for the whole boot.
 * Waiting for `docker info` then only ends in a timeout that says "not ready"; `systemctl is-failed`
 * says which unit it is at once. A failed unit stays failed until someone starts it again, so
 * waiting longer cannot help. Pure: the script is run by waitForNodeReady (./ssh.ts).
 */
import { FIREWALL_UNIT } from "../hostfw/script";

/** Marks the script's lines in a command's output. */
export const FAILED_UNIT_MARK = "hcloud-swarm-failed-unit:";
/**
 * Units whose failure keeps dockerd down for the whole boot. Only the firewall unit: it is a oneshot
 * without Restart=, so "failed" is final. docker.service itself is not listed: with Restart=always,
 * systemd 254+ shows it "failed" for a moment between two tries (failed-before-auto-restart).
 */
export const DOCKER_PRECONDITION_UNITS = [FIREWALL_UNIT] as const;
/** Journal lines quoted per failed unit: the firewall script's last words say which rule or file it refused. */
const JOURNAL_LINES = 3;
/**
 * systemd's own lines that name no cause. Seen on a Debian 12 VM: docker.socket retries
 * docker.service, which retries the unit, until "Start request repeated too quickly"; the last
 * lines were then only these, and the cause (the script's error, or systemd's exec error) above them.
 */
const SYSTEMD_NOISE = "Start request repeated too quickly|Failed with result|Failed to start|^Starting ";

/** Prints `MARK UNIT` and the unit's last journal lines (`MARK| …`) for each failed unit; nothing without systemd. */
export const FAILED_UNITS_SCRIPT = [
  "if [ -d /run/systemd/system ]; then",
  `  for u in ${DOCKER_PRECONDITION_UNITS.join(" ")}; do`,
  `    if systemctl is-failed --quiet "$u"; then echo "${FAILED_UNIT_MARK} $u"; journalctl -u "$u" -b -o cat --no-pager 2>/dev/null | grep -vE '${SYSTEMD_NOISE}' | tail -n ${JOURNAL_LINES} | sed 's/^/${FAILED_UNIT_MARK}| /'; fi`,
  "  done",
  "fi",
].join("\n");

/** Runs `probe`; only when it fails, appends the failed units (so a ready node's output is the probe's alone). */
export function probeWithFailedUnits(probe: string): string {
  return `${probe}\nrc=$?\nif [ $rc -ne 0 ]; then\n${FAILED_UNITS_SCRIPT}\nfi\nexit $rc`;
}

export interface FailedUnit {
  readonly unit: string;
  /** The unit's last journal lines (may be empty). */
  readonly journal: readonly string[];
}

/** The failed units the script reported, in its order. */
export function parseFailedUnits(output: string): FailedUnit[] {
  const out: { unit: string; journal: string[] }[] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith(`${FAILED_UNIT_MARK}| `))
      out[out.length - 1]?.journal.push(line.slice(FAILED_UNIT_MARK.length + 2).trim());
    else if (line.startsWith(`${FAILED_UNIT_MARK} `))
      out.push({ unit: line.slice(FAILED_UNIT_MARK.length + 1).trim(), journal: [] });
  }
  return out;
}

/** Output without the script's lines. */
export function withoutFailedUnits(output: string): string {
  return output
    .split("\n")
    .filter((l) => !l.startsWith(FAILED_UNIT_MARK))
    .join("\n");
}

/** The error for a node whose dockerd cannot start because a unit failed; undefined when none did. */
export function failedUnitsError(node: string, failed: readonly FailedUnit[]): string | undefined {
  const first = failed[0];
  if (!first) return undefined;
  const log = (f: FailedUnit) => (f.journal.length > 0 ? `; its log ends: ${f.journal.join(" | ")}` : "");
  return (
    `dockerd cannot run on ${node}: ${first.unit} failed (systemctl is-failed), and docker.service Requires= it, so the node stays closed rather than open${log(first)}. ` +
    `Fix the cause (journalctl -u ${first.unit}; \`hcloud-swarm-firewall restore\` shows it), then \`systemctl start ${first.unit} docker.service\` there and re-run bootstrap`
  );
}
