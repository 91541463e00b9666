// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Images known not to work with the cluster's Docker Engine, refused before deploy changes
 * anything. A task that runs is not a service that works: Traefik before 3.6.1 hard-codes Docker
 * API 1.24 in its swarm provider, and Docker Engine 29 accepts only API 1.44 and later, so on such a
 * node the provider never connects (no routes, no certificates, a 404 for every request) while the
 * task keeps running and convergence looks fine (traefik/traefik#12253, fixed by API version
 * negotiation in v3.6.1, #12262). Pure: deploy passes the images and the nodes' engine versions.
 */

/** One known incompatibility: images of `repo` whose tag is below `fixedIn` fail on engines at or above `engineMajor`. */
interface KnownBreak {
  readonly repos: readonly string[];
  readonly fixedIn: readonly [number, number, number];
  readonly engineMajor: number;
  readonly why: string;
}

const BREAKS: readonly KnownBreak[] = [
  {
    repos: ["traefik", "library/traefik", "docker.io/traefik", "docker.io/library/traefik"],
    fixedIn: [3, 6, 1],
    engineMajor: 29,
    why: "its swarm provider asks for Docker API 1.24, which Docker Engine 29 and later refuse (they accept 1.44 and up): no routes, no certificates, a 404 for every request, while the task keeps running (traefik#12253, fixed in v3.6.1 by API negotiation)",
  },
];

/** [major, minor, patch] of a tag such as v3.5, 3.5.6, v3.6-alpine; undefined for latest, a digest, or a name. */
export function tagVersion(tag: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:$|[-_])/.exec(tag);
  if (!m) return undefined;
  return [
    Number(m[1]),
    m[2] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[2]),
    m[3] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[3]),
  ];
}

function below(v: readonly [number, number, number], fixed: readonly [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== fixed[i]) return v[i] < fixed[i];
  return false;
}

/** Problems for `images` (service → image reference) given the engine versions of the nodes. */
export function imageEngineProblems(
  images: ReadonlyArray<readonly [string, string]>,
  engines: ReadonlyArray<readonly [string, string]>,
): string[] {
  const out: string[] = [];
  for (const [service, image] of images) {
    const ref = image.split("@")[0];
    const colon = ref.lastIndexOf(":");
    const repo = colon > ref.lastIndexOf("/") ? ref.slice(0, colon) : ref;
    const tag = colon > ref.lastIndexOf("/") ? ref.slice(colon + 1) : "latest";
    const v = tagVersion(tag);
    for (const b of BREAKS) {
      if (!b.repos.includes(repo.toLowerCase()) || !v || !below(v, b.fixedIn)) continue;
      const hit = engines.filter(([, e]) => Number(/^(\d+)\./.exec(e)?.[1] ?? 0) >= b.engineMajor);
      if (hit.length === 0) continue;
      out.push(
        `service "${service}": image ${image} does not work on Docker Engine ${b.engineMajor} and later (${hit.map(([n, e]) => `${n}: ${e}`).join(", ")}): ${b.why}; use ${repo}:v${b.fixedIn.join(".")} or later (the traefik template pins a working v3.6 release)`,
      );
    }
  }
  return out;
}
