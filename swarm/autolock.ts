// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The docker commands of autolock, unlock and token rotation, one function each. Keys and tokens
 * travel only through stdin and the SSH session's stdout, never on a command line, and are
 * registered with the redactor before anything could print them. Decisions live in ./autolock-plan.
 */
import type { NodeRole } from "../inventory/inventory";
import { registerSecret } from "../transport/redact";
import type { SshSession } from "../transport/ssh";
import { onLeader } from "./leader";
import { UNLOCK_KEY_SHAPE } from "./autolock-plan";
import { waitFor } from "../common/time";

/** Where unlock keys are kept, newest first: a 0600 file for the CLI, a Pulumi secret for the SwarmKeys resource. */
export interface UnlockKeyStore {
  /** The keys known, newest first; empty when none is kept yet. */
  readonly known: readonly string[];
  /** Keeps these keys (newest first), durably, before it returns; throws when it cannot. */
  keep(keys: readonly string[]): void;
  /** Where the keys are kept, for messages ("the file F", "the Pulumi secret output unlockKey"). */
  readonly where: string;
}

export type UnlockOutcome = "unlocked" | "not-locked" | "wrong-key";

/**
 * `docker swarm unlock` returns once the manager is back in Raft, which needs a quorum: when most
 * managers are locked (a power cut), only once enough of them are unlocked at the same time (seen on
 * the bed: one manager's unlock alone blocked for over a minute). Callers unlock every locked
 * manager in parallel; this bounds one that never gets there.
 */
export const UNLOCK_TIMEOUT_MS = 120_000;

/**
 * Tries each key on a locked engine through stdin (`docker swarm unlock` reads it from there when
 * stdin is no terminal). Docker answers "invalid key provided" for a key of another swarm or
 * rotation, "invalid key string" for a key of the wrong shape and "swarm is not locked" when
 * someone was quicker.
 */
export async function unlockWith(s: SshSession, keys: readonly string[]): Promise<UnlockOutcome> {
  for (const key of keys) {
    registerSecret(key);
    const r = await s.run("docker swarm unlock", {
      stdin: `${key}\n`,
      allowFailure: true,
      timeoutMs: UNLOCK_TIMEOUT_MS,
      display: "docker swarm unlock (key on stdin)",
    });
    if (r.code === 0) return "unlocked";
    if (/not locked/i.test(r.stderr)) return "not-locked";
    if (!/invalid key/i.test(r.stderr)) throw new Error(`docker swarm unlock failed on ${s.node}: ${r.stderr.trim()}`);
  }
  return "wrong-key";
}

/** How long a restarted engine may take to answer `docker swarm unlock` at all (a reboot, a resize). */
export const UNLOCK_ENGINE_WAIT_MS = 60_000;
const UNLOCK_POLL_MS = 1_000;

/**
 * Unlocks a manager that was just restarted (a roll, a resize) once its engine answers; "not-locked"
 * when autolock is off or someone was quicker. Without it a restarted manager under autolock never
 * turns Ready, and whoever waits for Ready would blame a node that is fine.
 */
export async function unlockWhenUp(s: SshSession, keys: readonly string[]): Promise<UnlockOutcome> {
  let outcome: UnlockOutcome | undefined;
  let last = "";
  await waitFor(
    async () => {
      try {
        outcome = await unlockWith(s, keys);
        return true;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    },
    UNLOCK_ENGINE_WAIT_MS,
    UNLOCK_POLL_MS,
  );
  if (!outcome) throw new Error(`could not unlock ${s.node} within ${UNLOCK_ENGINE_WAIT_MS / 1000} s: ${last}`);
  return outcome;
}

/** The swarm's current unlock key, read on the leader; "" when autolock is off. */
export async function liveUnlockKey(s: SshSession): Promise<string> {
  const r = await onLeader(s, "docker swarm unlock-key -q", {
    allowFailure: true,
    display: "docker swarm unlock-key -q",
  });
  const key = r.stdout.trim();
  registerSecret(key);
  if (r.code !== 0 || !UNLOCK_KEY_SHAPE.test(key)) {
    if (/no unlock key|not.*autolock/i.test(r.stderr)) return "";
    throw new Error(`${s.node} returned no unlock key (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return key;
}

/** Turns autolock on or off; the key Docker prints on enabling goes to /dev/null (it is read back by liveUnlockKey). */
export async function setAutolock(s: SshSession, on: boolean): Promise<void> {
  await onLeader(s, `docker swarm update --autolock=${on} >/dev/null`, {
    display: `docker swarm update --autolock=${on}`,
  });
}

/** A new unlock key; the old one stops opening managers once they have the new one. */
export async function rotateUnlockKey(s: SshSession): Promise<string> {
  const r = await onLeader(s, "docker swarm unlock-key --rotate -q", { display: "docker swarm unlock-key --rotate" });
  const key = r.stdout.trim();
  registerSecret(key);
  if (!UNLOCK_KEY_SHAPE.test(key)) throw new Error(`${s.node} returned no new unlock key after the rotation`);
  return key;
}

/** Rotates the join tokens of these roles; the new tokens stay on the managers (printed to /dev/null there). */
export async function rotateJoinTokens(s: SshSession, roles: readonly NodeRole[]): Promise<void> {
  if (roles.length === 0) return;
  await onLeader(s, roles.map((r) => `docker swarm join-token --rotate -q ${r} >/dev/null`).join(" && "), {
    display: `docker swarm join-token --rotate ${roles.join(" and ")}`,
  });
}
