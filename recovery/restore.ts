/**
 * `hcloud-swarm restore`: Docker's restore procedure (engine/swarm/admin_guide.md), automated.
 * Inspect (archive, key, every node), refuse or confirm, act on one manager (stop, replace the swarm
 * directory, start, unlock if locked, init --force-new-cluster), then the other nodes rejoin
 * through bootstrap, keeping the labels the backup's entries had (placement pins).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import { shellQuote } from "../transport/shell";
import { parseSwarmInfo } from "../bootstrap/swarm-state";
import { SWARM_INFO } from "../bootstrap/swarm-ops";
import { readNodes } from "../swarm/nodes";
import { LABEL_HOST_KEY, LABEL_SSH, Observation } from "../bootstrap/plan";
import { bootstrap, BootstrapResult } from "../bootstrap/bootstrap";
import { addLabels } from "../swarm/node-update";
import { rebindHolders } from "../stacks/placement/pin-history";
import { describeRecord, readPinRecords, writePinRecord } from "../stacks/deploy/pin-records";
import { onLeader } from "../swarm/leader";
import { openArchive } from "./archive";
import { readKeyFile } from "./key-file";
import { readUnlockKeys } from "./unlock-key-file";
import { unlockWith } from "../swarm/autolock";
import { Manifest, parseManifest } from "./manifest";
import { describeBackup, planRestore } from "./restore-plan";
import { startEngine, stopEngine } from "./engine";
import { openSessions } from "./sessions";
import { confirm } from "./confirm";
import { restoreVolumes, sliceVolumes } from "./volume-restore";
import type { ManifestVolume } from "./manifest";

/** Unpacking the swarm state (64 MB WAL segments, mostly zeros); a minute means the node is in trouble. */
export const UNPACK_TIMEOUT_MS = 60_000;
/** `swarm init --force-new-cluster` rewrites the Raft membership and starts the control plane. */
export const FORCE_NEW_CLUSTER_TIMEOUT_MS = 120_000;
/** `swarm leave --force` stops the node's tasks (shutdown-timeout each) before it returns. */
export const LEAVE_TIMEOUT_MS = 120_000;
const STAGING = "/run/hcloud-swarm/restore.tgz";

export interface RestoreOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly archivePath: string;
  readonly keyFile: string;
  /** File holding the swarm's unlock key, for a backup of an autolocked swarm. Default none. */
  readonly unlockKeyFile?: string;
  readonly yes: boolean;
  readonly force: boolean;
  readonly otherCluster: boolean;
  readonly log: (line: string) => void;
}

export interface RestoreResult {
  readonly manifest: Manifest;
  readonly target: string;
  readonly bootstrap: BootstrapResult;
  /** Pinned volumes that could not be put back, each with why. */
  readonly volumeProblems: readonly string[];
}

/** Decrypts and checks the archive; nothing on any node has been touched when this throws. */
export function readBackup(
  archivePath: string,
  keyFile: string,
): { manifest: Manifest; data: Buffer; volumes: Map<ManifestVolume, Buffer> } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(archivePath);
  } catch (err) {
    throw new Error(
      `cannot read the archive ${archivePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const opened = openArchive(readKeyFile(keyFile), bytes, archivePath);
  const manifest = parseManifest(opened.manifestJson, archivePath);
  const swarm = opened.data.subarray(0, manifest.tarball.bytes);
  const sha = crypto.createHash("sha256").update(swarm).digest("hex");
  const volumeBytes = (manifest.volumes ?? []).reduce((a, v) => a + v.bytes, 0);
  if (sha !== manifest.tarball.sha256 || opened.data.length !== manifest.tarball.bytes + volumeBytes) {
    throw new Error(
      `${archivePath}: the swarm state inside does not match its manifest (sha256 ${sha}, manifest ${manifest.tarball.sha256}); use another backup`,
    );
  }
  return { manifest, data: swarm, volumes: sliceVolumes(manifest, opened.data, archivePath) };
}

async function observe(s: SshSession | undefined, error: string | undefined): Promise<Observation> {
  if (!s) return { reachable: false, error: error ?? "not connected" };
  try {
    return { reachable: true, info: parseSwarmInfo((await s.run(SWARM_INFO)).stdout, s.node) };
  } catch (err) {
    return { reachable: false, error: (err as Error).message };
  }
}

/**
 * Unlocks a locked engine with the keys of a file (one per line, as bootstrap keeps them), through
 * stdin, never on a command line. A key that does not open it is named as such: the backup's Raft
 * keys were encrypted with the unlock key of when it was taken.
 */
async function unlockIfLocked(
  s: SshSession,
  unlockKeyFile: string | undefined,
  log: (l: string) => void,
): Promise<void> {
  const state = (await s.run("docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim();
  if (state !== "locked") return;
  if (!unlockKeyFile)
    throw new Error(
      `the restored swarm on ${s.node} is locked (autolock was on when the backup was taken); run restore again with --unlock-key-file FILE holding the unlock key of that time`,
    );
  const keys = readUnlockKeys(unlockKeyFile);
  if (keys.length === 0)
    throw new Error(
      `the unlock key file ${unlockKeyFile} does not exist; pass the file holding the swarm's unlock key`,
    );
  if ((await unlockWith(s, keys)) === "wrong-key")
    throw new Error(
      `the unlock key(s) in ${unlockKeyFile} do not open the restored swarm on ${s.node} (docker: invalid key): the backup needs the unlock key the swarm had when it was taken; run restore again with --unlock-key-file holding that key`,
    );
  log(`[${s.node}] unlocked the restored swarm with the key in ${unlockKeyFile}`);
}

export async function restore(inv: Inventory, opts: RestoreOptions): Promise<RestoreResult> {
  const { manifest, data, volumes } = readBackup(opts.archivePath, opts.keyFile);
  opts.log(`backup: ${describeBackup(manifest)}`);
  const sessions = await openSessions(inv.nodes, opts.privateKeyFor, opts.log);
  try {
    const obs = new Map<string, Observation>();
    await Promise.all(
      inv.nodes.map(async (n) =>
        obs.set(n.name, await observe(sessions.open.get(n.name), sessions.unreachable.get(n.name))),
      ),
    );
    const plan = planRestore(inv, manifest, obs, opts, opts.archivePath);
    if (plan.refusals.length > 0)
      throw new Error(`restore refused; nothing was changed:\n  - ${plan.refusals.join("\n  - ")}`);
    const target = plan.target as InventoryNode;
    opts.log(`restore will:\n${plan.steps.map((l) => `  ${l}`).join("\n")}`);
    if (plan.unreachable.length > 0)
      opts.log(
        `warning: cannot reach ${plan.unreachable.join(", ")}; they stay out until a later \`hcloud-swarm bootstrap\``,
      );
    await confirm(`Replace the swarm state of ${inv.cluster ?? "hcloud-swarm"} with this backup?`, opts.yes);
    for (const n of plan.leave) {
      await sessions.get(n).run("docker swarm leave --force", { timeoutMs: LEAVE_TIMEOUT_MS });
      opts.log(`[${n.name}] left the swarm`);
    }
    const s = sessions.get(target);
    const rootDir = (await s.run("docker info --format '{{.DockerRootDir}}'")).stdout.trim();
    await s.upload(data, STAGING, { mode: "0600" });
    const stopped = await stopEngine(s);
    try {
      const root = shellQuote(rootDir);
      await s.run(
        `set -e; rm -rf ${root}/swarm; tar -xzf ${STAGING} -C ${root}; rm -f ${STAGING}; test -d ${root}/swarm/raft`,
        { timeoutMs: UNPACK_TIMEOUT_MS, display: `replace ${rootDir}/swarm with the backup's` },
      );
    } finally {
      await startEngine(s, stopped);
    }
    opts.log(
      `[${target.name}] replaced ${rootDir}/swarm with the backup's ${manifest.files.length} files and started dockerd`,
    );
    await unlockIfLocked(s, opts.unlockKeyFile, opts.log);
    await s.run(`docker swarm init --force-new-cluster --advertise-addr ${shellQuote(target.advertiseAddress)}`, {
      timeoutMs: FORCE_NEW_CLUSTER_TIMEOUT_MS,
    });
    opts.log(`[${target.name}] docker swarm init --force-new-cluster --advertise-addr ${target.advertiseAddress}`);
    await onLeader(s, "docker node ls -q");
    const carried = await dropStaleEntries(s, target, opts.log);
    const result = await bootstrap(inv, { privateKeyFor: opts.privateKeyFor, log: opts.log });
    for (const m of result.members) {
      const labels = carried.get(m.hostname);
      if (labels && Object.keys(labels).length > 0 && m.hostname !== target.name) await addLabels(s, m.id, labels);
    }
    // The nodes rejoined with their disks: the pin history follows them to their new IDs.
    for (const r of rebindHolders(await readPinRecords(s), result.members, carried)) {
      await writePinRecord(s, r);
      opts.log(`[${target.name}] ${describeRecord(r)} (the same nodes, rejoined)`);
    }
    const volumeProblems = await restoreVolumes(s, inv, volumes, (n) => sessions.open.get(n), opts.log);
    return { manifest, target: target.name, bootstrap: result, volumeProblems };
  } finally {
    sessions.closeAll();
  }
}

/**
 * Removes every member but the target from the restored Raft state (they rejoin as new nodes) and
 * returns their labels by hostname, without bootstrap's own bookkeeping labels, to put back.
 */
async function dropStaleEntries(
  s: SshSession,
  target: InventoryNode,
  log: (l: string) => void,
): Promise<Map<string, Record<string, string>>> {
  const carried = new Map<string, Record<string, string>>();
  const self = parseSwarmInfo((await s.run(SWARM_INFO)).stdout, s.node).nodeId;
  for (const m of await readNodes(s)) {
    if (m.id === self) continue;
    carried.set(
      m.hostname,
      Object.fromEntries(Object.entries(m.labels).filter(([k]) => k !== LABEL_SSH && k !== LABEL_HOST_KEY)),
    );
    if (m.role === "manager") {
      // --force-new-cluster already dropped the other managers from the Raft membership; docker then
      // says so, and the entry is only a record that `node rm --force` removes.
      const r = await onLeader(s, `docker node demote ${shellQuote(m.id)}`, { allowFailure: true });
      if (r.code !== 0 && !/can't find manager in raft memberlist/i.test(r.stderr))
        throw new Error(`docker node demote ${m.id} (${m.hostname}) failed on ${target.name}: ${r.stderr.trim()}`);
    }
    await onLeader(s, `docker node rm --force ${shellQuote(m.id)}`);
    log(`[${target.name}] removed the backup's entry of ${m.hostname} (${m.id}); it rejoins as a new node`);
  }
  return carried;
}
