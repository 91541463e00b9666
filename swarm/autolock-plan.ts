// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Pure decisions about autolock, its unlock key and the join tokens: which keys to keep, whether
 * the swarm's setting must change, which tokens a run used, and how a locked manager is named. No
 * I/O: ./autolock acts, bootstrap, the SwarmKeys provider and the unlock and rotate commands decide here.
 */
import type { NodeRole } from "../inventory/inventory";

/**
 * Unlock keys kept: the current one and the one before it. Docker's own advice after a rotation: a
 * manager that was down while the key rotated still opens with the old key until it has the new one.
 */
export const KEPT_UNLOCK_KEYS = 2;

/** What Docker's unlock keys look like (`docker swarm unlock-key -q`). */
export const UNLOCK_KEY_SHAPE = /^SWMKEY-1-[A-Za-z0-9+/=]+$/;

/** The keys to keep once `live` is the swarm's key: it first, then the newest others, at most KEPT_UNLOCK_KEYS. */
export function keysToKeep(known: readonly string[], live: string): string[] {
  return [live, ...known.filter((k) => k !== live)].slice(0, KEPT_UNLOCK_KEYS);
}

/** Whether the kept keys must be written again: the swarm's key is not the first of them. */
export function mustKeep(known: readonly string[], live: string): boolean {
  return known[0] !== live;
}

export type AutolockChange = "enable" | "disable" | "none";

/** What `docker swarm update --autolock` must do; a swarm whose setting was not read is left alone. */
export function autolockChange(desired: boolean | undefined, live: boolean | undefined): AutolockChange {
  if (desired === undefined || live === undefined || desired === live) return "none";
  return desired ? "enable" : "disable";
}

/** The join-token roles a run used: each role some node joined as, in a fixed order. */
export function rolesUsed(joined: readonly { readonly role: NodeRole }[]): NodeRole[] {
  return (["worker", "manager"] as const).filter((r) => joined.some((j) => j.role === r));
}

/** How the unlock command and bootstrap tell the user to open a locked manager. */
export const UNLOCK_HINT =
  "run `hcloud-swarm unlock --inventory FILE` (it reads the kept key, .hcloud-swarm/unlock-keys/<cluster>.key, or --key-file), or `docker swarm unlock` on it with the unlock key";

/** Why a manager is locked and nobody opened it, naming the node and the fix. */
export function lockedProblem(
  node: string,
  tried: { readonly keys: number; readonly where: string } | undefined,
): string {
  const cause = `${node} is a locked swarm manager (autolock is on and its dockerd restarted; it takes no part in the swarm until unlocked)`;
  if (!tried || tried.keys === 0) return `${cause}; ${UNLOCK_HINT}`;
  return `${cause}, and none of the ${tried.keys} unlock key(s) kept in ${tried.where} opens it (docker: invalid key); while another manager serves, \`hcloud-swarm bootstrap\` keeps the swarm's current key (read there) and opens it; else pass the key of the swarm's last rotation with \`hcloud-swarm unlock --inventory FILE --key-file F\``;
}
