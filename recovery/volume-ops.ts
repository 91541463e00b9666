/**
 * The commands behind a pinned volume's backup and restore, shared by both: quiescing a stack's
 * writers (scale to 0, then back) and the MySQL client run inside the database's own container.
 * The database password never leaves that container: the script reads it from the Docker secret
 * file the container's environment names (MYSQL_ROOT_PASSWORD_FILE or MARIADB_ROOT_PASSWORD_FILE)
 * into a private option file with shell builtins, so it is on no command line, here or on the host.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { waitFor } from "../common/time";

/** Scaled-down tasks stop within their stop grace period (10 s by default); a minute means something holds the volume. */
export const QUIESCE_TIMEOUT_MS = 60_000;
/** How often the holder is asked whether a container still uses the volume. */
const QUIESCE_POLL_MS = 500;
/** A dump or an import of the demo's database takes seconds; a large one minutes. */
export const DUMP_TIMEOUT_MS = 600_000;
/** A database container answers once its server started (the image's first start initialises for a minute or two). */
export const DATABASE_READY_TIMEOUT_MS = 300_000;

/**
 * Prefix of every in-container MySQL command: an option file (mode 0600, removed on exit) with
 * the root password read from the secret file, and the client binary of MySQL or MariaDB.
 */
const CLIENT_SETUP = `set -e
pwfile="\${MYSQL_ROOT_PASSWORD_FILE:-\${MARIADB_ROOT_PASSWORD_FILE:-}}"
if [ -z "$pwfile" ] || [ ! -r "$pwfile" ]; then echo "the database container names no readable root password file (MYSQL_ROOT_PASSWORD_FILE or MARIADB_ROOT_PASSWORD_FILE)" >&2; exit 3; fi
umask 077
cnf=$(mktemp)
trap 'rm -f "$cnf"' EXIT
pw=$(cat "$pwfile")
printf '[client]\\nuser=root\\npassword="%s"\\n' "$pw" > "$cnf"
unset pw`;

/** `docker exec` into the running task of `service` on this node; the first container found. */
function execIn(service: string, script: string, stdin: boolean): string {
  return `c=$(docker ps -q --filter ${shellQuote(`label=com.docker.swarm.service.name=${service}`)} | head -n1)
[ -n "$c" ] || { echo "no running container of ${service} on this node" >&2; exit 4; }
docker exec ${stdin ? "-i " : ""}"$c" sh -c ${shellQuote(script)}`;
}

/**
 * Dumps every database (one transaction for InnoDB: consistent while the server runs) to stdout.
 * Not `exec`: the shell must live on to run its EXIT trap, which removes the option file.
 */
export function dumpCommand(service: string): string {
  return execIn(
    service,
    `${CLIENT_SETUP}
dump=$(command -v mariadb-dump || command -v mysqldump)
"$dump" --defaults-extra-file="$cnf" --all-databases --single-transaction --routines --events --triggers --hex-blob`,
    false,
  );
}

/** Waits for the server, then imports a dump from stdin. */
export function importCommand(service: string): string {
  return execIn(
    service,
    `${CLIENT_SETUP}
admin=$(command -v mariadb-admin || command -v mysqladmin)
client=$(command -v mariadb || command -v mysql)
i=0; until "$admin" --defaults-extra-file="$cnf" -h 127.0.0.1 ping >/dev/null 2>&1; do i=$((i+1)); [ $i -lt ${DATABASE_READY_TIMEOUT_MS / 1000} ] || { echo "the database did not answer" >&2; exit 5; }; sleep 1; done
"$client" --defaults-extra-file="$cnf" -h 127.0.0.1`,
    true,
  );
}

/** Scales services and returns at once; Docker converges in the background. */
export async function scale(
  manager: SshSession,
  to: ReadonlyArray<{ service: string; replicas: number }>,
): Promise<void> {
  if (to.length === 0) return;
  await manager.run(
    `docker service scale --detach ${to.map((w) => shellQuote(`${w.service}=${w.replicas}`)).join(" ")}`,
  );
}

/** Waits until no container on the holder uses the volume (the writers have stopped). */
export async function waitUnused(holder: SshSession, volume: string): Promise<void> {
  const ok = await waitFor(
    async () => (await holder.run(`docker ps -q --filter ${shellQuote(`volume=${volume}`)}`)).stdout.trim() === "",
    QUIESCE_TIMEOUT_MS,
    QUIESCE_POLL_MS,
  );
  if (!ok)
    throw new Error(
      `containers on ${holder.node} still use volume ${volume} ${QUIESCE_TIMEOUT_MS / 1000} s after its writers were scaled to 0 (docker ps --filter volume=${volume}); the stack was scaled back`,
    );
}

/** Runs `body` with the writers scaled to 0 and their containers gone; scales them back even when it fails. */
export async function quiesced<T>(
  manager: SshSession,
  holder: SshSession,
  volume: string,
  writers: ReadonlyArray<{ service: string; replicas: number }>,
  log: (l: string) => void,
  body: () => Promise<T>,
): Promise<T> {
  if (writers.length > 0)
    log(`[${holder.node}] quiescing ${volume}: scaling ${writers.map((w) => w.service).join(", ")} to 0`);
  try {
    await scale(
      manager,
      writers.map((w) => ({ service: w.service, replicas: 0 })),
    );
    await waitUnused(holder, volume);
    return await body();
  } finally {
    await scale(manager, writers);
    if (writers.length > 0)
      log(`[${holder.node}] scaled ${writers.map((w) => `${w.service} back to ${w.replicas}`).join(", ")}`);
  }
}
