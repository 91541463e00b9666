/**
 * `hcloud-swarm rotate`: Docker's own rotations, run on a manager that has a leader. Join tokens
 * (joined nodes are not affected) and the swarm CA (`docker swarm ca --rotate` without --detach
 * returns only once every node has renewed its certificate onto the new root). No secret is read
 * back or printed: the new tokens stay on the managers.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { parseSwarmInfo } from "../bootstrap/swarm-state";
import { SWARM_INFO } from "../bootstrap/swarm-ops";
import { onLeader } from "../swarm/leader";
import { openSessions } from "./sessions";
import type { SshSession } from "../transport/ssh";

/** A CA rotation waits for every node to renew its certificate and then for the old root to go: minutes on a big or slow swarm. */
export const CA_ROTATION_TIMEOUT_MS = 600_000;

/** A leader change in the middle of a rotation fails it with "node lost leader status"; the rotation is simply asked for again. */
export const ROTATE_RETRIES = 3;

async function rotateOnLeader(s: SshSession, command: string, display: string, timeoutMs?: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await onLeader(s, command, { display, allowFailure: true, ...(timeoutMs ? { timeoutMs } : {}) });
    if (r.code === 0) return;
    if (attempt >= ROTATE_RETRIES || !/lost leader status/i.test(r.stderr))
      throw new Error(`${display} failed on ${s.node} (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

export interface RotateOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly joinTokens: boolean;
  readonly ca: boolean;
  readonly log: (line: string) => void;
}

export async function rotate(inv: Inventory, opts: RotateOptions): Promise<string[]> {
  const managers = inv.nodes.filter((n) => n.role === "manager");
  const sessions = await openSessions(managers, opts.privateKeyFor, opts.log);
  try {
    let entry: InventoryNode | undefined;
    for (const n of managers) {
      const s = sessions.open.get(n.name);
      if (!s) continue;
      const info = parseSwarmInfo((await s.run(SWARM_INFO)).stdout, n.name);
      if (info.state === "active" && info.controlAvailable && info.clusterId) {
        entry = n;
        break;
      }
    }
    if (!entry)
      throw new Error(
        `no manager of the inventory serves the swarm with a leader (${[...sessions.unreachable.keys()].join(", ") || "all reachable"} unreachable); run \`hcloud-swarm recover\` first`,
      );
    const s = sessions.get(entry);
    const done: string[] = [];
    if (opts.joinTokens) {
      // -q prints the new token; it goes to /dev/null on the manager and never reaches this machine.
      await rotateOnLeader(
        s,
        "docker swarm join-token --rotate -q worker >/dev/null && docker swarm join-token --rotate -q manager >/dev/null",
        "docker swarm join-token --rotate worker and manager",
      );
      done.push(`rotated the worker and manager join tokens on ${entry.name} (joined nodes are not affected)`);
    }
    if (opts.ca) {
      opts.log(`[${entry.name}] rotating the swarm CA; waiting until every node has renewed its certificate`);
      const before = (await s.run("docker info --format '{{.Swarm.Cluster.TLSInfo.TrustRoot}}'")).stdout.trim();
      await rotateOnLeader(
        s,
        "docker swarm ca --rotate --quiet >/dev/null",
        "docker swarm ca --rotate",
        CA_ROTATION_TIMEOUT_MS,
      );
      const root = (await s.run("docker info --format '{{.Swarm.Cluster.TLSInfo.TrustRoot}}'")).stdout.trim();
      const issuers = (
        await onLeader(
          s,
          "docker node inspect $(docker node ls -q) --format '{{.Description.Hostname}} {{json .Description.TLSInfo.TrustRoot}}'",
        )
      ).stdout
        .trim()
        .split("\n");
      // Each line: hostname, then the node's trust root as a JSON string (PEM with its newlines).
      const behind = issuers.filter((l) => (JSON.parse(l.slice(l.indexOf(" ") + 1)) as string).trim() !== root);
      if (root === before)
        throw new Error(`docker swarm ca --rotate returned on ${entry.name} but the trust root did not change`);
      if (behind.length > 0)
        throw new Error(
          `the CA was rotated but these nodes do not report the new root yet: ${behind.map((l) => l.split(" ")[0]).join(", ")}`,
        );
      done.push(
        `rotated the swarm CA on ${entry.name}: all ${issuers.length} nodes renewed their certificates onto the new root`,
      );
    }
    return done;
  } finally {
    sessions.closeAll();
  }
}
