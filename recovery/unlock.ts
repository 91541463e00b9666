/**
 * `hcloud-swarm unlock`: opens every locked manager of the inventory with the kept unlock keys (a
 * restarted manager of an autolocked swarm stays out of the swarm until then). The keys go over
 * stdin only, and the key file is only read: bootstrap and rotate are what write it.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { readSwarmInfo } from "../bootstrap/swarm-ops";
import { unlockWith, type UnlockKeyStore } from "../swarm/autolock";
import { lockedProblem } from "../swarm/autolock-plan";
import { openSessions } from "./sessions";

export interface UnlockOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly keys: UnlockKeyStore;
  readonly log: (line: string) => void;
}

export interface UnlockResult {
  /** Managers that were locked and are open now. */
  readonly unlocked: readonly string[];
  /** Managers that were not locked. */
  readonly open: readonly string[];
  /** Managers left locked or not reached, each with why and what to do. */
  readonly problems: readonly string[];
}

export async function unlock(inv: Inventory, opts: UnlockOptions): Promise<UnlockResult> {
  const managers = inv.nodes.filter((n) => n.role === "manager");
  const sessions = await openSessions(managers, opts.privateKeyFor, opts.log);
  const unlocked: string[] = [];
  const open: string[] = [];
  const problems: string[] = [];
  try {
    // All at once: a manager's unlock returns only once Raft has a quorum (UNLOCK_TIMEOUT_MS).
    await Promise.all(
      managers.map(async (n): Promise<void> => {
        const s = sessions.open.get(n.name);
        if (!s) {
          problems.push(`cannot reach ${n.name}: ${sessions.unreachable.get(n.name) ?? "not connected"}`);
          return;
        }
        const info = await readSwarmInfo(s);
        if (info.state !== "locked") {
          open.push(n.name);
          return;
        }
        if (opts.keys.known.length === 0) {
          problems.push(
            `${n.name} is locked and no unlock key is kept in ${opts.keys.where}; pass the file holding it with --key-file (one "SWMKEY-1-…" per line, mode 0600)`,
          );
          return;
        }
        const outcome = await unlockWith(s, opts.keys.known);
        if (outcome === "wrong-key")
          problems.push(lockedProblem(n.name, { keys: opts.keys.known.length, where: opts.keys.where }));
        else if (outcome === "unlocked") {
          unlocked.push(n.name);
          opts.log(`[${n.name}] unlocked with the key kept in ${opts.keys.where}`);
        } else open.push(n.name);
      }),
    );
    const order = (xs: string[]) =>
      xs.sort((x, y) => managers.findIndex((m) => m.name === x) - managers.findIndex((m) => m.name === y));
    order(unlocked);
    order(open);
    return { unlocked, open, problems };
  } finally {
    sessions.closeAll();
  }
}
