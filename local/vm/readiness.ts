/**
 * Waits for one booted VM the way a user would: sshd answers on the public address, SSH with the
 * pinned host key succeeds (so cloud-init installed the program's key), cloud-init ends `done`, and
 * dockerd answers. Each step's time since qemu started is reported; on failure the error carries the
 * serial console's tail and `cloud-init status --long`.
 */
import { sshBanner } from "../common/ssh-banner";
import { connect, SshSession, SshTarget } from "../../transport/ssh";
import { sleep, waitFor } from "../../common/time";

/** A stock kernel under TCG, 3 VMs on 2 busy cores: sshd took 80–90 s idle (notes); 15 min is the "broken" bound. */
export const VM_SSHD_TIMEOUT_MS = 15 * 60_000;
/** cloud-init's stages take ~90 s idle under TCG; on a loaded machine several times that. */
export const VM_CLOUD_INIT_TIMEOUT_MS = 15 * 60_000;
/** dockerd is started by cloud-init's Docker check already; this only covers a slow answer. */
export const VM_DOCKER_TIMEOUT_MS = 5 * 60_000;
/** Banner polls are one TCP connect each. */
const BANNER_POLL_MS = 1_000;
/** SSH right after the banner can still fail (cloud-init installing root's keys); retried for this long. */
const SSH_LOGIN_TIMEOUT_MS = 5 * 60_000;
/** Between login attempts: one handshake each, and cloud-init's key step takes seconds. */
const SSH_LOGIN_RETRY_MS = 2_000;
/** One `docker info`: instant when dockerd runs; longer means it is starting (or stuck), so ask again. */
const DOCKER_INFO_TIMEOUT_MS = 30_000;
/** Between `docker info` attempts. */
const DOCKER_POLL_MS = 1_000;

/**
 * A guest whose clock runs this many times as fast as the host's is refused. Seen: a guest whose TSC
 * was calibrated while 8 emulated VMs starved 2 cores counted 1568 s of uptime in about 440 s, so
 * every timeout inside it (the remote `timeout`, systemd's, docker's) expired early and cloud-init
 * was killed half way, which only showed as "cloud-init did not end done".
 */
export const MAX_GUEST_CLOCK_RATE = 2;

/** How many times as fast as the host's the guest's clock runs: its uptime over the host's time since qemu started (pure). */
export function guestClockRate(uptimeS: number, hostElapsedMs: number): number {
  return hostElapsedMs > 0 ? (uptimeS * 1000) / hostElapsedMs : 0;
}

export type Phase = "sshd" | "cloud-init" | "docker";

export interface ReadyTimes {
  /** Milliseconds from qemu's start to: sshd's banner, cloud-init done, `docker info` answering. */
  readonly sshdMs: number;
  readonly cloudInitMs: number;
  readonly dockerMs: number;
  /** Engine version `docker info` reported. */
  readonly engine: string;
}

export interface ReadinessInput {
  readonly target: SshTarget;
  readonly privateKey: string;
  /** When qemu was started (Date.now()). */
  readonly startedAt: number;
  /** Reports each phase as it completes. Default: none. */
  readonly onPhase?: (phase: Phase, ms: number) => void;
  /** The serial console's tail, for failures. */
  readonly consoleTail: () => string;
  /** False when the VM's qemu process is gone; waiting stops at once. */
  readonly running: () => boolean;
}

export class VmNotReadyError extends Error {
  constructor(node: string, what: string, consoleTail: string, cloudInit?: string) {
    const msg = [
      `${node}: ${what}`,
      "serial console (last lines):",
      consoleTail.replace(/^/gm, "  | "),
      ...(cloudInit ? ["cloud-init status --long:", cloudInit.replace(/^/gm, "  | ")] : []),
    ].join("\n");
    super(msg);
    this.name = "VmNotReadyError";
  }
}

async function login(input: ReadinessInput, deadline: number): Promise<SshSession> {
  for (;;) {
    try {
      return await connect(input.target, input.privateKey);
    } catch (err) {
      if (!input.running()) throw err;
      if (Date.now() > deadline) throw err;
      // Host key mismatch is final: sshd presents a key that is not the one cloud-init was given.
      if ((err as Error).name === "HostKeyMismatchError") throw err;
      await sleep(SSH_LOGIN_RETRY_MS);
    }
  }
}

export async function waitUntilReady(input: ReadinessInput): Promise<ReadyTimes> {
  const name = input.target.name;
  const since = () => Date.now() - input.startedAt;
  const fail = (what: string, cloudInit?: string): never => {
    throw new VmNotReadyError(name, what, input.consoleTail(), cloudInit);
  };
  const banner = await waitFor(
    async () => !input.running() || (await sshBanner(input.target.host, input.target.port)),
    VM_SSHD_TIMEOUT_MS,
    BANNER_POLL_MS,
  );
  if (!input.running()) fail("the VM's qemu process ended before sshd answered");
  if (!banner)
    fail(`sshd did not answer on ${input.target.host}:${input.target.port} within ${VM_SSHD_TIMEOUT_MS / 60_000} min`);
  const sshdMs = since();
  input.onPhase?.("sshd", sshdMs);
  let s: SshSession;
  try {
    s = await login(input, Date.now() + SSH_LOGIN_TIMEOUT_MS);
  } catch (err) {
    return fail(`SSH with the pinned host key failed: ${(err as Error).message}`);
  }
  try {
    const uptimeS = Number((await s.run("cut -d' ' -f1 /proc/uptime", { allowFailure: true })).stdout.trim());
    const rate = guestClockRate(uptimeS, since());
    if (rate > MAX_GUEST_CLOCK_RATE) {
      fail(
        `the guest's clock runs ${rate.toFixed(1)}× as fast as the host's (uptime ${uptimeS.toFixed(0)} s, ${(since() / 1000).toFixed(0)} s after qemu started): its TSC was calibrated while the host was starved, so every timeout inside it expires early. Boot it again with less running beside it (local down, then local up)`,
      );
    }
    const secs = Math.ceil(VM_CLOUD_INIT_TIMEOUT_MS / 1000);
    const ci = await s
      .run("cloud-init status --wait --long", { allowFailure: true, timeoutMs: VM_CLOUD_INIT_TIMEOUT_MS })
      .catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
    const text = `${ci.stdout}${ci.stderr}`.trim();
    if (ci.code !== 0 || !/^status: done$/m.test(text))
      fail(`cloud-init did not end "done" (exit ${ci.code}, limit ${secs} s)`, text);
    const cloudInitMs = since();
    input.onPhase?.("cloud-init", cloudInitMs);
    let engine = "";
    const ok = await waitFor(
      async () => {
        const r = await s.run("docker info --format '{{.ServerVersion}}'", {
          allowFailure: true,
          timeoutMs: DOCKER_INFO_TIMEOUT_MS,
        });
        engine = r.stdout.trim();
        return r.code === 0 && engine !== "";
      },
      VM_DOCKER_TIMEOUT_MS,
      DOCKER_POLL_MS,
    );
    if (!ok) fail(`docker info did not answer within ${VM_DOCKER_TIMEOUT_MS / 60_000} min after cloud-init`);
    const dockerMs = since();
    input.onPhase?.("docker", dockerMs);
    return { sshdMs, cloudInitMs, dockerMs, engine };
  } finally {
    s.close();
  }
}
