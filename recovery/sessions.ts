/**
 * SSH sessions to the inventory's nodes for the recovery commands, opened together and closed
 * together. A node that does not answer is recorded with its error rather than failing the
 * command: backup, restore and recover are exactly the commands run while nodes are gone.
 */
import type { InventoryNode } from "../inventory/inventory";
import { connect, SshSession } from "../transport/ssh";

/** One handshake per node; recovery runs while nodes may be dead, so nobody is waited for at length. */
export const RECOVERY_CONNECT_TIMEOUT_MS = 10_000;

export interface Sessions {
  /** Open sessions by node name. */
  readonly open: ReadonlyMap<string, SshSession>;
  /** Why a node could not be reached, by node name. */
  readonly unreachable: ReadonlyMap<string, string>;
  get(node: InventoryNode): SshSession;
  closeAll(): void;
}

export async function openSessions(
  nodes: readonly InventoryNode[],
  privateKeyFor: (n: InventoryNode) => string,
  log: (l: string) => void,
): Promise<Sessions> {
  const open = new Map<string, SshSession>();
  const unreachable = new Map<string, string>();
  await Promise.all(
    nodes.map(async (n) => {
      try {
        open.set(n.name, await connect(n, privateKeyFor(n), { log, handshakeTimeoutMs: RECOVERY_CONNECT_TIMEOUT_MS }));
      } catch (err) {
        unreachable.set(n.name, (err as Error).message);
      }
    }),
  );
  return {
    open,
    unreachable,
    get(n) {
      const s = open.get(n.name);
      if (!s) throw new Error(`cannot reach ${n.name}: ${unreachable.get(n.name) ?? "not connected"}`);
      return s;
    },
    closeAll() {
      for (const s of open.values()) s.close();
    },
  };
}
