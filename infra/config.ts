/**
 * The `hcloud-swarm:` config: parsed and validated before any resource exists. Every problem is
 * collected and reported at once; each message names the key and says how to fix it.
 */
import { throwIfProblems } from "../common/problems";
import { hostCidr } from "../inventory/inventory";
import { Cidr, cidr, contains, overlaps, parseCidr } from "../common/cidr";
import { limitProblems } from "./limits";
import { NODE_LABELS_KEY, type NodeLabelsConfig, parseNodeLabels } from "./node-labels";
import { POOL_MASK_LENGTH } from "./plan";
import { DOCKER_FIXED_20_10_PATCH, DOCKER_FIXED_MIN, dockerHasCveFixes } from "./cloudinit";

export const NAMESPACE = "hcloud-swarm";

/** Validated, defaulted config. Plain data: the plan and the component are built from it. */
export interface ClusterConfig {
  readonly clusterName: string;
  readonly managers: number;
  readonly workers: number;
  readonly managerServerType: string;
  readonly workerServerType: string;
  readonly locations: readonly string[];
  readonly image: string;
  /** Docker's apt repository to use, from the image name. */
  readonly distro: "ubuntu" | "debian";
  readonly privateNetwork: boolean;
  readonly networkCidr: string;
  /** Hetzner network zone of the private network, e.g. "eu-central". */
  readonly networkZone: string;
  readonly swarmAddressPool: string;
  readonly sshAllowedCidrs: readonly string[];
  /** Non-member sources that may open connections on the nodes' private interface (never the swarm ports). */
  readonly privateAllowedCidrs: readonly string[];
  readonly adminSshKeys: readonly string[];
  readonly dockerVersion: string;
  /** Swarm node labels per role and per node name (`hcloud-swarm:nodeLabels`). */
  readonly nodeLabels: NodeLabelsConfig;
  /** Docker is already on the image: cloud-init checks its version instead of installing Docker CE. */
  readonly dockerOnImage: boolean;
  /** Workers a roll maintains at once (`hcloud-swarm upgrade`, rolling/). */
  readonly maxUnavailable: number;
  /** A serverType change keeps each server's disk (so a later downgrade stays possible). */
  readonly keepDisk: boolean;
  /** Swarm autolock: managers' Raft keys encrypted at rest; applied in place by every `pulumi up` and bootstrap. */
  readonly autolock: boolean;
}

/** Odd manager counts keep a Raft majority; more than 7 slows every write for no gain. */
export const MANAGER_COUNTS = [1, 3, 5, 7];
/**
 * A Hetzner network holds at most 100 servers; 7 managers + 90 workers stays under it, and a
 * bigger cluster wants more than one Pulumi stack anyway.
 */
export const MAX_WORKERS = 90;
/** The swarm's `ingress` network always takes this range, whatever --default-addr-pool says. */
export const DOCKER_INGRESS_CIDR = "10.255.0.0/16";

export const DEFAULTS = {
  managers: 1,
  workers: 2,
  locations: ["nbg1"],
  image: "ubuntu-24.04",
  privateNetwork: true,
  /** Hetzner's usual network range; the nodes get its first /24. */
  networkCidr: "10.0.0.0/16",
  /** Clear of the default networkCidr, of 10.255.0.0/16 (ingress) and of Docker's 172.17+ bridges. */
  swarmAddressPool: "10.128.0.0/16",
  sshAllowedCidrs: ["0.0.0.0/0", "::/0"],
  privateAllowedCidrs: [] as string[],
  adminSshKeys: [] as string[],
  dockerVersion: "28.5.1",
  dockerOnImage: false,
  maxUnavailable: 1,
  keepDisk: true,
  autolock: true,
};

/** Known Hetzner locations and their network zones; others need hcloud-swarm:networkZone. */
const ZONES: Record<string, string> = {
  fsn1: "eu-central",
  nbg1: "eu-central",
  hel1: "eu-central",
  ash: "us-east",
  hil: "us-west",
  sin: "ap-southeast",
};

export const KEYS = [
  "clusterName",
  "managers",
  "workers",
  "serverType",
  "managerServerType",
  "workerServerType",
  "locations",
  "image",
  "privateNetwork",
  "networkCidr",
  "networkZone",
  "swarmAddressPool",
  "sshAllowedCidrs",
  "adminSshKeys",
  "dockerVersion",
  "dockerOnImage",
  "privateAllowedCidrs",
  "maxUnavailable",
  "keepDisk",
  "autolock",
] as const;
/**
 * Keys whose value is an object. Pulumi.yaml's config types (string, integer, boolean, array)
 * cannot declare them, so they are documented there in comments instead.
 */
export const OBJECT_KEYS = [NODE_LABELS_KEY] as const;

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** Long enough for "<cluster>-worker-90" to stay a 63-character hostname. */
const MAX_CLUSTER_NAME = 40;
const LOCATION = /^[a-z]+\d*$/;
const SERVER_TYPE = /^[a-z0-9][a-z0-9-]*$/;
const PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;

export function key(k: string): string {
  return `${NAMESPACE}:${k}`;
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Pulumi hands every value over as a string; tests pass typed values. Accept both. */
function fromText(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/**
 * Validates raw config values keyed by bare key name ("workers", not "hcloud-swarm:workers").
 * `stack` supplies the default cluster name. Throws a ValidationError listing every problem.
 */
export function validateConfig(raw: Readonly<Record<string, unknown>>, stack: string): ClusterConfig {
  const problems: string[] = [];
  const known: readonly string[] = [...KEYS, ...OBJECT_KEYS];
  for (const k of Object.keys(raw)) {
    if (known.includes(k)) continue;
    const near = known.filter((known) => levenshtein(k.toLowerCase(), known.toLowerCase()) <= 2);
    problems.push(
      `${key(k)} is not a known key${near.length ? `; did you mean ${key(near[0])}?` : "."} Remove it with: pulumi config rm ${key(k)}`,
    );
  }
  const has = (k: string): boolean => raw[k] !== undefined && raw[k] !== "";

  const int = (k: "managers" | "workers" | "maxUnavailable", allowed: (n: number) => boolean, rule: string): number => {
    const v = has(k) ? fromText(raw[k]) : DEFAULTS[k];
    if (typeof v === "number" && Number.isInteger(v) && allowed(v)) return v;
    problems.push(
      `${key(k)} must be ${rule}, got ${show(raw[k])}; e.g. pulumi config set ${key(k)} ${DEFAULTS[k] + (k === "managers" ? 2 : 1)}`,
    );
    return DEFAULTS[k];
  };
  const managers = int(
    "managers",
    (n) => MANAGER_COUNTS.includes(n),
    "1, 3, 5 or 7 (an odd count keeps a Raft majority)",
  );
  const workers = int("workers", (n) => n >= 0 && n <= MAX_WORKERS, `a whole number from 0 to ${MAX_WORKERS}`);
  const maxUnavailable = int("maxUnavailable", (n) => n >= 1, "a whole number of workers, at least 1");

  const str = (k: string, pattern: RegExp, rule: string): string | undefined => {
    if (!has(k)) return undefined;
    const v = raw[k];
    if (typeof v === "string" && pattern.test(v)) return v;
    problems.push(`${key(k)} must be ${rule}, got ${show(v)}`);
    return undefined;
  };
  const typeRule = `a Hetzner server type name such as "cx23" or "cax11" (see hcloud server-type list)`;
  const serverType = str("serverType", SERVER_TYPE, typeRule);
  const managerServerType = str("managerServerType", SERVER_TYPE, typeRule) ?? serverType;
  const workerServerType = str("workerServerType", SERVER_TYPE, typeRule) ?? serverType;
  if (!has("serverType") && !has("managerServerType")) {
    problems.push(
      `${key("serverType")} is not set; set it with: pulumi config set ${key("serverType")} cx23 (or set ${key("managerServerType")} and ${key("workerServerType")})`,
    );
  } else if (workers > 0 && !has("serverType") && !has("workerServerType")) {
    problems.push(
      `${key("workerServerType")} is not set and there is no ${key("serverType")} to fall back on; set one of them, e.g. pulumi config set ${key("workerServerType")} cx23`,
    );
  }

  const stackName = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const clusterName =
    str(
      "clusterName",
      DNS_LABEL,
      `a lowercase DNS label (letters, digits, "-") of at most ${MAX_CLUSTER_NAME} characters`,
    ) ?? stackName;
  if (has("clusterName") && String(raw.clusterName).length > MAX_CLUSTER_NAME) {
    problems.push(
      `${key("clusterName")} must be at most ${MAX_CLUSTER_NAME} characters so server names stay valid hostnames`,
    );
  } else if (!has("clusterName") && (!DNS_LABEL.test(stackName) || stackName.length > MAX_CLUSTER_NAME)) {
    problems.push(
      `${key("clusterName")} is not set and the stack name ${show(stack)} is no usable default; set it, e.g. pulumi config set ${key("clusterName")} swarm`,
    );
  }

  const image =
    str(
      "image",
      /^(ubuntu|debian)-\d+(\.\d+)?$/,
      `an Ubuntu or Debian image name such as "ubuntu-24.04" or "debian-12" (Docker CE comes from Docker's apt repository; an image ID would force replacement)`,
    ) ?? DEFAULTS.image;

  const bool = (k: "privateNetwork" | "dockerOnImage" | "keepDisk" | "autolock"): boolean => {
    const v = has(k) ? fromText(raw[k]) : DEFAULTS[k];
    if (typeof v === "boolean") return v;
    problems.push(`${key(k)} must be true or false, got ${show(raw[k])}`);
    return DEFAULTS[k];
  };
  const privateNetwork = bool("privateNetwork");

  const list = (k: "locations" | "sshAllowedCidrs" | "privateAllowedCidrs" | "adminSshKeys"): string[] => {
    const v = has(k) ? fromText(raw[k]) : DEFAULTS[k];
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
    problems.push(
      `${key(k)} must be a list of strings, got ${show(raw[k])}; set it with: pulumi config set --path '${key(k)}[0]' <value>`,
    );
    return [];
  };
  const locations = list("locations");
  if (has("locations") && locations.length === 0 && Array.isArray(fromText(raw.locations))) {
    problems.push(`${key("locations")} must list at least one location, e.g. ["nbg1"]`);
  }
  locations.forEach((l, i) => {
    if (!LOCATION.test(l))
      problems.push(
        `${key("locations")}[${i}] must be a Hetzner location name such as "nbg1", "fsn1" or "hel1", got ${show(l)}`,
      );
    else if (locations.indexOf(l) !== i)
      problems.push(`${key("locations")}[${i}] repeats ${show(l)}; list each location once`);
  });

  const cidrKey = (
    k: "networkCidr" | "swarmAddressPool",
    minPrefix: number,
    maxPrefix: number,
    why: string,
  ): Cidr | undefined => {
    const text = has(k) ? raw[k] : DEFAULTS[k];
    const r = typeof text === "string" ? parseCidr(text) : undefined;
    if (!r || !r.ok) {
      problems.push(
        `${key(k)} must be an IPv4 CIDR such as ${show(DEFAULTS[k])}: ${show(text)} ${r && !r.ok ? r.reason : "is not a string"}`,
      );
      return undefined;
    }
    const isPrivate = PRIVATE_RANGES.some((p) => contains(cidr(p), r.cidr));
    if (r.cidr.family !== 4 || !isPrivate || r.cidr.prefix < minPrefix || r.cidr.prefix > maxPrefix) {
      problems.push(
        `${key(k)} must be a private IPv4 range (inside ${PRIVATE_RANGES.join(", ")}) from /${minPrefix} to /${maxPrefix} (${why}), got ${show(text)}`,
      );
      return undefined;
    }
    if (overlaps(r.cidr, cidr(DOCKER_INGRESS_CIDR))) {
      problems.push(
        `${key(k)} ${r.cidr.text} overlaps ${DOCKER_INGRESS_CIDR}, which Docker always gives the swarm's ingress network; pick a range outside it, e.g. ${show(DEFAULTS[k])}`,
      );
    }
    return r.cidr;
  };
  const network = cidrKey("networkCidr", 8, 23, "the nodes get its first /24");
  const pool = cidrKey("swarmAddressPool", 8, POOL_MASK_LENGTH, "swarm carves it into /24 overlay networks");
  if (privateNetwork && network && pool && overlaps(network, pool)) {
    problems.push(
      `${key("swarmAddressPool")} ${pool.text} overlaps ${key("networkCidr")} ${network.text}; overlay networks would shadow node addresses. Pick disjoint ranges, e.g. ${DEFAULTS.networkCidr} and ${DEFAULTS.swarmAddressPool}`,
    );
  }
  const networkCidr = network?.text ?? DEFAULTS.networkCidr;
  const swarmAddressPool = pool?.text ?? DEFAULTS.swarmAddressPool;

  let networkZone = str("networkZone", /^[a-z]+-[a-z]+$/, `a Hetzner network zone such as "eu-central"`) ?? "";
  if (privateNetwork) {
    const zones = [...new Set(locations.map((l) => ZONES[l]).filter((z): z is string => z !== undefined))];
    const unknown = locations.filter((l) => ZONES[l] === undefined && LOCATION.test(l));
    if (!networkZone && unknown.length > 0) {
      problems.push(
        `${key("networkZone")} is not set and the network zone of ${unknown.join(", ")} is not known here; set it, e.g. pulumi config set ${key("networkZone")} eu-central`,
      );
    }
    networkZone ||= zones[0] ?? "";
    if (zones.some((z) => z !== networkZone)) {
      problems.push(
        `${key("locations")} ${show(locations)} span several network zones (${[...new Set([networkZone, ...zones])].join(", ")}); a private network lives in one zone, so pick locations of one zone or set ${key("privateNetwork")} false`,
      );
    }
  }

  const sshAllowedCidrs = list("sshAllowedCidrs");
  if (has("sshAllowedCidrs") && sshAllowedCidrs.length === 0 && Array.isArray(fromText(raw.sshAllowedCidrs))) {
    problems.push(
      `${key("sshAllowedCidrs")} must list at least one range: bootstrap reaches the nodes over SSH. Use your own address, e.g. ["203.0.113.7/32"]`,
    );
  }
  sshAllowedCidrs.forEach((c, i) => {
    const r = parseCidr(c);
    if (!r.ok)
      problems.push(
        `${key("sshAllowedCidrs")}[${i}] must be a CIDR such as "203.0.113.7/32" or "2001:db8::/48": ${show(c)} ${r.reason}`,
      );
  });

  const privateAllowedCidrs = list("privateAllowedCidrs");
  privateAllowedCidrs.forEach((c, i) => {
    if (!hostCidr(c))
      problems.push(
        `${key("privateAllowedCidrs")}[${i}] must be a CIDR such as "10.0.1.0/24" or "fd00::/64" (address/prefix, no leading zeros), got ${show(c)}`,
      );
  });
  if (privateAllowedCidrs.length > 0 && !privateNetwork) {
    problems.push(
      `${key("privateAllowedCidrs")} opens the nodes' private interface, but ${key("privateNetwork")} is false, so there is none. Remove it (pulumi config rm ${key("privateAllowedCidrs")}) or set ${key("privateNetwork")} true`,
    );
  }

  const adminSshKeys = list("adminSshKeys");
  adminSshKeys.forEach((k, i) => {
    if (!PUBLIC_KEY.test(k.trim()))
      problems.push(
        `${key("adminSshKeys")}[${i}] must be one OpenSSH public key line, "ssh-ed25519 AAAA… you@host" (the contents of ~/.ssh/id_ed25519.pub)`,
      );
  });

  const dockerVersion =
    str("dockerVersion", /^\d+\.\d+\.\d+$/, `a Docker CE release such as ${show(DEFAULTS.dockerVersion)}`) ??
    DEFAULTS.dockerVersion;
  if (/^\d+\.\d+\.\d+$/.test(dockerVersion) && !dockerHasCveFixes(dockerVersion)) {
    problems.push(
      `${key("dockerVersion")} ${dockerVersion} lacks the fixes for CVE-2023-28840/28841/28842 (encrypted overlays sending clear text), which came with ${DOCKER_FIXED_MIN.join(".")} (and 20.10.${DOCKER_FIXED_20_10_PATCH} in the 20.10 line); use ${DEFAULTS.dockerVersion}`,
    );
  }
  const dockerOnImage = bool("dockerOnImage");
  if (dockerOnImage && has("dockerVersion")) {
    problems.push(
      `${key("dockerVersion")} is set but ${key("dockerOnImage")} is true: Docker comes from the image and nothing is installed, so the version would be ignored. Remove one: pulumi config rm ${key("dockerVersion")}`,
    );
  }

  const keepDisk = bool("keepDisk");

  const nodeLabels = parseNodeLabels(raw[NODE_LABELS_KEY], { managers, workers }, key, problems);
  const autolock = bool("autolock");

  throwIfProblems(`${NAMESPACE} config`, problems);
  const config: ClusterConfig = {
    clusterName,
    managers,
    workers,
    managerServerType: managerServerType ?? "",
    workerServerType: workerServerType ?? managerServerType ?? "",
    locations,
    image,
    distro: image.startsWith("debian-") ? "debian" : "ubuntu",
    privateNetwork,
    networkCidr,
    networkZone,
    swarmAddressPool,
    sshAllowedCidrs,
    privateAllowedCidrs,
    adminSshKeys: adminSshKeys.map((k) => k.trim()),
    dockerVersion,
    dockerOnImage,
    keepDisk,
    nodeLabels,
    maxUnavailable,
    autolock,
  };
  // Limits need a well-formed config to plan from, so they are checked second.
  throwIfProblems(`${NAMESPACE} config`, limitProblems(config));
  return config;
}

/** True when the union of `cidrs` is every address of `family` (0.0.0.0/0, or e.g. 0.0.0.0/1 + 128.0.0.0/1). */
function coversWholeFamily(cidrs: readonly string[], family: 4 | 6): boolean {
  const bits = family === 4 ? 32n : 128n;
  const ranges = cidrs
    .map((c) => parseCidr(c))
    .flatMap((r) =>
      r.ok && r.cidr.family === family
        ? [[r.cidr.network, r.cidr.network + (1n << (bits - BigInt(r.cidr.prefix)))] as const]
        : [],
    )
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let next = 0n;
  for (const [start, end] of ranges) {
    if (start > next) return false;
    if (end > next) next = end;
  }
  return next >= 1n << bits;
}

/**
 * Things that are allowed but deserve a loud warning at every `pulumi up`: SSH (root, with the deploy
 * key) reachable from the whole Internet, which is the default until sshAllowedCidrs is set.
 */
export function configWarnings(config: Pick<ClusterConfig, "sshAllowedCidrs">): string[] {
  const open = ([4, 6] as const)
    .filter((f) => coversWholeFamily(config.sshAllowedCidrs, f))
    .map((f) => (f === 4 ? "IPv4" : "IPv6"));
  if (open.length === 0) return [];
  return [
    `SSH (port 22, root login with the deploy key) is open to the whole ${open.join(" and ")} Internet: ${key("sshAllowedCidrs")} is ${JSON.stringify(config.sshAllowedCidrs)}. ` +
      `Anyone can try to log in, and every sshd weakness is exposed. Restrict it to your own address, e.g. ` +
      `pulumi config set --path '${key("sshAllowedCidrs")}[0]' 203.0.113.7/32 (and no [1] entry for ::/0).`,
  ];
}
