/**
 * What a backup holds, readable before anything is restored: cluster, node IDs, Docker version,
 * time, sizes and checksums. Parsed back with every problem reported.
 */
export const MANIFEST_FORMAT = 2;
/** Formats this release reads: 1 had no volumes. */
const READABLE_FORMATS = [1, 2];

export interface ManifestFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ManifestNode {
  readonly id: string;
  readonly hostname: string;
  readonly role: "manager" | "worker";
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A pinned volume's data, stored after the swarm state's tar.gz in the archive's payload. */
export interface ManifestVolume {
  /** "tar": the volume's files (gzip'd tar), taken with the writers scaled to 0; "mysqldump": gzip'd SQL of every database. */
  readonly kind: "tar" | "mysqldump";
  readonly stack: string;
  /** Docker volume name, e.g. wordpress_db_data. */
  readonly volume: string;
  /** Hostname of the node holding the pin. */
  readonly node: string;
  readonly pin: string;
  /** mysqldump only: the database service the dump is imported into. */
  readonly service?: string;
  /** Where its bytes start in the payload, after the swarm state. */
  readonly offset: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly format: number;
  /** The inventory's cluster name. */
  readonly cluster: string;
  /** The swarm's cluster ID (`docker info` .Swarm.Cluster.ID). */
  readonly clusterId: string;
  /** ISO time the engine was stopped for the copy. */
  readonly createdAt: string;
  /** The manager the state was copied from. */
  readonly source: { readonly node: string; readonly nodeId: string; readonly advertiseAddress: string };
  readonly dockerVersion: string;
  readonly dockerRootDir: string;
  /** Whether the swarm was autolocked (the restored state then needs the unlock key). */
  readonly autolock: boolean;
  readonly nodes: readonly ManifestNode[];
  /** Every file of the swarm directory, relative to the Docker root ("swarm/raft/…"). */
  readonly files: readonly ManifestFile[];
  /** The tar.gz inside the archive. */
  readonly tarball: { readonly bytes: number; readonly sha256: string };
  /** How long dockerd was stopped on the source. */
  readonly engineStoppedSeconds: number;
  /** The pinned volumes' data (format 2; none in format 1). */
  readonly volumes?: readonly ManifestVolume[];
}

/** Parses `sha256sum` output joined with sizes: lines "<sha256> <bytes> <path>". */
export function parseFileList(text: string): ManifestFile[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const m = /^([0-9a-f]{64}) (\d+) (.+)$/.exec(l.trim());
      if (!m) throw new Error(`unexpected line in the swarm directory's file list: ${JSON.stringify(l.slice(0, 120))}`);
      return { sha256: m[1], bytes: Number(m[2]), path: m[3] };
    });
}

/** Validates a manifest read from an archive. */
export function parseManifest(json: string, source: string): Manifest {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error(
      `${source}: the manifest inside the archive is not JSON; the archive was not written by hcloud-swarm backup`,
    );
  }
  const problems: string[] = [];
  if (!READABLE_FORMATS.includes(raw.format as number))
    problems.push(
      `format is ${JSON.stringify(raw.format)}; this hcloud-swarm reads formats ${READABLE_FORMATS.join(" and ")}`,
    );
  if (raw.volumes !== undefined && !Array.isArray(raw.volumes)) problems.push("volumes must be a list");
  for (const [i, v] of (Array.isArray(raw.volumes) ? (raw.volumes as Array<Record<string, unknown>>) : []).entries()) {
    if (v.kind !== "tar" && v.kind !== "mysqldump") problems.push(`volumes[${i}].kind must be tar or mysqldump`);
    for (const k of ["stack", "volume", "node", "sha256"])
      if (typeof v[k] !== "string" || v[k] === "") problems.push(`volumes[${i}].${k} must be a non-empty string`);
    for (const k of ["offset", "bytes"])
      if (!Number.isInteger(v[k]) || (v[k] as number) < 0) problems.push(`volumes[${i}].${k} must be a whole number`);
  }
  for (const k of ["cluster", "clusterId", "createdAt", "dockerVersion", "dockerRootDir"])
    if (typeof raw[k] !== "string" || raw[k] === "") problems.push(`${k} must be a non-empty string`);
  const src = raw.source as Record<string, unknown> | undefined;
  if (typeof src !== "object" || src === null || typeof src.node !== "string" || typeof src.nodeId !== "string")
    problems.push("source must name the node and node ID the state came from");
  const tb = raw.tarball as Record<string, unknown> | undefined;
  if (typeof tb !== "object" || tb === null || typeof tb.sha256 !== "string" || typeof tb.bytes !== "number")
    problems.push("tarball must give bytes and sha256");
  if (!Array.isArray(raw.nodes) || !Array.isArray(raw.files)) problems.push("nodes and files must be lists");
  if (problems.length > 0)
    throw new Error(`${source}: the archive's manifest is not usable:\n  - ${problems.join("\n  - ")}`);
  return raw as unknown as Manifest;
}
