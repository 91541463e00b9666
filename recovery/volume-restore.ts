/**
 * Puts the pinned volumes' data of a backup back, once the swarm is restored and the nodes have
 * rejoined with their pin labels. A tar is unpacked into the volume on the node that held it while
 * the stack's writers are scaled to 0, so no task starts on a half-written volume; a database dump
 * is imported into the running database by its own client (the password read inside its container).
 */
import * as crypto from "crypto";
import type { Inventory } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import { shellQuote } from "../transport/shell";
import type { Manifest, ManifestVolume } from "./manifest";
import { parseServiceMounts } from "./volume-plan";
import { DUMP_TIMEOUT_MS, importCommand, quiesced } from "./volume-ops";
import { waitFor } from "../common/time";
import { DATABASE_READY_TIMEOUT_MS } from "./volume-ops";

const STAGING = "/run/hcloud-swarm/volume-restore.gz";

/** The volumes' bytes, each checked against the manifest; throws before anything is changed. */
export function sliceVolumes(manifest: Manifest, payload: Buffer, source: string): Map<ManifestVolume, Buffer> {
  const out = new Map<ManifestVolume, Buffer>();
  for (const v of manifest.volumes ?? []) {
    const data = payload.subarray(v.offset, v.offset + v.bytes);
    const sha = crypto.createHash("sha256").update(data).digest("hex");
    if (data.length !== v.bytes || sha !== v.sha256)
      throw new Error(
        `${source}: the data of volume ${v.volume} does not match its manifest (sha256 ${sha}, manifest ${v.sha256}); use another backup`,
      );
    out.set(v, data);
  }
  return out;
}

/** Waits until the database service has a running container on its node. */
async function runningOn(holder: SshSession, service: string): Promise<boolean> {
  return waitFor(
    async () =>
      (
        await holder.run(`docker ps -q --filter ${shellQuote(`label=com.docker.swarm.service.name=${service}`)}`)
      ).stdout.trim() !== "",
    DATABASE_READY_TIMEOUT_MS,
    1_000,
  );
}

export async function restoreVolumes(
  manager: SshSession,
  inv: Inventory,
  volumes: ReadonlyMap<ManifestVolume, Buffer>,
  sessionFor: (node: string) => SshSession | undefined,
  log: (l: string) => void,
): Promise<string[]> {
  if (volumes.size === 0) return [];
  const services = parseServiceMounts(
    (
      await manager.run(
        `ids=$(docker service ls -q --filter label=com.docker.stack.namespace); [ -z "$ids" ] || docker service inspect --format '{{json .}}' $ids`,
      )
    ).stdout,
  );
  const problems: string[] = [];
  for (const [v, data] of volumes) {
    const holder = inv.nodes.some((n) => n.name === v.node) ? sessionFor(v.node) : undefined;
    if (!holder) {
      problems.push(
        `${v.volume}: its node ${v.node} is not reachable or not in the inventory; restore it later from the same archive`,
      );
      continue;
    }
    await holder.upload(data, STAGING, { mode: "0600" });
    if (v.kind === "mysqldump") {
      const service = v.service as string;
      if (!(await runningOn(holder, service))) {
        problems.push(`${v.volume}: ${service} has no running container on ${v.node}; the dump was not imported`);
        continue;
      }
      await holder.run(`set -e; gunzip -c ${STAGING} | { ${importCommand(service)}; }; rm -f ${STAGING}`, {
        timeoutMs: DUMP_TIMEOUT_MS + DATABASE_READY_TIMEOUT_MS,
        display: `import the dump into ${service} inside its container`,
      });
      log(`[${v.node}] imported the dump of ${v.volume} into ${service}`);
      continue;
    }
    const writers = services
      .filter((s) => s.stack === v.stack && s.volumes[v.volume] !== undefined && s.replicas !== undefined)
      .map((s) => ({ service: s.name, replicas: s.replicas as number }));
    await quiesced(manager, holder, v.volume, writers, log, async () => {
      // Created if the node lost it, labelled as `docker stack deploy` labels the volumes it creates.
      await holder.run(
        `docker volume create --label ${shellQuote(`com.docker.stack.namespace=${v.stack}`)} ${shellQuote(v.volume)} >/dev/null`,
      );
      const mp = (
        await holder.run(`docker volume inspect --format '{{.Mountpoint}}' ${shellQuote(v.volume)}`)
      ).stdout.trim();
      await holder.run(
        `set -e; find ${shellQuote(mp)} -mindepth 1 -delete; tar -C ${shellQuote(mp)} --numeric-owner -xzf ${STAGING}; rm -f ${STAGING}`,
        { timeoutMs: DUMP_TIMEOUT_MS, display: `unpack volume ${v.volume}` },
      );
    });
    log(`[${v.node}] restored volume ${v.volume} (${v.bytes} bytes compressed) before its writers started again`);
  }
  return problems;
}
