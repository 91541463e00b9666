// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Is cloud-init still setting the node up? Read from `cloud-init status --long` rather than waited
 * for blindly: `cloud-init status --wait` waits as long as the status is "not run", which on a host
 * where cloud-init is installed but never runs (disabled units, no systemd, a container, the
 * namespace bed) is forever. The script below waits only while cloud-init is really running (a
 * cloud-init process or a queued systemd job exists); the verdict says what it found.
 * Pure: the script is run by waitForNodeReady (./ssh.ts), which reports the verdict.
 */

import { SETUP_FAILED_STEP_FILE } from "../hostfw/probe";

/** Marks the script's lines in the command's output, which also carries the readiness probe's. */
export const CLOUD_INIT_MARK = "hcloud-swarm-cloud-init:";
/** Between two reads while cloud-init runs: each read starts a Python process, costly on a starved CPU. */
export const CLOUD_INIT_POLL_S = 2;

/**
 * Shell that prints `MARK absent`, or `MARK rc=<exit> waited=<0|1>` and the last status as
 * `MARK| <line>` lines. A stage counts as running only while a cloud-init process runs or systemd
 * has a cloud-init job queued (units are ordered before sshd, so a host whose sshd answers and has
 * neither will not run cloud-init in this boot).
 */
export const CLOUD_INIT_SCRIPT = [
  `if ! command -v cloud-init >/dev/null 2>&1; then echo '${CLOUD_INIT_MARK} absent'; else`,
  `live() { systemctl list-jobs --no-legend 2>/dev/null | grep -q 'cloud-\\(init\\|config\\|final\\)' || pgrep -f 'cloud-init (init|modules)' >/dev/null 2>&1; }`,
  "waited=0",
  `while :; do s=$(cloud-init status --long 2>&1); rc=$?; case "$s" in *"status: running"*|*"status: not run"*) live || break;; *) break;; esac; waited=1; sleep ${CLOUD_INIT_POLL_S}; done`,
  `echo "${CLOUD_INIT_MARK} rc=$rc waited=$waited"; printf '%s\\n' "$s" | sed 's/^/${CLOUD_INIT_MARK}| /'`,
  // The setup program (infra/cloudinit-setup.ts) records the step it stopped at; quote it.
  `if [ -s ${SETUP_FAILED_STEP_FILE} ]; then echo "${CLOUD_INIT_MARK} step: $(head -c 200 ${SETUP_FAILED_STEP_FILE} | tr -cd 'A-Za-z0-9_.-')"; fi`,
  "fi",
].join("\n");

export type CloudInitVerdict =
  /** Not installed: nothing to wait for. */
  | { readonly kind: "absent" }
  /** Finished; `degraded` when it reported recoverable errors (newer releases: exit 2, "degraded done"). */
  | { readonly kind: "done"; readonly waited: boolean; readonly degraded: boolean; readonly detail: string }
  /** Installed but switched off (marker file, kernel command line, generator). */
  | { readonly kind: "disabled"; readonly detail: string }
  /** Installed, never ran in this boot, and nothing is about to start it. */
  | { readonly kind: "not-run"; readonly detail: string }
  /** Says "running" but no process or job is left: a stage ended without finishing. */
  | { readonly kind: "abandoned"; readonly detail: string }
  /** Failed (exit 1, "status: error"). */
  | { readonly kind: "error"; readonly detail: string };

/** Reads the script's part of a command's output; undefined when the script did not run (no mark). */
export function cloudInitVerdict(output: string): CloudInitVerdict | undefined {
  const all = output.split("\n").filter((l) => l.startsWith(CLOUD_INIT_MARK));
  const stepLine = all.find((l) => l.startsWith(`${CLOUD_INIT_MARK} step: `));
  const step = stepLine?.slice(CLOUD_INIT_MARK.length + 7).trim();
  const mine = all.filter((l) => l !== stepLine);
  if (mine.length === 0) return undefined;
  if (mine[0] === `${CLOUD_INIT_MARK} absent`) return { kind: "absent" };
  const head = /rc=(\d+) waited=([01])/.exec(mine[0]);
  const lines = mine.slice(1).map((l) => l.slice(CLOUD_INIT_MARK.length + 2));
  const field = (k: string) =>
    lines
      .find((l) => l.startsWith(`${k}: `))
      ?.slice(k.length + 2)
      .trim() ?? "";
  const status = field("status");
  const rc = Number(head?.[1] ?? -1);
  const detailAt = lines.findIndex((l) => l === "detail:");
  const detail =
    [field("boot_status_code"), ...(detailAt >= 0 ? lines.slice(detailAt + 1) : [])]
      .filter((x) => x.trim() !== "")
      .join("; ") || lines.join("; ");
  if (status === "error" || rc === 1)
    return { kind: "error", detail: step ? `setup step "${step}" failed; ${detail}` : detail };
  // cloud-init's status covers this boot only, and runcmd runs once per instance: after a reboot a
  // node whose setup failed reports "done". The step file outlives the reboot, so it still decides.
  if (step)
    return {
      kind: "error",
      detail: `setup step "${step}" failed at the first boot (this boot's cloud-init reports "${status || "?"}", but runcmd runs only once, so the setup never completed)`,
    };
  if (status === "disabled") return { kind: "disabled", detail };
  if (status === "not run") return { kind: "not-run", detail };
  if (status === "running") return { kind: "abandoned", detail };
  if (status === "done" || status === "degraded done") {
    return {
      kind: "done",
      waited: head?.[2] === "1",
      degraded: rc === 2 || status === "degraded done" || /degraded/.test(field("extended_status")),
      detail,
    };
  }
  return {
    kind: "error",
    detail: `unrecognised \`cloud-init status\` output (exit ${rc}): ${lines.join("; ") || "none"}`,
  };
}

/** What waitForNodeReady logs for a verdict (undefined: nothing worth a line); errors are thrown instead. */
export function describeCloudInit(node: string, v: CloudInitVerdict): string | undefined {
  switch (v.kind) {
    case "absent":
      return undefined;
    case "done":
      return v.degraded
        ? `[${node}] cloud-init finished with recoverable errors (${v.detail})`
        : v.waited
          ? `[${node}] cloud-init finished`
          : undefined;
    case "disabled":
      return `[${node}] cloud-init is installed but disabled (${v.detail}); not waiting for it`;
    case "not-run":
      return `[${node}] cloud-init is installed but has not run in this boot, and no cloud-init process or job is pending (${v.detail}); not waiting for it`;
    case "abandoned":
      return `[${node}] cloud-init reports "running" but no cloud-init process or job is left: a stage ended without finishing (${v.detail}); not waiting for it`;
    case "error":
      return undefined;
  }
}
