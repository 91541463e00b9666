/**
 * `hcloud-swarm backup --schedule`: a systemd timer on one manager that copies the swarm's Raft
 * state locally as Docker documents it (dockerd stopped briefly on a non-leader), encrypts it with
 * the backup key and keeps the newest N. The unit text is pure; installing it is one upload per
 * file and one systemctl call. Only the Raft state: the pinned volumes need the stack's writers
 * quiesced from a manager, which `hcloud-swarm backup` does from the operator's machine.
 *
 * The key then lives on that manager (root-only file): see docs/guides/backup-and-recovery.md for
 * what that trades away.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";

export const UNIT = "hcloud-swarm-backup";
export const SCRIPT_PATH = "/usr/local/lib/hcloud-swarm/backup-local.sh";
export const KEY_PATH = "/etc/hcloud-swarm/backup-local.key";
export const LOCAL_DIR = "/var/backups/hcloud-swarm";
/** The script's "skipped, not failed" exit (EX_TEMPFAIL): this manager leads, or quorum is short. */
export const SKIPPED_EXIT = 75;
/** openssl's PBKDF2 rounds over the key: the key is 256 random bits, the rounds only follow openssl's advice. */
const PBKDF2_ITER = 100_000;

export interface ScheduleOptions {
  readonly cluster: string;
  /** Archives kept; older ones are deleted after each successful run. */
  readonly keep: number;
  /** systemd OnCalendar expression. Default "daily". */
  readonly onCalendar: string;
}

export interface ScheduleFiles {
  readonly script: string;
  readonly service: string;
  readonly timer: string;
}

/** Problems with the options, each naming the flag. */
export function scheduleProblems(o: ScheduleOptions): string[] {
  const p: string[] = [];
  if (!Number.isInteger(o.keep) || o.keep < 1 || o.keep > 1000)
    p.push(`--keep ${o.keep} must be a whole number from 1 to 1000`);
  if (!/^[A-Za-z0-9 *:,./~-]{1,100}$/.test(o.onCalendar))
    p.push(
      `--on-calendar ${JSON.stringify(o.onCalendar)} is not a systemd calendar expression such as daily or "*-*-* 03:00:00"`,
    );
  if (!/^[A-Za-z0-9_.-]{1,63}$/.test(o.cluster))
    p.push(`the cluster name ${JSON.stringify(o.cluster)} cannot name a file`);
  return p;
}

export function scheduleFiles(o: ScheduleOptions): ScheduleFiles {
  const script = `#!/bin/sh
# Written by hcloud-swarm backup --schedule. A local copy of the swarm's Raft state, taken as Docker
# documents it (dockerd stopped on a manager that is not the leader), encrypted with the backup key
# (${KEY_PATH}), keeping the newest ${o.keep}. Decrypt one with:
#   openssl enc -d -aes-256-cbc -pbkdf2 -iter ${PBKDF2_ITER} -md sha256 -pass file:KEYPASS -in FILE | tar -tz
# where KEYPASS holds the second field of the backup key file's line.
set -eu
umask 077
mkdir -p ${LOCAL_DIR}
[ -r ${KEY_PATH} ] || { echo "no backup key at ${KEY_PATH}" >&2; exit 2; }
statuses=$(docker node ls --filter role=manager --format '{{.ManagerStatus}}')
total=$(printf '%s\\n' "$statuses" | grep -c .)
reachable=$(printf '%s\\n' "$statuses" | grep -c -E 'Leader|Reachable' || true)
leader=$(docker node inspect self --format '{{.ManagerStatus.Leader}}')
if [ "$total" -ge 3 ] && [ "$leader" = true ]; then
  echo "skipped: this manager is the leader, and Docker's procedure stops a manager that is not; the next run tries again" >&2; exit ${SKIPPED_EXIT}
fi
if [ "$total" -ge 3 ] && [ $((reachable - 1)) -lt $((total / 2 + 1)) ]; then
  echo "skipped: only $reachable of $total managers are reachable; stopping dockerd here would lose quorum" >&2; exit ${SKIPPED_EXIT}
fi
[ "$total" -ge 3 ] || echo "note: $total manager(s): the control plane pauses while dockerd is stopped for the copy" >&2
root=$(docker info --format '{{.DockerRootDir}}')
stamp=$(date -u +%Y%m%dT%H%M%SZ)
part=${LOCAL_DIR}/.partial-$stamp
trap 'rm -f "$part.tgz" "$part.enc"; systemctl start docker.service' EXIT
systemctl stop docker.socket docker.service
tar -C "$root" -czf "$part.tgz" swarm
systemctl start docker.service
trap 'rm -f "$part.tgz" "$part.enc"' EXIT
openssl enc -aes-256-cbc -pbkdf2 -iter ${PBKDF2_ITER} -md sha256 -salt -pass file:${KEY_PATH} -in "$part.tgz" -out "$part.enc"
mv "$part.enc" ${LOCAL_DIR}/${o.cluster}-$stamp.swarm.tgz.enc
ls -1t ${LOCAL_DIR}/*.swarm.tgz.enc | tail -n +${o.keep + 1} | xargs -r rm -f
echo "wrote ${LOCAL_DIR}/${o.cluster}-$stamp.swarm.tgz.enc; keeping the newest ${o.keep}"
`;
  const service = `[Unit]
Description=hcloud-swarm: local encrypted backup of the swarm's Raft state
Documentation=https://github.com/hcloud-swarm/hcloud-swarm/blob/main/docs/guides/backup-and-recovery.md
Wants=docker.service
After=docker.service

[Service]
Type=oneshot
ExecStart=${SCRIPT_PATH}
# Skipped runs (this manager leads, or quorum is short) are not failures; the journal says why.
SuccessExitStatus=${SKIPPED_EXIT}
`;
  const timer = `[Unit]
Description=hcloud-swarm: run ${UNIT}.service ${o.onCalendar}

[Timer]
OnCalendar=${o.onCalendar}
RandomizedDelaySec=15min
Persistent=true

[Install]
WantedBy=timers.target
`;
  return { script, service, timer };
}

/** The files with their places and modes, as printed by `--schedule` without `--install`. */
export function describeSchedule(files: ScheduleFiles): string {
  return [
    `# ${SCRIPT_PATH} (mode 0700)`,
    files.script,
    `# /etc/systemd/system/${UNIT}.service`,
    files.service,
    `# /etc/systemd/system/${UNIT}.timer`,
    files.timer,
    `# ${KEY_PATH} (mode 0600): the second field of your backup key file's line`,
    `# then: systemctl daemon-reload && systemctl enable --now ${UNIT}.timer`,
  ].join("\n");
}

/** Installs the files on one manager; enables the timer when systemd runs the host. Returns what it did. */
export async function installSchedule(s: SshSession, files: ScheduleFiles, keyPass: string): Promise<string[]> {
  const done: string[] = [];
  await s.upload(files.script, SCRIPT_PATH, { mode: "0700" });
  await s.upload(files.service, `/etc/systemd/system/${UNIT}.service`, { mode: "0644" });
  await s.upload(files.timer, `/etc/systemd/system/${UNIT}.timer`, { mode: "0644" });
  // The key travels on stdin inside upload: never on a command line.
  await s.upload(`${keyPass}\n`, KEY_PATH, { mode: "0600" });
  done.push(`[${s.node}] installed ${SCRIPT_PATH}, ${UNIT}.service, ${UNIT}.timer and the key ${KEY_PATH} (mode 0600)`);
  const systemd = await s.run(`[ -d /run/systemd/system ] && command -v systemctl >/dev/null`, { allowFailure: true });
  if (systemd.code !== 0) {
    done.push(
      `[${s.node}] systemd does not run this host: the timer is installed but not enabled; run ${SCRIPT_PATH} from its own scheduler`,
    );
    return done;
  }
  await s.run(`systemctl daemon-reload && systemctl enable --now ${shellQuote(`${UNIT}.timer`)}`);
  const next = await s.run(`systemctl list-timers --no-legend ${shellQuote(`${UNIT}.timer`)}`, { allowFailure: true });
  done.push(`[${s.node}] enabled ${UNIT}.timer: ${next.stdout.trim() || "(systemctl list-timers shows nothing yet)"}`);
  return done;
}
