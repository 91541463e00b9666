// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The node reconcile step over SSH: inspect (one command, ./plan READ_SCRIPT), decide (./plan),
 * act (one command for every file, the Docker package through apt), report the changes made. A
 * node already in step costs one command and gets nothing written. Bootstrap runs it on every node
 * with `rolling: false`; the rolling engine runs it on a drained node with `rolling: true`.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { Change, NodeState, parseNodeState, planReconcile, READ_SCRIPT, recordChange } from "./plan";
import { MATCH_MODULES, NodeSpec, OPTIONAL_MODULES, packageCarries, REQUIRED_MODULES, specLabel } from "./spec";

/** Reading a few files and asking dpkg and docker: seconds; a minute means the node is stuck. */
export const RECONCILE_READ_TIMEOUT_MS = 60_000;
/** Writing files and loading modules. */
export const RECONCILE_WRITE_TIMEOUT_MS = 60_000;
/** apt-get update, the package download and dpkg (which restarts the engine) on a slow mirror. */
export const DOCKER_INSTALL_TIMEOUT_MS = 600_000;

export interface ReconcileOptions {
  /** The node is drained: rolling changes (daemon.json, the Docker package) are applied too. Default false. */
  readonly rolling?: boolean;
  /** Docker release to install instead of the spec's (`upgrade --docker-version`). */
  readonly dockerVersion?: string;
  /** Record the spec on the node once it runs it. False when no spec was given (nothing to record). Default true. */
  readonly record?: boolean;
}

export interface ReconcileResult {
  /** Changes made, in order. */
  readonly applied: readonly Change[];
  /** Rolling changes left for the rolling engine (only when not `rolling`). */
  readonly pending: readonly Change[];
  /** What this host cannot change, and why. */
  readonly notes: readonly string[];
  /** The engine must restart to take a change (daemon.json written by a rolling run). */
  readonly restartEngine: boolean;
  /** The LABEL_SPEC value the node now runs; undefined while something is pending. */
  readonly label?: string;
  readonly state: NodeState;
}

/** Inspects the node; changes nothing. */
export async function readNodeState(s: SshSession): Promise<NodeState> {
  const r = await s.run(READ_SCRIPT, { timeoutMs: RECONCILE_READ_TIMEOUT_MS, display: "read the node spec's files" });
  return parseNodeState(r.stdout);
}

/** One sh program writing every file atomically; with the modules file, it loads the modules too. */
export function writeProgram(changes: readonly Change[]): string {
  const lines = [
    "set -eu",
    'w() { mkdir -p "$(dirname "$1")"; base64 -d > "$1.hsw-new" <<EOF\n$3\nEOF\nchmod "$2" "$1.hsw-new"; mv -f "$1.hsw-new" "$1"; }',
  ];
  for (const c of changes) {
    if (c.path === undefined || c.content === undefined) continue;
    // Paths are ours; only $HOME is expanded (authorized_keys of the SSH user).
    if (!/^(\$HOME)?[A-Za-z0-9_./-]+$/.test(c.path)) throw new Error(`reconcile path ${c.path} needs quoting`);
    if (c.path.startsWith("$HOME/.ssh/")) lines.push('mkdir -p -m 700 "$HOME/.ssh"');
    lines.push(`w "${c.path}" ${c.mode ?? "0644"} ${Buffer.from(c.content).toString("base64")}`);
    if (c.item === "kernel-modules") {
      lines.push(
        `for m in ${[...REQUIRED_MODULES, ...OPTIONAL_MODULES].join(" ")}; do modprobe "$m" 2>/dev/null || true; done`,
      );
      lines.push(`for m in ${MATCH_MODULES.join(" ")}; do modprobe "$m" 2>/dev/null || true; done`);
    }
  }
  return lines.join("\n") + "\n";
}

async function writeFiles(s: SshSession, changes: readonly Change[]): Promise<void> {
  if (!changes.some((c) => c.path !== undefined)) return;
  await s.run("sh -s", {
    stdin: writeProgram(changes),
    timeoutMs: RECONCILE_WRITE_TIMEOUT_MS,
    display: `write ${changes.map((c) => c.item).join(", ")}`,
  });
}

/**
 * Installs the `pkg` version that carries Docker release `want` from the node's apt sources (held,
 * so unattended upgrades leave it), and moves Docker CE's apt pin to it. dpkg restarts the engine.
 */
export async function installDockerRelease(s: SshSession, pkg: string, want: string): Promise<string> {
  const env = "DEBIAN_FRONTEND=noninteractive";
  const list = await s.run(`${env} apt-get update -q >/dev/null && apt-cache madison ${shellQuote(pkg)}`, {
    timeoutMs: DOCKER_INSTALL_TIMEOUT_MS,
    display: `apt-get update; apt-cache madison ${pkg}`,
  });
  const versions = list.stdout
    .split("\n")
    .map((l) => l.split("|").map((x) => x.trim()))
    .filter((p) => p[0] === pkg && p[1]);
  const found = versions.find((p) => packageCarries(p[1], want))?.[1];
  if (!found)
    throw new Error(
      `no ${pkg} package carrying Docker ${want} in ${s.node}'s apt sources (they offer: ${versions.map((p) => p[1]).join(", ") || "none"})`,
    );
  const extra = pkg === "docker-ce" ? ` docker-ce-cli=${shellQuote(found)}` : "";
  const pin = "/etc/apt/preferences.d/docker-ce";
  const epoch = /^(\d+):/.exec(found)?.[1];
  await s.run(
    [
      "set -e",
      `if [ -f ${pin} ] && [ -n ${shellQuote(epoch ?? "")} ]; then sed -i 's/^Pin: version .*/Pin: version ${epoch}:${want}-*/' ${pin}; fi`,
      `apt-mark unhold ${shellQuote(pkg)} >/dev/null 2>&1 || true`,
      `${env} apt-get install -y -q --allow-downgrades --allow-change-held-packages -o Dpkg::Options::=--force-confold ${shellQuote(`${pkg}=${found}`)}${extra}`,
      `apt-mark hold ${shellQuote(pkg)} >/dev/null`,
    ].join("\n"),
    { timeoutMs: DOCKER_INSTALL_TIMEOUT_MS, display: `apt-get install ${pkg}=${found}` },
  );
  return found;
}

/** Inspect, act, report. Never applies a rolling change unless `rolling`. */
export async function reconcileNode(s: SshSession, spec: NodeSpec, o: ReconcileOptions = {}): Promise<ReconcileResult> {
  const state = await readNodeState(s);
  const plan = planReconcile(state, spec, o.dockerVersion);
  const now = plan.changes.filter((c) => o.rolling || !c.rolling);
  const pending = plan.changes.filter((c) => !o.rolling && c.rolling);
  const applied: Change[] = [];
  await writeFiles(s, now);
  applied.push(...now.filter((c) => c.path !== undefined));
  for (const c of now)
    if (c.docker) {
      const v = await installDockerRelease(s, c.docker.pkg, c.docker.want);
      applied.push({ ...c, detail: `${c.docker.pkg} ${v} installed (was ${state.pkg?.version ?? "?"})` });
    }
  const restartEngine = applied.some((c) => c.restartEngine);
  // The spec is recorded only once the node runs it: nothing pending, and no restart still owed.
  if (pending.length === 0 && !restartEngine && (o.dockerVersion ?? spec.dockerVersion) === spec.dockerVersion) {
    const rec = o.record === false ? undefined : recordChange(state, spec);
    if (rec) {
      await writeFiles(s, [rec]);
      applied.push({ ...rec, detail: `${rec.detail} (${specLabel(spec)})` });
    }
    return { applied, pending, notes: plan.notes, restartEngine, label: specLabel(spec), state };
  }
  return { applied, pending, notes: plan.notes, restartEngine, state };
}
