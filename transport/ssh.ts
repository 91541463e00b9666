// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The only module that talks SSH (and the only one importing node-ssh). It adds what node-ssh
 * lacks for unattended use: pinned host keys, a timeout on every wait and every command, an error
 * listener so a reset connection rejects instead of crashing the process, redaction of secrets from
 * everything it reports, and counters for the benchmark.
 */
import { Readable } from "stream";
import { NodeSSH } from "node-ssh";
import { CLOUD_INIT_MARK, CLOUD_INIT_SCRIPT, cloudInitVerdict, describeCloudInit } from "./cloud-init";
import { failedUnitsError, parseFailedUnits, probeWithFailedUnits, withoutFailedUnits } from "./failed-units";
import { fingerprint, hostKeyAlgorithms, parseHostKey } from "./hostkey";
import { redact, redactedError, registerSecret } from "./redact";
import { shellQuote } from "./shell";
import { sleep } from "../common/time";

/** Where to connect and which host key to insist on; InventoryNode satisfies it. */
export interface SshTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
}

/** Per-attempt handshake limit; a booting host that accepts TCP but stalls is retried, not waited on forever. */
export const SSH_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long `waitForSsh` keeps trying: a fresh Hetzner server takes 30–90 s to boot sshd. */
export const SSH_WAIT_TIMEOUT_MS = 300_000;
/** First retry delay; doubled per attempt up to SSH_RETRY_MAX_DELAY_MS so a late sshd is found quickly but not hammered. */
export const SSH_RETRY_FIRST_DELAY_MS = 500;
export const SSH_RETRY_MAX_DELAY_MS = 5_000;
/** Authentication failures are retried this often: cloud-init may install authorized_keys just after sshd starts. */
export const SSH_AUTH_RETRIES = 3;
/** Default per-command limit; swarm commands answer in seconds, so a minute means something hangs. */
export const COMMAND_TIMEOUT_MS = 60_000;
/** Extra local wait past a command's remote `timeout`, after which the connection is dropped (remote side unresponsive). */
export const COMMAND_LOCAL_GRACE_MS = 15_000;
/** cloud-init on a fresh server installs packages (docker) and can take several minutes; it is only waited for while it really runs. */
export const CLOUD_INIT_TIMEOUT_MS = 900_000;
/** After cloud-init, dockerd should answer quickly; this covers a slow first start (storage setup). */
export const DOCKER_WAIT_TIMEOUT_MS = 120_000;
/** Poll interval while waiting for dockerd. */
export const DOCKER_POLL_INTERVAL_MS = 1_000;
/** Keepalives detect a dead peer during long commands instead of waiting on TCP timeouts. */
const KEEPALIVE_INTERVAL_MS = 10_000;

export interface SshStats {
  /** Established SSH connections. */
  connections: number;
  /** Connection attempts, including failed ones. */
  connectAttempts: number;
  /** Commands started (uploads count as one command). */
  commands: number;
  /**
   * Round trips on the critical path: the longest chain of SSH exchanges (connection attempts and
   * commands) in which each one started only after the one before it had ended. Exchanges that
   * overlap in time count once, so a parallel wave over 16 nodes costs what one node costs. Each
   * exchange gets depth = 1 + the deepest exchange already ended when it started; this is the
   * deepest depth ended so far. Over an interval with nothing in flight at either end, the
   * difference of two snapshots is that interval's chain length.
   */
  roundTrips: number;
}
/** On globalThis so every copy of this module (e.g. a rebuilt dynamic provider) counts into the same place. */
function counters(): SshStats {
  const g = globalThis as unknown as Record<string, SshStats | undefined>;
  const c = (g.__hcloudSwarmSshStats ??= { connections: 0, connectAttempts: 0, commands: 0, roundTrips: 0 });
  // A copy of this module from before round trips were counted may have created the record.
  c.roundTrips ??= 0;
  return c;
}

/** One finished SSH exchange, as the benchmark's timeline shows it (see onSshExchange). */
export interface SshExchange {
  readonly kind: "connect" | "command";
  readonly node: string;
  /** The command as traces show it (redacted); empty for a connection. */
  readonly display: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Its place on the round-trip clock (SshStats.roundTrips). */
  readonly depth: number;
  readonly ok: boolean;
}
type ExchangeListener = (e: SshExchange) => void;
/** On globalThis like the counters; an array, not a Set (docs/design/dynamic-providers.md rule 1). */
function listeners(): ExchangeListener[] {
  const g = globalThis as unknown as Record<string, ExchangeListener[] | undefined>;
  return (g.__hcloudSwarmSshListeners ??= []);
}

/**
 * Calls `listener` with every SSH exchange once it has ended, until the returned function is called.
 * For the benchmark's timeline (where each second goes); nothing in a run depends on it.
 */
export function onSshExchange(listener: ExchangeListener): () => void {
  listeners().push(listener);
  return () => {
    const all = listeners();
    const i = all.indexOf(listener);
    if (i >= 0) all.splice(i, 1);
  };
}

/** Starts one SSH exchange on the round-trip clock (see SshStats.roundTrips); call the result when it has ended. */
function exchangeStarted(kind: SshExchange["kind"], node: string, display = ""): (ok: boolean) => void {
  const depth = counters().roundTrips + 1;
  const startedAt = Date.now();
  return (ok) => {
    const c = counters();
    c.roundTrips = Math.max(c.roundTrips, depth);
    const all = listeners();
    if (all.length === 0) return;
    const e = { kind, node, display: redact(display), startedAt, endedAt: Date.now(), depth, ok };
    for (const l of [...all]) l(e);
  };
}

/** A copy of the process-wide counters (the benchmark compares two snapshots). */
export function sshStats(): SshStats {
  return { ...counters() };
}

export class HostKeyMismatchError extends Error {
  constructor(node: string, expected: string, presented: string) {
    const message = `host key mismatch for ${node}: the inventory pins ${expected} but the host presented ${presented}; nothing was done on ${node}. If the server was rebuilt, update its hostKey in the inventory.`;
    super(message);
    this.message = message; // see BootstrapError: the serialized provider calls Error as a function
    this.name = "HostKeyMismatchError";
  }
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface CommandOptions {
  /** Limit for this command. Default COMMAND_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Data for the command's stdin; the way to hand a command a secret without putting it on the command line. Default none. */
  readonly stdin?: string | Buffer;
  /** Return non-zero exits instead of throwing. Default false. */
  readonly allowFailure?: boolean;
  /** What traces and errors show instead of the command, for a long script. Default: the command. */
  readonly display?: string;
}

export interface UploadOptions {
  /** File mode, octal string. Default "0644". */
  readonly mode?: string;
  /** Limit for the transfer. Default COMMAND_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

export interface SshSession {
  readonly node: string;
  /** Runs `command` under `sh -c` with a timeout; throws (redacted) on timeout, lost connection or, unless allowFailure, a non-zero exit. */
  run(command: string, options?: CommandOptions): Promise<CommandResult>;
  /** Writes `content` to `remotePath` atomically (temp file + rename), creating the directory. */
  upload(content: string | Buffer, remotePath: string, options?: UploadOptions): Promise<void>;
  /** True until close() or until the connection dropped. */
  isOpen(): boolean;
  close(): void;
}

export interface ConnectOptions {
  /** Progress lines such as "waiting for SSH" (already redacted). Default: none. */
  readonly log?: (line: string) => void;
  /** Every command run, "[node] $ command" (already redacted). Default: none. */
  readonly trace?: (line: string) => void;
  /** Handshake limit. Default SSH_HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
}

/** One connection attempt with the pinned host key. */
export async function connect(
  target: SshTarget,
  privateKey: string,
  options: ConnectOptions = {},
): Promise<SshSession> {
  registerSecret(privateKey);
  const pinned = parseHostKey(target.hostKey, target.name);
  let presented: Buffer | undefined;
  const ssh = new NodeSSH();
  counters().connectAttempts++;
  const ended = exchangeStarted("connect", target.name);
  let connected = false;
  try {
    await ssh.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey,
      readyTimeout: options.handshakeTimeoutMs ?? SSH_HANDSHAKE_TIMEOUT_MS,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) as never },
      hostVerifier: (key: Buffer) => {
        presented = key;
        return key.equals(pinned.blob);
      },
    });
    connected = true;
  } catch (err) {
    ssh.dispose();
    if (presented && !presented.equals(pinned.blob))
      throw new HostKeyMismatchError(target.name, fingerprint(pinned.blob), fingerprint(presented));
    throw redactedError(err, `ssh ${target.user}@${target.host}:${target.port} (${target.name})`);
  } finally {
    ended(connected);
  }
  counters().connections++;
  return openSession(ssh, target, options);
}

function openSession(ssh: NodeSSH, target: SshTarget, options: ConnectOptions): SshSession {
  const connection = ssh.connection;
  let open = true;
  let lastError: Error | undefined;
  // node-ssh only listens for 'error' while a request is being set up; without this an ECONNRESET
  // during a running command is an unhandled 'error' event and kills the process.
  let closing = false;
  connection?.on("error", (err: Error) => {
    lastError = redactedError(err);
    open = false;
  });
  connection?.on("close", () => {
    if (!closing)
      options.log?.(
        `[${target.name}] connection closed by the remote side${lastError ? `: ${lastError.message}` : ""}`,
      );
    open = false;
  });
  const trace = (line: string) => options.trace?.(redact(line));

  async function exec(command: string, display: string, o: CommandOptions): Promise<CommandResult> {
    if (!open)
      throw new Error(
        `ssh connection to ${target.name} is closed${lastError ? ` (${lastError.message})` : ""}; cannot run ${display}`,
      );
    counters().commands++;
    const ended = exchangeStarted("command", target.name, display);
    let finished = false;
    const timeoutMs = o.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
    // The remote `timeout` kills the process tree (a closed channel alone would leave it running);
    // -k escalates to SIGKILL for commands that ignore SIGTERM.
    const wrapped = `timeout -k 5 ${secs} sh -c ${shellQuote(command)}`;
    trace(`[${target.name}] $ ${display}`);
    let channel: { close(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const local = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        channel?.close();
        closing = true;
        ssh.dispose();
        open = false;
        reject(
          new Error(
            `command on ${target.name} did not finish within ${secs} s and the host stopped answering: ${redact(display)}`,
          ),
        );
      }, timeoutMs + COMMAND_LOCAL_GRACE_MS);
    });
    try {
      const res = await Promise.race([
        ssh.execCommand(wrapped, {
          stdin: o.stdin === undefined ? undefined : typeof o.stdin === "string" ? o.stdin : Readable.from([o.stdin]),
          onChannel: (c) => {
            channel = c;
          },
        }),
        local,
      ]);
      if (res.code === null) {
        open = false;
        throw new Error(
          `connection to ${target.name} was lost while running: ${display}${lastError ? ` (${lastError.message})` : ""}`,
        );
      }
      if (res.code === 124 || res.code === 137)
        throw new Error(`timed out after ${secs} s on ${target.name} waiting for: ${display}`);
      const result = { stdout: res.stdout, stderr: res.stderr, code: res.code };
      if (res.code !== 0 && !o.allowFailure) {
        throw new Error(
          `${display} failed on ${target.name} (exit ${res.code}): ${res.stderr || res.stdout || "no output"}`,
        );
      }
      finished = true;
      return result;
    } catch (err) {
      throw redactedError(err);
    } finally {
      clearTimeout(timer);
      ended(finished);
    }
  }

  return {
    node: target.name,
    run: (command, o = {}) => exec(command, o.display ?? command, o),
    async upload(content, remotePath, o = {}) {
      const q = shellQuote(remotePath);
      const tmp = shellQuote(`${remotePath}.tmp-${process.pid}`);
      const dir = shellQuote(remotePath.replace(/\/[^/]*$/, "") || "/");
      // Through stdin and plain shell rather than SFTP: the sftp subsystem is not always enabled.
      await exec(
        `umask 077 && mkdir -p ${dir} && cat > ${tmp} && chmod ${o.mode ?? "0644"} ${tmp} && mv -f ${tmp} ${q}`,
        `upload ${remotePath}`,
        {
          stdin: typeof content === "string" ? Buffer.from(content) : content,
          timeoutMs: o.timeoutMs,
        },
      );
    },
    isOpen: () => open,
    close() {
      closing = true;
      open = false;
      ssh.dispose();
    },
  };
}

function isPermanent(err: unknown): boolean {
  return (
    err instanceof HostKeyMismatchError ||
    /not a valid OpenSSH public key|Cannot parse privateKey|privateKey value does not contain/i.test(
      String((err as Error)?.message),
    )
  );
}

export interface WaitOptions extends ConnectOptions {
  /** Give up after this long. Default SSH_WAIT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Stops retrying (the caller no longer needs this node). Default: never. */
  readonly signal?: AbortSignal;
}

/**
 * Connects, retrying with exponential backoff until SSH_WAIT_TIMEOUT_MS. A host key mismatch or an
 * unusable key fails at once: retrying cannot fix them.
 */
export async function waitForSsh(
  target: SshTarget,
  privateKey: string,
  options: WaitOptions = {},
): Promise<SshSession> {
  const limit = options.timeoutMs ?? SSH_WAIT_TIMEOUT_MS;
  const deadline = Date.now() + limit;
  let delay = SSH_RETRY_FIRST_DELAY_MS;
  let authFailures = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(target, privateKey, options);
    } catch (err) {
      if (isPermanent(err)) throw err;
      const message = (err as Error).message;
      if (options.signal?.aborted)
        throw new Error(`stopped waiting for SSH on ${target.name} after ${attempt} attempts; last error: ${message}`);
      if (/authentication methods failed/i.test(message) && ++authFailures > SSH_AUTH_RETRIES) {
        throw new Error(
          `ssh to ${target.name} (${target.user}@${target.host}:${target.port}) was refused: the key is not accepted for user ${target.user}`,
        );
      }
      if (Date.now() + delay > deadline) {
        throw new Error(
          `timed out after ${Math.round(limit / 1000)} s waiting for SSH on ${target.name} (${target.host}:${target.port}), ${attempt} attempts; last error: ${message}`,
        );
      }
      if (attempt === 1) options.log?.(`[${target.name}] waiting for SSH (${redact(message)})`);
      // The listener goes when the delay ends: one per retry would pile up on a long wait.
      // (The timer is declared before `done`: Pulumi's closure serializer cannot follow a forward reference.)
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined = undefined;
        const done = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", done);
          resolve();
        };
        timer = setTimeout(done, delay);
        options.signal?.addEventListener("abort", done, { once: true });
      });
      delay = Math.min(delay * 2, SSH_RETRY_MAX_DELAY_MS);
    }
  }
}

/**
 * Waits until the node has finished cloud-init (where it is installed and really running: see
 * ./cloud-init) and dockerd answers, then returns the output of `probe` (a docker command; default
 * the server version). Both and the probe share one command when the node is ready, which is the
 * usual case: a new node costs one command here, not three. A host where cloud-init is installed
 * but disabled, or never runs, is not waited for; what was found is logged.
 */
export async function waitForNodeReady(
  session: SshSession,
  log?: (line: string) => void,
  probe = "docker info --format '{{.ServerVersion}}'",
): Promise<string> {
  // When the probe fails, the same command says which unit dockerd is missing (./failed-units.ts).
  const guarded = probeWithFailedUnits(probe);
  const first = await session.run(`${CLOUD_INIT_SCRIPT}\n${guarded}`, {
    timeoutMs: CLOUD_INIT_TIMEOUT_MS,
    allowFailure: true,
    display: `cloud-init status --long (read, and waited on only while it runs); ${probe}`,
  });
  const verdict = cloudInitVerdict(first.stdout);
  if (!verdict)
    throw new Error(
      `cannot read cloud-init's state on ${session.node} (exit ${first.code}): ${redact(first.stderr || first.stdout || "no output")}`,
    );
  if (verdict.kind === "error")
    throw new Error(
      `cloud-init failed on ${session.node} (${verdict.detail}); see /var/log/cloud-init-output.log and \`cloud-init status --long\` there`,
    );
  const line = describeCloudInit(session.node, verdict);
  if (line) log?.(line);
  if (first.code === 0)
    return first.stdout
      .split("\n")
      .filter((l) => !l.startsWith(CLOUD_INIT_MARK))
      .join("\n")
      .trim();
  const deadline = Date.now() + DOCKER_WAIT_TIMEOUT_MS;
  for (let r = first; ;) {
    // A failed unit stays failed for the rest of the boot: say which, instead of waiting out the timeout.
    const unitError = failedUnitsError(session.node, parseFailedUnits(r.stdout));
    if (unitError) throw new Error(redact(unitError));
    if (Date.now() + DOCKER_POLL_INTERVAL_MS > deadline) {
      throw new Error(
        `timed out after ${DOCKER_WAIT_TIMEOUT_MS / 1000} s waiting for docker on ${session.node} to answer \`docker info\`: ${redact(r.stderr || withoutFailedUnits(r.stdout))}`,
      );
    }
    await sleep(DOCKER_POLL_INTERVAL_MS);
    r = await session.run(guarded, { allowFailure: true, timeoutMs: 20_000, display: probe });
    if (r.code === 0) return r.stdout;
  }
}
