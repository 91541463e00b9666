/**
 * `hcloud-swarm rotate`: Docker's own rotations, run on a manager that has a leader. Join tokens
 * (joined nodes are not affected), the swarm CA (started detached, then waited on from what the
 * nodes report: ./rotate-plan) and the unlock key (the new key is kept before the old one is let go).
 * Tokens are never read back: the new ones stay on the managers. The unlock key is read over SSH
 * into the key file only, never printed.
 */
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { parseSwarmInfo } from "../bootstrap/swarm-state";
import { SWARM_INFO } from "../bootstrap/swarm-ops";
import { onLeader } from "../swarm/leader";
import { openSessions } from "./sessions";
import type { SshSession } from "../transport/ssh";
import { sleep } from "../common/time";
import { liveUnlockKey, rotateJoinTokens, rotateUnlockKey, type UnlockKeyStore } from "../swarm/autolock";
import { keysToKeep, mustKeep } from "../swarm/autolock-plan";
import { caProgress, type NodeRoot } from "./rotate-plan";

/**
 * How long a CA rotation may take. Each node renews its certificate at its next contact with a
 * manager, and Docker completes the rotation only when all have (then nodes report the new root at
 * their next heartbeat): seconds on a small swarm, minutes on a big or starved one. A node that is
 * down never renews; the wait ends naming it rather than hanging as `docker swarm ca --rotate` would.
 */
export const CA_ROTATION_TIMEOUT_MS = 600_000;
/** How often the nodes' trust roots are read while a CA rotation runs. */
const CA_POLL_MS = 1_000;

/** A leader change in the middle of a rotation fails it with "node lost leader status"; the rotation is simply asked for again. */
export const ROTATE_RETRIES = 3;

async function rotateOnLeader(s: SshSession, command: string, display: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await onLeader(s, command, { display, allowFailure: true });
    if (r.code === 0) return;
    if (attempt >= ROTATE_RETRIES || !/lost leader status/i.test(r.stderr))
      throw new Error(`${display} failed on ${s.node} (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

export interface RotateOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly joinTokens: boolean;
  readonly ca: boolean;
  /** Where the unlock keys are kept; set to rotate the unlock key. */
  readonly unlockKeys?: UnlockKeyStore;
  readonly log: (line: string) => void;
}

const TRUST_ROOT = "docker info --format '{{.Swarm.Cluster.TLSInfo.TrustRoot}}'";

async function nodeRoots(s: SshSession): Promise<NodeRoot[]> {
  const r = await onLeader(
    s,
    "docker node inspect $(docker node ls -q) --format '[{{json .Description.Hostname}},{{json .Status.State}},{{json .Description.TLSInfo.TrustRoot}}]'",
  );
  // One JSON array per line: the root is PEM with its newlines escaped.
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => {
      const [name, status, root] = JSON.parse(l) as string[];
      return { name, status, root };
    });
}

/** Starts the CA rotation and waits, from the nodes' own reports, until every node holds the new root. */
async function rotateCa(s: SshSession, log: (l: string) => void): Promise<number> {
  const before = (await s.run(TRUST_ROOT)).stdout.trim();
  await rotateOnLeader(s, "docker swarm ca --rotate --detach --quiet >/dev/null", "docker swarm ca --rotate --detach");
  let progress = caProgress(before, before, []);
  let nodes: NodeRoot[] = [];
  let reported = -1;
  for (const deadline = Date.now() + CA_ROTATION_TIMEOUT_MS; ;) {
    const root = (await s.run(TRUST_ROOT)).stdout.trim();
    nodes = await nodeRoots(s);
    progress = caProgress(before, root, nodes);
    if (progress.done) return nodes.length;
    if (progress.behind.length !== reported) {
      reported = progress.behind.length;
      log(`[${s.node}] CA rotation: ${nodes.length - reported} of ${nodes.length} nodes on the new root`);
    }
    if (Date.now() > deadline) break;
    await sleep(CA_POLL_MS);
  }
  throw new Error(
    `the CA rotation did not finish within ${CA_ROTATION_TIMEOUT_MS / 1000} s: ${progress.behind.join(", ")} do not report the new root yet${progress.down.length ? ` (${progress.down.join(", ")} down: bring them back, or remove them with \`docker node rm\`)` : ""}; Docker goes on with it, run \`docker swarm ca\` on a manager to follow it`,
  );
}

/** Rotates the unlock key, keeping the current key first and the new one as soon as Docker gives it. */
async function rotateUnlock(s: SshSession, keys: UnlockKeyStore): Promise<void> {
  const live = await liveUnlockKey(s);
  if (live === "")
    throw new Error(
      "autolock is off on this swarm, so there is no unlock key to rotate; turn it on with `hcloud-swarm bootstrap --autolock`",
    );
  // The key the swarm has now goes into the file first: whatever happens next, it is not lost.
  if (mustKeep(keys.known, live)) keys.keep(keysToKeep(keys.known, live));
  const next = await rotateUnlockKey(s);
  keys.keep(keysToKeep(keys.known, next));
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
      await rotateJoinTokens(s, ["worker", "manager"]);
      done.push(`rotated the worker and manager join tokens on ${entry.name} (joined nodes are not affected)`);
    }
    if (opts.unlockKeys) {
      await rotateUnlock(s, opts.unlockKeys);
      done.push(
        `rotated the unlock key on ${entry.name}: the new key is kept in ${opts.unlockKeys.where}, the previous one after it (a manager that was down during the rotation may still open with it)`,
      );
    }
    if (opts.ca) {
      opts.log(`[${entry.name}] rotating the swarm CA; waiting until every node has renewed its certificate`);
      const nodes = await rotateCa(s, opts.log);
      done.push(
        `rotated the swarm CA on ${entry.name}: all ${nodes} nodes renewed their certificates onto the new root`,
      );
    }
    return done;
  } finally {
    sessions.closeAll();
  }
}
