/**
 * The pinned volumes' data in a backup: found from the pins recorded on the nodes, taken
 * consistently (a database dump run by the database, or a tar with the stack's writers scaled to
 * 0), checksummed on the node and here. Inspect (pins, services, volumes), act (dump or
 * quiesce-copy-resume), report (one manifest entry per volume).
 */
import * as crypto from "crypto";
import type { Inventory } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import type { NodeFacts } from "../swarm/nodes";
import { shellQuote } from "../transport/shell";
import type { ManifestVolume } from "./manifest";
import { type HeldVolumes, parseServiceMounts, pinnedStacks, planVolumeJobs, type VolumeJob } from "./volume-plan";
import { dumpCommand, DUMP_TIMEOUT_MS, quiesced } from "./volume-ops";
import type { Sessions } from "./sessions";

/** Where a volume's copy waits on its node before the download: root-only, in /run. */
export const VOLUME_STAGING = "/run/hcloud-swarm/volume.gz";

export interface TakenVolume {
  readonly entry: Omit<ManifestVolume, "offset">;
  readonly data: Buffer;
}

/** Finds the jobs: services of the pinned stacks (on a manager) and their volumes on each holder. */
async function findJobs(
  manager: SshSession,
  members: readonly NodeFacts[],
  sessions: Sessions,
  inv: Inventory,
): Promise<{ jobs: VolumeJob[]; problems: string[] }> {
  const pinned = pinnedStacks(members);
  if (pinned.length === 0) return { jobs: [], problems: [] };
  const r = await manager.run(
    `ids=$(docker service ls -q --filter label=com.docker.stack.namespace); [ -z "$ids" ] || docker service inspect --format '{{json .}}' $ids`,
  );
  const services = parseServiceMounts(r.stdout);
  const held: HeldVolumes[] = [];
  const problems: string[] = [];
  for (const p of pinned) {
    const node = inv.nodes.find((n) => n.name === p.node);
    const s = node ? sessions.open.get(node.name) : undefined;
    if (!s) {
      problems.push(
        `${p.node} holds pin ${p.pin} of stack ${p.stack} but ${node ? `cannot be reached (${sessions.unreachable.get(node.name) ?? "not connected"})` : "is not in the inventory"}; its volumes are not in this backup`,
      );
      continue;
    }
    const v = await s.run(`docker volume ls -q --filter ${shellQuote(`label=com.docker.stack.namespace=${p.stack}`)}`);
    held.push({ ...p, volumes: v.stdout.split("\n").filter(Boolean) });
  }
  const planned = planVolumeJobs(held, services);
  return { jobs: planned.jobs, problems: [...problems, ...planned.problems] };
}

/** Downloads the gzip'd copy staged on the node and checks it against the node's own checksum. */
async function download(s: SshSession, what: string): Promise<Buffer> {
  const dl = await s.run(
    `base64 -w0 ${VOLUME_STAGING} && echo && sha256sum < ${VOLUME_STAGING} | cut -c1-64; rm -f ${VOLUME_STAGING}`,
    { timeoutMs: DUMP_TIMEOUT_MS, display: `download ${what}` },
  );
  const [b64, remote] = dl.stdout.split("\n");
  const data = Buffer.from(b64, "base64");
  const sha = crypto.createHash("sha256").update(data).digest("hex");
  if (sha !== remote.trim())
    throw new Error(
      `the copy of ${what} from ${s.node} arrived damaged (sha256 ${sha}, the node computed ${remote.trim()}); run the backup again`,
    );
  return data;
}

async function take(
  job: VolumeJob,
  manager: SshSession,
  holder: SshSession,
  log: (l: string) => void,
): Promise<Buffer> {
  if (job.kind === "mysqldump") {
    // Into a file first: a failing dump must fail the backup, not leave a short gzip behind.
    await holder.run(
      `set -e; umask 077; mkdir -p /run/hcloud-swarm; { ${dumpCommand(job.service)}; } > ${VOLUME_STAGING}.sql; gzip -c ${VOLUME_STAGING}.sql > ${VOLUME_STAGING}; rm -f ${VOLUME_STAGING}.sql`,
      { timeoutMs: DUMP_TIMEOUT_MS, display: `dump the databases of ${job.service} inside its container` },
    );
    log(`[${holder.node}] dumped the databases of ${job.service} (volume ${job.volume}) from inside its container`);
    return download(holder, `the dump of ${job.service}`);
  }
  return quiesced(manager, holder, job.volume, job.writers, log, async () => {
    const mp = (
      await holder.run(`docker volume inspect --format '{{.Mountpoint}}' ${shellQuote(job.volume)}`)
    ).stdout.trim();
    await holder.run(
      `set -e; umask 077; mkdir -p /run/hcloud-swarm; tar -C ${shellQuote(mp)} --numeric-owner -czf ${VOLUME_STAGING} .`,
      { timeoutMs: DUMP_TIMEOUT_MS, display: `tar volume ${job.volume}` },
    );
    return download(holder, `volume ${job.volume}`);
  });
}

/** Takes every pinned volume; a volume that cannot be taken consistently fails the backup, naming it. */
export async function backupVolumes(
  manager: SshSession,
  members: readonly NodeFacts[],
  sessions: Sessions,
  inv: Inventory,
  log: (l: string) => void,
): Promise<TakenVolume[]> {
  const { jobs, problems } = await findJobs(manager, members, sessions, inv);
  if (problems.length > 0)
    throw new Error(`the pinned volumes cannot all be backed up consistently:\n  - ${problems.join("\n  - ")}`);
  const taken: TakenVolume[] = [];
  for (const job of jobs) {
    const holder = sessions.open.get(job.node) as SshSession;
    const data = await take(job, manager, holder, log);
    const sha256 = crypto.createHash("sha256").update(data).digest("hex");
    const { kind, stack, volume, node, pin } = job;
    taken.push({
      entry: {
        kind,
        stack,
        volume,
        node,
        pin,
        ...(job.kind === "mysqldump" ? { service: job.service } : {}),
        bytes: data.length,
        sha256,
      },
      data,
    });
    log(
      `[${node}] ${kind === "tar" ? "volume" : "database dump of"} ${volume}: ${data.length} bytes compressed, sha256 ${sha256.slice(0, 16)}…`,
    );
  }
  return taken;
}
