/**
 * The one program cloud-init's runcmd runs: every setup step in order, stopping at the first that
 * fails, with the failed step's name in cloud-init's output and in SETUP_FAILED_STEP_FILE (which
 * bootstrap quotes and verify reports). cloud-init runs runcmd as one plain sh script in which
 * only the last command's status counted; this program exits non-zero at the first failure, so
 * `cloud-init status` ends in `error`. The firewall goes first: nothing after it runs open. Pure.
 */
import { SETUP_FAILED_STEP_FILE } from "../hostfw/probe";
import { FIREWALL_UNIT } from "../hostfw/script";
import { SSHD_RELOAD } from "../hostfw/units";

export const SETUP_PATH = "/usr/local/sbin/hcloud-swarm-setup";
export const SSHD_STEP_PATH = "/usr/local/sbin/hcloud-swarm-sshd";

export interface SetupStep {
  /** Short name, quoted by bootstrap and verify: "firewall", "kernel-modules", … */
  readonly name: string;
  readonly argv: readonly string[];
}

/** The steps, in order. `docker` is the engine's install or check (dockerOnImage). */
export function setupSteps(dockerStep: string): SetupStep[] {
  return [
    // daemon-reload first: systemd read docker.service before cloud-init wrote its drop-in.
    { name: "firewall", argv: ["firewall_step"] },
    { name: "sshd", argv: [SSHD_STEP_PATH] },
    { name: "kernel-modules", argv: ["/usr/local/sbin/hcloud-swarm-modules"] },
    { name: "docker", argv: [dockerStep] },
  ];
}

/** Step names and paths are ours (no quoting needed); the check below keeps it that way. */
function word(w: string): string {
  if (!/^[A-Za-z0-9_./@:=-]+$/.test(w)) throw new Error(`setup step word ${JSON.stringify(w)} needs quoting`);
  return w;
}

/** `stepFile` is a parameter so tests can run the program for real without touching /var/lib. */
export function setupScript(steps: readonly SetupStep[], stepFile: string = SETUP_FAILED_STEP_FILE): string {
  return [
    "#!/bin/sh",
    "# hcloud-swarm node setup (generated, infra/cloudinit-setup.ts): stops at the first failed step.",
    "set -u",
    `STEP_FILE=${word(stepFile)}`,
    'mkdir -p "$(dirname "$STEP_FILE")"',
    'rm -f "$STEP_FILE"',
    // An image that starts dockerd itself has it running before this; the reload makes the drop-in count from now on.
    // Docker CE's package brings iptables, but the firewall comes first: a minimal image may lack it.
    "firewall_step() {",
    "  command -v iptables-restore >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iptables; } || return 1",
    `  systemctl daemon-reload && systemctl enable --now ${FIREWALL_UNIT}`,
    "}",
    "step() {",
    "  name=$1; shift",
    '  echo "hcloud-swarm: setup step $name"',
    '  if "$@"; then return 0; fi',
    '  echo "$name" > "$STEP_FILE"',
    '  echo "hcloud-swarm: setup step \\"$name\\" failed; the steps after it did not run" >&2',
    "  exit 1",
    "}",
    ...steps.map((s) => `step ${word(s.name)} ${s.argv.map(word).join(" ")}`),
    'echo "hcloud-swarm: setup done"',
    "",
  ].join("\n");
}

/** sshd reads the hardening drop-in cloud-init wrote; validate, then reload the daemon if it runs (hostfw/units.ts SSHD_RELOAD). */
export function sshdStepScript(): string {
  return ["#!/bin/sh", "set -eu", "PATH=$PATH:/usr/sbin", "sshd -t", SSHD_RELOAD, ""].join("\n");
}
