/**
 * `npm run rehearse` options and the Pulumi config each step runs with. Pure.
 *
 * The config is the user's own (`hcloud-swarm:KEY=VALUE`, as `pulumi config set` stores it) over
 * the rehearsal's defaults, which say only what is true of the bed: its VMs run Debian 12 with
 * docker.io already installed (Docker's apt repository is out of reach), and the server type is
 * a name the program requires but the bed does not size by. Every problem is reported at once.
 */
import { NAMESPACE } from "../infra/config";

export interface RehearsalOptions {
  /** Swarm managers. Default 1. */
  readonly managers: number;
  /** Workers at the start of the day (it grows by one, then shrinks back). Default 2 (1 with --short). */
  readonly workers: number;
  /** The short form: form, grow by one, verify, teardown. Default false. */
  readonly short: boolean;
  /** Leave the cluster running at the end instead of tearing it down. Default false. */
  readonly keep: boolean;
  /** The rehearsal's directory. Default .hcloud-swarm/rehearsal. */
  readonly dir: string;
  /** `hcloud-swarm:` keys given by the user, full key → value. */
  readonly config: Readonly<Record<string, string>>;
}

export const DEFAULT_DIR = ".hcloud-swarm/rehearsal";
/** The sample stacks with example variables; on the bed they run its local image (see step.ts). */
export const REHEARSAL_STACKS = [
  { template: "traefik", vars: { acme_email: "ops@example.test", dashboard_domain: "traefik.example.test" } },
  { template: "wordpress", vars: { domain: "blog.example.test" } },
];

/** What the rehearsal sets unless the user does, and why (printed at the start). */
export const REHEARSAL_DEFAULTS: ReadonlyArray<readonly [string, string, string]> = [
  ["serverType", "cx23", "required by the program; the bed's VMs all have 1 vCPU and 1 GiB"],
  ["image", "debian-12", "the bed's VMs run Debian 12"],
  ["dockerOnImage", "true", "the bed's image has docker.io; Docker's apt repository is out of reach here"],
  ["stacks", JSON.stringify(REHEARSAL_STACKS), "the day deploys both sample stacks"],
];

/** Keys the rehearsal refuses to let go: with another value the bed cannot stand in honestly. */
const FIXED: Readonly<Record<string, [string, string]>> = {
  image: ["debian-12", "the bed's VMs run Debian 12, so any other image would not be what boots"],
  dockerOnImage: [
    "true",
    "without it the user data installs Docker CE from Docker's apt repository, which cannot be reached here",
  ],
};

const MAX_MANAGERS = 7;
/** The day grows by one worker; the program allows 90. */
const MAX_START_WORKERS = 89;

export function parseCount(
  text: string | undefined,
  name: string,
  fallback: number,
  max: number,
  problems: string[],
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max) {
    problems.push(`--${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(text)}`);
    return fallback;
  }
  return Number(text);
}

/** Checks the raw options; throws one error listing every problem. */
export function parseOptions(raw: {
  managers?: string;
  workers?: string;
  short?: boolean;
  keep?: boolean;
  dir?: string;
  config?: readonly string[];
}): RehearsalOptions {
  const problems: string[] = [];
  const short = raw.short ?? false;
  const managers = parseCount(raw.managers, "managers", 1, MAX_MANAGERS, problems);
  const workers = parseCount(raw.workers, "workers", short ? 1 : 2, MAX_START_WORKERS, problems);
  const config: Record<string, string> = {};
  for (const item of raw.config ?? []) {
    const eq = item.indexOf("=");
    const key = eq > 0 ? item.slice(0, eq) : item;
    const bare = key.startsWith(`${NAMESPACE}:`) ? key.slice(NAMESPACE.length + 1) : undefined;
    if (eq <= 0 || bare === undefined || bare === "") {
      problems.push(
        `${JSON.stringify(item)} is not a config setting: write ${NAMESPACE}:KEY=VALUE, e.g. ${NAMESPACE}:swarmAddressPool=10.129.0.0/16`,
      );
      continue;
    }
    const value = item.slice(eq + 1);
    if (bare === "managers" || bare === "workers")
      problems.push(`${key}: use --${bare} instead; the day changes the worker count itself`);
    else if (FIXED[bare] && value !== FIXED[bare][0])
      problems.push(`${key}=${value}: the rehearsal needs ${FIXED[bare][0]}: ${FIXED[bare][1]}`);
    else if (key in config) problems.push(`${key} is given twice`);
    else config[key] = value;
  }
  if (problems.length)
    throw new Error(
      `npm run rehearse: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  return { managers, workers, short, keep: raw.keep ?? false, dir: raw.dir ?? DEFAULT_DIR, config };
}

/** The full config of one step: defaults, then the user's keys, then the counts of that step. */
export function stepConfig(o: RehearsalOptions, workers: number): Record<string, string> {
  const defaults = Object.fromEntries(REHEARSAL_DEFAULTS.map(([k, v]) => [`${NAMESPACE}:${k}`, v]));
  return {
    ...defaults,
    ...o.config,
    [`${NAMESPACE}:managers`]: String(o.managers),
    [`${NAMESPACE}:workers`]: String(workers),
  };
}
