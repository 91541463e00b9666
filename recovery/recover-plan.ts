/**
 * Which surviving manager a recovery forces a new cluster on: pure. Docker keeps the Raft log
 * encrypted on disk, so the newest index is judged from what can be read without the key: the
 * last snapshot's term and index (its file name), the start index of the last WAL segment (its
 * file name) and the WAL's size. A survivor further along on all of them holds the newest state.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { awaitsLeader, canServe, Observation } from "../bootstrap/plan";

export interface RaftPosition {
  readonly snapshotTerm: number;
  readonly snapshotIndex: number;
  readonly walStartIndex: number;
  readonly walBytes: number;
}

/** Parses `ls snap-v3-encrypted; echo ---; ls wal-v3-encrypted; echo ---; du -sb wal-v3-encrypted`. */
export function parseRaftListing(text: string, node: string): RaftPosition {
  const [snaps = "", wals = "", du = ""] = text.split(/^---$/m);
  const hexPairs = (list: string, ext: string) =>
    list
      .split("\n")
      .map((l) => new RegExp(`^([0-9a-f]{16})-([0-9a-f]{16})\\.${ext}$`).exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [parseInt(m[1], 16), parseInt(m[2], 16)] as const);
  const s = hexPairs(snaps, "snap")
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .pop() ?? [0, 0];
  const w = hexPairs(wals, "wal")
    .sort((a, b) => a[0] - b[0])
    .pop();
  const bytes = /^(\d+)\s/.exec(du.trim());
  if (!w || !bytes)
    throw new Error(
      `cannot read the Raft log of ${node} (no WAL segment under swarm/raft/wal-v3-encrypted); is it a manager?`,
    );
  return { snapshotTerm: s[0], snapshotIndex: s[1], walStartIndex: w[1], walBytes: Number(bytes[1]) };
}

const order = (p: RaftPosition): number[] => [p.snapshotTerm, p.snapshotIndex, p.walStartIndex, p.walBytes];
export function compareRaft(a: RaftPosition, b: RaftPosition): number {
  const x = order(a);
  const y = order(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

export type RecoverPlan =
  | { readonly kind: "healthy"; readonly leaderOn: string }
  | { readonly kind: "fail"; readonly problem: string }
  | {
      readonly kind: "force";
      readonly survivor: InventoryNode;
      /** Other surviving managers: they leave their diverged state and rejoin. */
      readonly rejoin: readonly InventoryNode[];
      /** Inventory managers that cannot be reached: their entries are removed. */
      readonly lost: readonly string[];
      readonly steps: readonly string[];
    };

export function planRecover(
  inv: Inventory,
  obs: ReadonlyMap<string, Observation>,
  raft: ReadonlyMap<string, RaftPosition>,
): RecoverPlan {
  const managers = inv.nodes.filter((n) => n.role === "manager");
  const serving = managers.find((n) => canServe(obs.get(n.name)));
  if (serving) return { kind: "healthy", leaderOn: serving.name };
  const survivors = managers.filter((n) => {
    const o = obs.get(n.name);
    return o?.reachable === true && awaitsLeader(o.info) && raft.has(n.name);
  });
  if (survivors.length === 0) {
    const seen = managers.map((n) => {
      const o = obs.get(n.name);
      return `${n.name}: ${!o ? "not inspected" : !o.reachable ? `unreachable (${o.error})` : `swarm state ${o.info.state}`}`;
    });
    return {
      kind: "fail",
      problem: `no surviving manager holds the swarm's state (${seen.join("; ")}); restore the last backup with \`hcloud-swarm restore\``,
    };
  }
  const best = [...survivors].sort((a, b) =>
    compareRaft(raft.get(b.name) as RaftPosition, raft.get(a.name) as RaftPosition),
  )[0];
  const rejoin = survivors.filter((n) => n !== best);
  const lost = managers.filter((n) => obs.get(n.name)?.reachable !== true).map((n) => n.name);
  const pos = (n: InventoryNode) => {
    const p = raft.get(n.name) as RaftPosition;
    return `${n.name} (snapshot ${p.snapshotTerm}/${p.snapshotIndex}, WAL from ${p.walStartIndex}, ${p.walBytes} bytes)`;
  };
  const steps = [
    `survivors, newest Raft state first: ${[best, ...rejoin].map(pos).join(", ")}`,
    `${best.name}: docker swarm init --force-new-cluster --advertise-addr ${best.advertiseAddress} (services, secrets, networks and running tasks are kept)`,
    ...rejoin.map((n) => `${n.name}: docker swarm leave --force, then rejoin as a manager`),
    `${best.name}: remove the entries of the other managers (${[...rejoin.map((n) => n.name), ...lost].join(", ") || "none"})`,
    ...(lost.length > 0
      ? [
          `${lost.join(", ")}: unreachable; they rejoin when recover runs again after they are back with an empty swarm state (or replaced)`,
        ]
      : []),
    `bootstrap: join the reachable nodes that are not ready members`,
  ];
  return { kind: "force", survivor: best, rejoin, lost, steps };
}
