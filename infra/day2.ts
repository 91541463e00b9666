/**
 * Day two, pure: what a run does to each node, from what Hetzner says about the cluster's servers now
 * (its server list, read before planning) and what the config asks. Nothing here replaces a server:
 *
 * - `userData` and `sshKeys` only matter at a server's first boot; the servers ignore their changes
 *   (infra/cluster.ts) and a release's new cloud-init text reaches existing nodes in place.
 * - `location`: a node stays where it is for life (infra/locations.ts).
 * - `serverType` is resized one node at a time, drained first (infra/node-roll.ts), never by the
 *   provider, which would power every server of a role off at once.
 * - `image` can only change by replacing a server; that is refused, naming the key and the way out.
 * - `networkCidr` and `privateNetwork` would move every node to other addresses (and change the
 *   overlay MTU, which swarm fixes at init): refused.
 * - `swarmAddressPool` is read by `docker swarm init` only; a change would do nothing: refused.
 *   Each server carries the pool it was created for as a Hetzner label (`fixedLabels`).
 * - A pin label (one a configured stack pins its data to) that `nodeLabels` gave a node stays on
 *   that node: moving or removing it would make deploy pick a new, empty holder. Each server carries
 *   its pins as labels too. Other labels change freely.
 *
 * The cloud is the source of truth for all of these, and every refusal is thrown before any
 * resource is registered, so a refused run touches nothing, at preview and at up alike. A cluster
 * made by an older release has no such labels yet: its first run with this one records them.
 */
import type { ClusterConfig } from "./config";
import { key } from "./config";
import type { ClusterPlan, NodePlan } from "./plan";

/** Hetzner labels that record what a server was created with (label values cannot hold "/"). */
export const LABEL_POOL = "swarm-pool";
export const PIN_LABEL_PREFIX = "pin-";
const poolLabel = (cidr: string) => cidr.replace("/", "-");

/** The labels a server carries for the next run's plan: its swarm pool, and the pins nodeLabels gives it. */
export function fixedLabels(plan: ClusterPlan, node: NodePlan, pinLabels: readonly string[]): Record<string, string> {
  return {
    [LABEL_POOL]: poolLabel(plan.swarm.defaultAddrPool),
    ...Object.fromEntries(
      pinLabels.filter((l) => node.swarmLabels[l] === "true").map((l) => [`${PIN_LABEL_PREFIX}${l}`, "true"]),
    ),
  };
}

/** The fields of Hetzner's server list (@pulumi/hcloud `GetServersServer`) the plan reads. */
export interface ServerFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly location: string;
  readonly serverType: string;
  /** The image's name; "" when Hetzner no longer names it (a deleted or deprecated image). */
  readonly image: string;
  readonly status: string;
  readonly networks?: readonly { readonly ip: string }[];
}

/** One node of this cluster as it exists in the cloud. */
export interface ExistingNode {
  readonly name: string;
  readonly location: string;
  readonly serverType: string;
  readonly image: string;
  readonly status: string;
  /** Its address on the private network; undefined when it is on none. */
  readonly privateIp?: string;
  /** Its Hetzner labels (fixedLabels among them). */
  readonly labels: Readonly<Record<string, string>>;
}

/** This cluster's servers ("<cluster>-<node>", labelled cluster=<cluster>), by node name. */
export function existingNodes(cluster: string, servers: readonly ServerFacts[]): Map<string, ExistingNode> {
  const prefix = `${cluster}-`;
  const out = new Map<string, ExistingNode>();
  for (const s of servers) {
    if (s.labels.cluster !== cluster || !s.name.startsWith(prefix)) continue;
    const name = s.name.slice(prefix.length);
    if (!/^(manager|worker)-[1-9]\d*$/.test(name)) continue;
    const ip = s.networks?.find((n) => n.ip)?.ip;
    out.set(name, {
      name,
      location: s.location,
      serverType: s.serverType,
      image: s.image,
      status: s.status,
      labels: s.labels,
      ...(ip ? { privateIp: ip } : {}),
    });
  }
  return out;
}

/** Node name → the location it is in now: what planCluster keeps. */
export function existingLocations(existing: ReadonlyMap<string, ExistingNode>): Map<string, string> {
  return new Map([...existing.values()].map((n) => [n.name, n.location]));
}

export type NodeChange =
  | { readonly kind: "create"; readonly node: string; readonly reason: string }
  | { readonly kind: "keep"; readonly node: string; readonly reason: string }
  | {
      readonly kind: "resize";
      readonly node: string;
      readonly from: string;
      readonly to: string;
      readonly keepDisk: boolean;
      readonly reason: string;
    };

export interface Day2Plan {
  /** One per planned node, in plan order (managers first). */
  readonly changes: readonly NodeChange[];
  /** Refusals: each names the key, the nodes and the way out. Empty when the run may go ahead. */
  readonly problems: readonly string[];
}

function change(config: ClusterConfig, node: NodePlan, now: ExistingNode | undefined): NodeChange {
  if (!now) return { kind: "create", node: node.name, reason: `new node, in ${node.location}` };
  if (now.serverType && now.serverType !== node.serverType)
    return {
      kind: "resize",
      node: node.name,
      from: now.serverType,
      to: node.serverType,
      keepDisk: config.keepDisk,
      reason: `serverType ${now.serverType} → ${node.serverType}: drained, resized ${config.keepDisk ? "keeping its disk" : "with a bigger disk"}, back to Ready, then the next node`,
    };
  const moved = config.locations.includes(now.location) ? "" : ` (${now.location} is no longer listed; it stays)`;
  return { kind: "keep", node: node.name, reason: `stays in ${now.location}${moved}` };
}

export function planDay2(
  config: ClusterConfig,
  plan: ClusterPlan,
  existing: ReadonlyMap<string, ExistingNode>,
  pinLabels: readonly string[] = [],
): Day2Plan {
  const problems: string[] = [];
  const present = plan.nodes.flatMap((n) => {
    const now = existing.get(n.name);
    return now ? [{ node: n, now }] : [];
  });
  const list = (xs: readonly { node: NodePlan; now: ExistingNode }[], f: (x: ExistingNode) => string) =>
    xs.map((x) => `${x.node.name} (${f(x.now)})`).join(", ");

  const otherImage = present.filter((x) => x.now.image !== "" && x.now.image !== config.image);
  if (otherImage.length)
    problems.push(
      `${key("image")} is ${JSON.stringify(config.image)} but ${list(otherImage, (n) => n.image)} run another image. Hetzner changes a server's image only by replacing the server, which loses its disk, its volumes' data and its public address, and hcloud-swarm does not replace nodes by itself. Set it back: pulumi config set ${key("image")} ${otherImage[0].now.image} (new nodes of another image: a new cluster)`,
    );

  if (config.privateNetwork) {
    const off = present.filter((x) => x.now.privateIp === undefined);
    if (off.length)
      problems.push(
        `${key("privateNetwork")} is true but ${off.map((x) => x.node.name).join(", ")} run without a private network; attaching them would change the address swarm advertises and the overlay MTU, which swarm fixes at init. Set it back: pulumi config set ${key("privateNetwork")} false (or build a new cluster)`,
      );
    const moved = present.filter((x) => x.now.privateIp !== undefined && x.now.privateIp !== x.node.privateIp);
    if (moved.length)
      problems.push(
        `${key("networkCidr")} ${config.networkCidr} would give ${list(moved, (n) => `now ${String(n.privateIp)}`)} another private address: the server would be detached from its network and swarm would lose the node. Set ${key("networkCidr")} back to the range those addresses are in (or build a new cluster)`,
      );
  } else {
    const on = present.filter((x) => x.now.privateIp !== undefined);
    if (on.length)
      problems.push(
        `${key("privateNetwork")} is false but ${list(on, (n) => String(n.privateIp))} run on the private network, which swarm advertises and its overlay MTU was fixed for. Set it back: pulumi config set ${key("privateNetwork")} true (or build a new cluster)`,
      );
  }
  const pool = present.filter(
    (x) => x.now.labels[LABEL_POOL] && x.now.labels[LABEL_POOL] !== poolLabel(config.swarmAddressPool),
  );
  if (pool.length) {
    const was = pool[0].now.labels[LABEL_POOL].replace(/-(\d+)$/, "/$1");
    problems.push(
      `${key("swarmAddressPool")} is ${config.swarmAddressPool} but the swarm was created with ${was} (recorded on ${pool.map((x) => x.node.name).join(", ")}); swarm reads it only at init, so the change would do nothing. Set it back: pulumi config set ${key("swarmAddressPool")} ${was} (another pool: a new cluster)`,
    );
  }
  problems.push(...pinProblems(plan, existing, pinLabels));
  return { changes: plan.nodes.map((n) => change(config, n, existing.get(n.name))), problems };
}

/** A pin label recorded on a node that still exists must stay on that node while a stack pins it. */
function pinProblems(
  plan: ClusterPlan,
  existing: ReadonlyMap<string, ExistingNode>,
  pinLabels: readonly string[],
): string[] {
  const out: string[] = [];
  for (const label of pinLabels) {
    const now = plan.nodes.filter((n) => n.swarmLabels[label] === "true").map((n) => n.name);
    for (const holder of existing.values()) {
      if (holder.labels[`${PIN_LABEL_PREFIX}${label}`] !== "true" || now.includes(holder.name)) continue;
      if (!plan.nodes.some((n) => n.name === holder.name)) continue; // a node being removed: scale-down's own guard
      out.push(
        now.length
          ? `${key("nodeLabels")} moves the pin label ${label} from ${holder.name}, which holds its stack's data, to ${now.join(", ")}: deploy would start the service there with an empty volume. Keep it on ${holder.name} (move the data first, then the label)`
          : `${key("nodeLabels")} no longer gives the pin label ${label} to ${holder.name}, which holds its stack's data: deploy would pick a new, empty holder. Put it back: pulumi config set --path '${key("nodeLabels")}["${holder.name}"]["${label}"]' true`,
      );
    }
  }
  return out;
}

/** What the program prints at every preview and up: one line per node that exists or is made. */
export function describeDay2(d: Day2Plan): string[] {
  return d.changes.map((c) => `${c.node}: ${c.kind}, ${c.reason}`);
}
