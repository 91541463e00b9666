/**
 * Which pinned volumes a backup takes, and how: pure, from what the swarm reports. A pinned volume
 * is a volume of stack S on a node that holds a placement pin recorded for S
 * (`hcloud-swarm.pin.<label>=S` and `<label>=true`: stacks/placement/placement-pins.ts).
 * A volume a MySQL or MariaDB service keeps its data directory in is dumped by the database
 * itself (consistent without stopping it); any other volume is copied with tar while every
 * replicated service of the stack that mounts it is scaled to 0. A global service cannot be
 * scaled on one node, so its volume is refused with the reason rather than copied while written.
 */
import { heldPins } from "../inventory/labels";
import type { NodeFacts } from "../swarm/nodes";

/** A service of a stack as far as its volumes matter. */
export interface ServiceMounts {
  readonly name: string;
  readonly stack: string;
  readonly image: string;
  /** Desired replicas; undefined for a global service. */
  readonly replicas?: number;
  /** Named volumes it mounts: Docker volume name → target path in the container. */
  readonly volumes: Readonly<Record<string, string>>;
}

/** The volumes of one stack found on the node holding one of its pins. */
export interface HeldVolumes {
  readonly node: string;
  readonly pin: string;
  readonly stack: string;
  readonly volumes: readonly string[];
}

export type VolumeJob =
  | {
      readonly kind: "mysqldump";
      readonly stack: string;
      readonly volume: string;
      readonly node: string;
      readonly pin: string;
      /** The database service; the dump runs in its container on `node`. */
      readonly service: string;
    }
  | {
      readonly kind: "tar";
      readonly stack: string;
      readonly volume: string;
      readonly node: string;
      readonly pin: string;
      /** Services scaled to 0 while the copy runs, with the replicas they go back to. */
      readonly writers: ReadonlyArray<{ readonly service: string; readonly replicas: number }>;
    };

/** Official MySQL and MariaDB images, by any registry path and tag or digest. */
const DATABASE_IMAGE = /(^|\/)(mysql|mariadb)(:[^@]*)?(@sha256:[0-9a-f]+)?$/;
/** Where those images keep their data. */
const DATABASE_DIR = "/var/lib/mysql";

/** The (node, pin, stack) pairs whose volumes a backup must look for: one per pin recorded on a holder. */
export function pinnedStacks(members: readonly NodeFacts[]): Array<{ node: string; pin: string; stack: string }> {
  return members.flatMap((m) =>
    heldPins(m.labels)
      .filter((p) => (m.labels[p.label] ?? "").toLowerCase() === "true")
      .flatMap((p) => p.stacks.map((stack) => ({ node: m.hostname, pin: p.label, stack }))),
  );
}

export function isDatabase(s: ServiceMounts, volume: string): boolean {
  return DATABASE_IMAGE.test(s.image.replace(/@sha256:.*$/, "")) && s.volumes[volume] === DATABASE_DIR;
}

/** The job of every held volume, and a problem for every volume that cannot be taken consistently. */
export function planVolumeJobs(
  held: readonly HeldVolumes[],
  services: readonly ServiceMounts[],
): { jobs: VolumeJob[]; problems: string[] } {
  const jobs: VolumeJob[] = [];
  const problems: string[] = [];
  for (const h of held) {
    for (const volume of [...h.volumes].sort()) {
      const users = services.filter((s) => s.stack === h.stack && s.volumes[volume] !== undefined);
      const db = users.find((s) => isDatabase(s, volume));
      if (db) {
        jobs.push({ kind: "mysqldump", stack: h.stack, volume, node: h.node, pin: h.pin, service: db.name });
        continue;
      }
      const global = users.filter((s) => s.replicas === undefined);
      if (global.length > 0) {
        problems.push(
          `volume ${volume} of stack ${h.stack} on ${h.node} is written by the global service(s) ${global.map((s) => s.name).join(", ")}, which cannot be stopped on one node for a consistent copy; make them replicated (deploy.mode: replicated) to have the volume backed up`,
        );
        continue;
      }
      jobs.push({
        kind: "tar",
        stack: h.stack,
        volume,
        node: h.node,
        pin: h.pin,
        writers: users.map((s) => ({ service: s.name, replicas: s.replicas as number })),
      });
    }
  }
  return { jobs, problems };
}

/** Raw `docker service inspect` JSON (one object per line) → the services' mounts. */
export function parseServiceMounts(jsonLines: string): ServiceMounts[] {
  type Raw = {
    Spec: {
      Name: string;
      Labels?: Record<string, string> | null;
      Mode?: { Replicated?: { Replicas?: number }; Global?: object };
      TaskTemplate: {
        ContainerSpec: { Image: string; Mounts?: Array<{ Type?: string; Source?: string; Target: string }> };
      };
    };
  };
  return jsonLines
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Raw)
    .map((r) => ({
      name: r.Spec.Name,
      stack: r.Spec.Labels?.["com.docker.stack.namespace"] ?? "",
      image: r.Spec.TaskTemplate.ContainerSpec.Image,
      ...(r.Spec.Mode?.Replicated ? { replicas: r.Spec.Mode.Replicated.Replicas ?? 1 } : {}),
      volumes: Object.fromEntries(
        (r.Spec.TaskTemplate.ContainerSpec.Mounts ?? [])
          .filter((m) => (m.Type ?? "volume") === "volume" && m.Source)
          .map((m) => [m.Source as string, m.Target]),
      ),
    }));
}
