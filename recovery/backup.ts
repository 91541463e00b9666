/**
 * `hcloud-swarm backup`: the swarm's Raft state copied as Docker documents it (engine stopped on a
 * non-leader manager), checksummed, described by a manifest and encrypted here with the user's key.
 * Inspect (members, source choice), act (stop, copy, start), report (manifest, archive path).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import { readNodes } from "../swarm/nodes";
import { onLeader } from "../swarm/leader";
import { shellQuote } from "../transport/shell";
import { chooseBackupSource } from "./backup-plan";
import { startEngine, stopEngine } from "./engine";
import { Manifest, MANIFEST_FORMAT, ManifestVolume, parseFileList } from "./manifest";
import { backupVolumes } from "./volume-backup";
import { sealArchive } from "./archive";
import { ensureKeyFile } from "./key-file";
import { liveUnlockKey, unlockWith, type UnlockKeyStore } from "../swarm/autolock";
import { readSwarmInfo } from "../bootstrap/swarm-ops";
import { openSessions } from "./sessions";

/** tar+gzip of the swarm directory while the engine is stopped: 64 MB WAL segments, preallocated and mostly zeros, plus the snapshots. */
export const COPY_TIMEOUT_MS = 120_000;
/** Where the copy waits on the node between the engine's restart and the download: root-only, in /run. */
const STAGING = "/run/hcloud-swarm/backup";

export interface BackupOptions {
  readonly privateKeyFor: (n: InventoryNode) => string;
  readonly outDir: string;
  readonly keyFile: string;
  /** The swarm's unlock keys: an autolocked manager restarts locked and is unlocked with them. Default none. */
  readonly unlockKeys?: UnlockKeyStore;
  readonly log: (line: string) => void;
}

export interface BackupResult {
  readonly archive: string;
  readonly manifest: Manifest;
}

interface EngineFacts {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly rootDir: string;
  readonly version: string;
  readonly autolock: boolean;
}

async function engineFacts(s: SshSession): Promise<EngineFacts> {
  const r = await s.run(
    `docker info --format '{{json .Swarm}}' && docker info --format '{{.DockerRootDir}}' && docker version --format '{{.Server.Version}}'`,
  );
  const [swarmJson, rootDir, version] = r.stdout.trim().split("\n");
  const swarm = JSON.parse(swarmJson) as {
    NodeID?: string;
    Cluster?: { ID?: string; Spec?: { EncryptionConfig?: { AutoLockManagers?: boolean } } };
  };
  if (!swarm.NodeID || !swarm.Cluster?.ID)
    throw new Error(`${s.node} does not report its swarm cluster (docker info: ${swarmJson.slice(0, 200)})`);
  if (!rootDir?.startsWith("/")) throw new Error(`${s.node} reports no Docker root directory`);
  return {
    nodeId: swarm.NodeID,
    clusterId: swarm.Cluster.ID,
    rootDir,
    version: version ?? "",
    autolock: swarm.Cluster.Spec?.EncryptionConfig?.AutoLockManagers === true,
  };
}

/** Copies DOCKER_ROOT/swarm into the staging area with a file list (sha256, size, path); runs while the engine is stopped. */
function copyScript(rootDir: string): string {
  return `set -e
umask 077
rm -rf ${STAGING} && mkdir -p ${STAGING}
cd ${shellQuote(rootDir)}
[ -d swarm ] || { echo "no swarm directory under ${rootDir}" >&2; exit 3; }
tar -czf ${STAGING}/swarm.tgz swarm
find swarm -type f | LC_ALL=C sort | while IFS= read -r f; do printf '%s %s %s\\n' "$(sha256sum < "$f" | cut -c1-64)" "$(stat -c %s "$f")" "$f"; done > ${STAGING}/files
sha256sum < ${STAGING}/swarm.tgz | cut -c1-64 > ${STAGING}/swarm.tgz.sha256`;
}

export async function backup(inv: Inventory, opts: BackupOptions): Promise<BackupResult> {
  const cluster = inv.cluster ?? "hcloud-swarm";
  const managers = inv.nodes.filter((n) => n.role === "manager");
  // Every node: a pinned volume may live on a worker.
  const sessions = await openSessions(inv.nodes, opts.privateKeyFor, opts.log);
  try {
    const first = managers.find((n) => sessions.open.has(n.name));
    if (!first)
      throw new Error(
        `no manager could be reached: ${[...sessions.unreachable].map(([n, e]) => `${n}: ${e}`).join("; ")}`,
      );
    const members = await readNodes(sessions.get(first));
    const choice = chooseBackupSource(inv, members);
    if (choice.kind === "fail") throw new Error(`backup of ${cluster}: ${choice.problem}`);
    const s = sessions.get(choice.node);
    const facts = await engineFacts(s);
    if (choice.pause) opts.log(`note: ${choice.pause}`);
    opts.log(
      `[${choice.node.name}] stopping dockerd to copy ${facts.rootDir}/swarm (${choice.managers} manager(s), ${choice.member.leader ? "the leader" : "not the leader"})`,
    );
    const { key, created } = ensureKeyFile(opts.keyFile);
    if (created)
      opts.log(
        `generated the backup key ${opts.keyFile} (mode 0600): keep it apart from the backups; without it they cannot be restored`,
      );
    // Autolock: the manager restarts locked. Refused before anything stops unless a kept key is the swarm's.
    const autolocked = (await readSwarmInfo(s)).autolock === true;
    if (autolocked) {
      const live = await liveUnlockKey(s);
      if (!opts.unlockKeys?.known.includes(live))
        throw new Error(
          `the swarm is autolocked and ${opts.unlockKeys ? `no key in ${opts.unlockKeys.where} is its current unlock key` : "no unlock key file was given"}: ${choice.node.name} would restart locked; pass --unlock-key-file with the swarm's key (bootstrap keeps it); nothing was stopped`,
        );
    }
    const createdAt = new Date();
    const stopped = await stopEngine(s);
    const t0 = Date.now();
    try {
      await s.run(copyScript(facts.rootDir), {
        timeoutMs: COPY_TIMEOUT_MS,
        display: `copy ${facts.rootDir}/swarm to ${STAGING}`,
      });
    } finally {
      await startEngine(s, stopped);
    }
    if (autolocked && opts.unlockKeys && (await unlockWith(s, opts.unlockKeys.known)) === "unlocked")
      opts.log(
        `[${choice.node.name}] restarted locked (autolock); unlocked with the key kept in ${opts.unlockKeys.where}`,
      );
    const stoppedSeconds = (Date.now() - t0) / 1000;
    opts.log(
      `[${choice.node.name}] dockerd is back after ${stoppedSeconds.toFixed(1)} s (${stopped.init === "systemd" ? "systemctl" : "restarted with its own argv and environment: no systemd"})`,
    );
    // Base64: the transport returns text.
    const dl = await s.run(
      `base64 -w0 ${STAGING}/swarm.tgz && echo && cat ${STAGING}/swarm.tgz.sha256 && cat ${STAGING}/files && rm -rf ${STAGING}`,
      { timeoutMs: COPY_TIMEOUT_MS, display: `download ${STAGING}/swarm.tgz` },
    );
    const [b64, remoteSha, ...fileLines] = dl.stdout.split("\n");
    const data = Buffer.from(b64, "base64");
    const sha = crypto.createHash("sha256").update(data).digest("hex");
    if (sha !== remoteSha.trim())
      throw new Error(
        `the copy of the swarm state from ${choice.node.name} arrived damaged (sha256 ${sha}, the node computed ${remoteSha.trim()}); run the backup again`,
      );
    // Wait for the control plane before reporting success: a backup that left the swarm without a leader is not done.
    await onLeader(s, "docker node ls -q");
    // After the Raft copy, so that the state backed up has the writers' replica counts, not the 0 of a quiesce.
    const taken = await backupVolumes(s, members, sessions, inv, opts.log);
    let offset = data.length;
    const volumes: ManifestVolume[] = taken.map((t) => {
      const v = { ...t.entry, offset };
      offset += t.data.length;
      return v;
    });
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      cluster,
      clusterId: facts.clusterId,
      createdAt: createdAt.toISOString(),
      source: { node: choice.node.name, nodeId: facts.nodeId, advertiseAddress: choice.node.advertiseAddress },
      dockerVersion: facts.version,
      dockerRootDir: facts.rootDir,
      autolock: facts.autolock,
      nodes: members.map((m) => ({ id: m.id, hostname: m.hostname, role: m.role, status: m.status, labels: m.labels })),
      files: parseFileList(fileLines.join("\n")),
      tarball: { bytes: data.length, sha256: sha },
      engineStoppedSeconds: Math.round(stoppedSeconds * 10) / 10,
      volumes,
    };
    fs.mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
    const stamp = createdAt
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const archive = path.resolve(opts.outDir, `${cluster}-${stamp}.hswb`);
    fs.writeFileSync(
      archive,
      sealArchive(key, JSON.stringify(manifest), Buffer.concat([data, ...taken.map((t) => t.data)])),
      { mode: 0o600, flag: "wx" },
    );
    opts.log(
      `${manifest.files.length} files, ${manifest.files.reduce((a, f) => a + f.bytes, 0)} bytes of swarm state (${data.length} bytes compressed), ${members.length} nodes, Docker ${facts.version}, cluster ${facts.clusterId}`,
    );
    opts.log(
      volumes.length === 0
        ? "no pinned volumes (no node holds a placement pin of a deployed stack)"
        : `${volumes.length} pinned volume(s): ${volumes.map((v) => `${v.volume} on ${v.node} (${v.kind}, ${v.bytes} bytes)`).join(", ")}`,
    );
    return { archive, manifest };
  } finally {
    sessions.closeAll();
  }
}
