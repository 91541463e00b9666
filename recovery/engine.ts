/**
 * Stopping and starting dockerd on a node over SSH, as backup and restore need (Docker documents
 * both with the engine stopped). Two kinds of host, detected, never assumed:
 * - systemd (Hetzner's Debian, the VM bed): `systemctl stop docker.socket docker` and `systemctl start docker`;
 * - no init system managing dockerd (the namespace bed, a container host): dockerd is stopped by
 *   its pidfile and started again with exactly the argv and environment it ran with, read from
 *   /proc before it stops. Nothing bed-specific: any host that started dockerd by hand gets the
 *   same daemon back.
 */
import type { SshSession } from "../transport/ssh";
import { sleep } from "../common/time";

/** dockerd stops its containers first (shutdown-timeout, 15 s by default) and then itself; a minute means it hangs. */
export const ENGINE_STOP_TIMEOUT_MS = 60_000;
/** A restarted dockerd with swarm state answers within seconds; two minutes covers a slow disk replaying Raft. */
export const ENGINE_START_TIMEOUT_MS = 120_000;
/** One `docker info` while dockerd starts; longer than docker's ~20 s wait for its swarm component. */
export const ENGINE_PROBE_TIMEOUT_MS = 30_000;
/** Poll interval while waiting for dockerd to answer after a start. */
const ENGINE_POLL_MS = 500;
/** Where the argv and environment of a hand-started dockerd are kept between stop and start (the node's /run). */
export const SAVED_DOCKERD = "/run/hcloud-swarm/dockerd.exec";

export type InitKind = "systemd" | "relaunch";

/** What a stopped engine needs to be started again. */
export interface StoppedEngine {
  readonly node: string;
  readonly init: InitKind;
}

/** sd_booted(3): systemd runs the host when /run/systemd/system exists. */
const DETECT = `if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd; else echo relaunch; fi`;

/**
 * Saves the running dockerd's environment and argv (NUL-separated, for `xargs -0 env -i`), then
 * SIGTERM and waits for it to exit. Refuses when no dockerd runs or its pidfile is stale.
 */
const STOP_RELAUNCH = `set -e
pid=$(cat /run/docker.pid 2>/dev/null || true)
if [ -z "$pid" ] || [ ! -r /proc/$pid/cmdline ]; then echo "no running dockerd found by /run/docker.pid" >&2; exit 3; fi
case "$(tr '\\0' ' ' < /proc/$pid/cmdline)" in *dockerd*) ;; *) echo "/run/docker.pid names pid $pid, which is not dockerd" >&2; exit 3;; esac
umask 077; mkdir -p /run/hcloud-swarm
cat /proc/$pid/environ /proc/$pid/cmdline > ${SAVED_DOCKERD}
kill -TERM $pid
i=0; while [ -d /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do i=$((i+1)); [ $i -lt ${ENGINE_STOP_TIMEOUT_MS / 200} ] || { echo "dockerd (pid $pid) did not stop" >&2; exit 4; }; sleep 0.2; done`;

/** Where a relaunched dockerd writes; its last lines explain a dockerd that exits at start. */
export const RELAUNCH_LOG = "/var/log/hcloud-swarm-dockerd.log";

/**
 * Starts dockerd again from the saved argv and environment, detached from the SSH session, and prints
 * the pid of the xargs that runs it: xargs lives exactly as long as dockerd, so its exit is dockerd's.
 */
const START_RELAUNCH = `set -e
[ -s ${SAVED_DOCKERD} ] || { echo "no saved dockerd command line (${SAVED_DOCKERD}); start dockerd by hand" >&2; exit 3; }
rm -f /run/docker.pid
mkdir -p /var/log
setsid xargs -0 -a ${SAVED_DOCKERD} env -i </dev/null >>${RELAUNCH_LOG} 2>&1 &
echo "pid $!"`;

/** Which kind of host this is: systemd runs dockerd, or dockerd was started by hand (./engine's header). */
export async function detectInit(s: SshSession): Promise<InitKind> {
  return (await s.run(DETECT)).stdout.trim() === "systemd" ? "systemd" : "relaunch";
}

/** True when dockerd runs: systemd's docker.service is active, or /run/docker.pid names a live dockerd. */
export async function engineRunning(s: SshSession, init: InitKind): Promise<boolean> {
  const check =
    init === "systemd"
      ? "systemctl is-active -q docker.service"
      : 'pid=$(cat /run/docker.pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null';
  return (await s.run(check, { allowFailure: true })).code === 0;
}

/** Detects the init system and stops dockerd; the returned handle starts it again. */
export async function stopEngine(s: SshSession): Promise<StoppedEngine> {
  const init = await detectInit(s);
  if (init === "systemd")
    await s.run("systemctl stop docker.socket docker.service", { timeoutMs: ENGINE_STOP_TIMEOUT_MS });
  else
    await s.run(STOP_RELAUNCH, {
      timeoutMs: ENGINE_STOP_TIMEOUT_MS + 5_000,
      display: "stop dockerd by its pidfile (argv and environment kept for the start)",
    });
  return { node: s.node, init };
}

/** Starts dockerd and waits until it answers `docker info`. */
export async function startEngine(s: SshSession, stopped: StoppedEngine): Promise<void> {
  let pid = "";
  if (stopped.init === "systemd") await s.run("systemctl start docker.service", { timeoutMs: ENGINE_START_TIMEOUT_MS });
  else
    pid =
      /^pid (\d+)$/m.exec(
        (await s.run(START_RELAUNCH, { display: "start dockerd with its saved argv and environment" })).stdout,
      )?.[1] ?? "";
  const deadline = Date.now() + ENGINE_START_TIMEOUT_MS;
  for (;;) {
    // A manager whose Raft state has no quorum (a restore, before --force-new-cluster) keeps the API
    // waiting while its swarm component starts (docker's own ~20 s), so a slow answer is "not yet".
    const r = await s
      .run("docker info --format '{{.Swarm.LocalNodeState}}'", {
        allowFailure: true,
        timeoutMs: ENGINE_PROBE_TIMEOUT_MS,
      })
      .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
    if (r.code === 0) return;
    // A relaunched dockerd that exited (a bad daemon.json, say) will not answer: say why at once.
    const alive = `[ -d /proc/${pid} ] && ! grep -q '^State:.*Z' /proc/${pid}/status`;
    if (pid && (await s.run(alive, { allowFailure: true })).code !== 0) {
      const tail = (await s.run(`tail -n 1 ${RELAUNCH_LOG}`, { allowFailure: true })).stdout.trim();
      throw new Error(`dockerd on ${s.node} exited right after its start: ${tail || "no output"}`);
    }
    if (Date.now() > deadline)
      throw new Error(
        `dockerd on ${s.node} did not answer within ${ENGINE_START_TIMEOUT_MS / 1000} s of its start: ${r.stderr.trim()}`,
      );
    await sleep(ENGINE_POLL_MS);
  }
}
