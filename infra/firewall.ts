/**
 * The typed firewall rule table, from the plan and the node addresses. Pure.
 *
 * Four Hetzner firewalls, because rules apply to every server a firewall is attached to:
 * - "base"  (all nodes, attached at creation): SSH from sshAllowedCidrs, ICMP.
 * - "edge"  (managers, attached at creation): 80/443 for the edge proxy.
 * - "swarm" (all nodes, by label selector) and "swarm-managers" (managers, by label selector):
 *   7946/tcp+udp, 4789/udp, ESP and 2377/tcp from the nodes' own public /32 and /128 only.
 *   Public-only mode needs them. In private-network mode swarm traffic uses the private network,
 *   which Hetzner's firewall does not filter, so the public side keeps every swarm port closed.
 * The swarm firewalls list node addresses, so they are created after the servers and attached by
 * label; until then the servers' default-deny keeps the swarm ports shut from first boot.
 */
import type { NodeRole } from "../inventory/inventory";
import { SWARM_PORTS } from "../hostfw/rules";
import { parseCidr } from "../common/cidr";
import type { ClusterPlan } from "./plan";

/** Hetzner's limits: rules per firewall, effective rules per firewall, firewalls per server. */
export const MAX_RULES = 50;
export const MAX_EFFECTIVE_RULES = 500;
export const MAX_FIREWALLS_PER_SERVER = 5;

export const WORLD = ["0.0.0.0/0", "::/0"];
/** The swarm ports, defined once with the host firewall (hostfw/rules.ts) that filters them on the nodes. */
export { SWARM_PORTS };

export type FirewallKey = "base" | "edge" | "swarm" | "swarm-managers";

export interface FirewallRulePlan {
  readonly direction: "in";
  readonly protocol: "tcp" | "udp" | "icmp" | "esp";
  /** Only for tcp/udp. */
  readonly port?: string;
  readonly sourceIps: readonly string[];
  readonly description: string;
}

export interface FirewallPlan {
  readonly key: FirewallKey;
  readonly name: string;
  /** Attached through Server.firewallIds to these roles, or applied by label selector. */
  readonly attach: { readonly atCreation: readonly NodeRole[] } | { readonly labelSelector: string };
  readonly rules: readonly FirewallRulePlan[];
}

/** The public addresses of one node, as Hetzner reports them. */
export interface NodeAddresses {
  readonly ipv4: string;
  readonly ipv6: string;
}

/** The firewalls that need no node addresses; they exist before any server. */
export function planBaseFirewalls(plan: ClusterPlan, sshAllowedCidrs: readonly string[]): FirewallPlan[] {
  return [
    {
      key: "base",
      name: `${plan.cluster}-base`,
      attach: { atCreation: ["manager", "worker"] },
      rules: [
        {
          direction: "in",
          protocol: "tcp",
          port: "22",
          sourceIps: [...sshAllowedCidrs],
          description: "SSH (hcloud-swarm:sshAllowedCidrs)",
        },
        // ICMP carries "fragmentation needed"; blocking it breaks path-MTU discovery.
        { direction: "in", protocol: "icmp", sourceIps: [...WORLD], description: "ICMP (ping, path MTU)" },
      ],
    },
    {
      key: "edge",
      name: `${plan.cluster}-edge`,
      attach: { atCreation: ["manager"] },
      rules: [
        { direction: "in", protocol: "tcp", port: "80", sourceIps: [...WORLD], description: "HTTP to the edge proxy" },
        {
          direction: "in",
          protocol: "tcp",
          port: "443",
          sourceIps: [...WORLD],
          description: "HTTPS to the edge proxy",
        },
      ],
    },
  ];
}

/** The swarm firewalls (public-only mode): swarm ports and ESP from the nodes' own addresses only. */
export function planSwarmFirewalls(
  plan: ClusterPlan,
  addresses: Readonly<Record<string, NodeAddresses>>,
): FirewallPlan[] {
  if (plan.network) return [];
  const sources = plan.nodes.flatMap((n) => {
    const a = addresses[n.name];
    if (!a) throw new Error(`no public addresses known for node ${n.name}`);
    return [`${a.ipv4}/32`, `${a.ipv6}/128`];
  });
  const rules = (managersOnly: boolean): FirewallRulePlan[] =>
    SWARM_PORTS.filter((p) => (p.managersOnly ?? false) === managersOnly).map((p) => ({
      direction: "in" as const,
      protocol: p.protocol,
      ...(p.port ? { port: p.port } : {}),
      sourceIps: sources,
      description: `${p.what}, from cluster nodes only`,
    }));
  const firewalls: FirewallPlan[] = [
    { key: "swarm", name: `${plan.cluster}-swarm`, attach: { labelSelector: plan.selectors.all }, rules: rules(false) },
    {
      key: "swarm-managers",
      name: `${plan.cluster}-swarm-managers`,
      attach: { labelSelector: plan.selectors.managers },
      rules: rules(true),
    },
  ];
  assertSwarmClosedToWorld(firewalls);
  return firewalls;
}

export function planFirewalls(
  plan: ClusterPlan,
  sshAllowedCidrs: readonly string[],
  addresses: Readonly<Record<string, NodeAddresses>>,
): FirewallPlan[] {
  const all = [...planBaseFirewalls(plan, sshAllowedCidrs), ...planSwarmFirewalls(plan, addresses)];
  assertSwarmClosedToWorld(all);
  return all;
}

/** Whether a rule's port ("22", "80-85", "any" or none) takes in the given port. */
function covers(rulePort: string | undefined, port: string): boolean {
  if (rulePort === undefined || rulePort === "any") return true;
  const [lo, hi = lo] = rulePort.split("-").map(Number);
  return lo <= Number(port) && Number(port) <= hi;
}

function isSwarmRule(rule: FirewallRulePlan): boolean {
  return SWARM_PORTS.some((p) => p.protocol === rule.protocol && (p.port === undefined || covers(rule.port, p.port)));
}

/**
 * Refuses any table that would open a swarm port or ESP to more than single addresses. A bug
 * here would expose the cluster's control plane, so it throws instead of trusting the planner.
 */
export function assertSwarmClosedToWorld(firewalls: readonly FirewallPlan[]): void {
  for (const fw of firewalls) {
    for (const rule of fw.rules.filter(isSwarmRule)) {
      for (const src of rule.sourceIps) {
        const r = parseCidr(src);
        if (!r.ok || r.cidr.prefix !== (r.cidr.family === 4 ? 32 : 128)) {
          throw new Error(
            `firewall ${fw.name} would open ${rule.protocol}${rule.port ? "/" + rule.port : ""} to ${src}; swarm ports and ESP are only for single node addresses (/32, /128)`,
          );
        }
      }
    }
  }
}

/**
 * Hetzner's "effective rules" (reasoned): each source range of a rule counts once, so a rule with
 * 20 sources is 20 effective rules. This is the stricter of the plausible readings.
 */
export function effectiveRules(fw: FirewallPlan): number {
  return fw.rules.reduce((sum, r) => sum + Math.max(1, r.sourceIps.length), 0);
}

/** Placeholder addresses of the right shape, to size the swarm firewalls before servers exist. */
export function placeholderAddresses(plan: ClusterPlan): Record<string, NodeAddresses> {
  return Object.fromEntries(
    plan.nodes.map((n, i) => [n.name, { ipv4: `192.0.2.${i % 250}`, ipv6: `2001:db8::${(i + 1).toString(16)}` }]),
  );
}

/** The firewalls a node is attached to: at creation by role, or by label selector. */
export function firewallsOf(firewalls: readonly FirewallPlan[], role: NodeRole): FirewallPlan[] {
  return firewalls.filter((f) =>
    "atCreation" in f.attach ? f.attach.atCreation.includes(role) : role === "manager" || f.key !== "swarm-managers",
  );
}
