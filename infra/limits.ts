/**
 * Hetzner's limits, checked on a well-formed config before any API call: firewall rule counts,
 * firewalls per server, spread placement group size and the user-data size.
 */
import { sshKeyPairFromSeed } from "../common/sshkeys";
import { MAX_USER_DATA_BYTES, renderUserData } from "./cloudinit";
import type { ClusterConfig } from "./config";
import {
  effectiveRules,
  firewallsOf,
  MAX_EFFECTIVE_RULES,
  MAX_FIREWALLS_PER_SERVER,
  MAX_RULES,
  placeholderAddresses,
  planFirewalls,
} from "./firewall";
import { MAX_SERVERS_PER_SPREAD_GROUP, planCluster } from "./plan";

const k = (name: string): string => `hcloud-swarm:${name}`;

/** Returns one message per exceeded limit, naming the keys that drive it. */
export function limitProblems(config: ClusterConfig): string[] {
  const problems: string[] = [];
  const plan = planCluster(config);
  const firewalls = planFirewalls(plan, config.sshAllowedCidrs, placeholderAddresses(plan));

  for (const fw of firewalls) {
    const effective = effectiveRules(fw);
    if (fw.key === "base" && effective > MAX_EFFECTIVE_RULES) {
      problems.push(
        `${k("sshAllowedCidrs")} lists ${config.sshAllowedCidrs.length} ranges; firewall ${fw.name} would have ${effective} effective rules, over Hetzner's ${MAX_EFFECTIVE_RULES}. Merge them into fewer, wider ranges`,
      );
    } else if (effective > MAX_EFFECTIVE_RULES) {
      const perNode = effective / plan.nodes.length;
      const maxWorkers = Math.floor(MAX_EFFECTIVE_RULES / perNode) - config.managers;
      problems.push(
        `${k("workers")} ${config.workers} is too many for public-only mode: firewall ${fw.name} opens the swarm ports to each node's /32 and /128, ` +
          `${effective} effective rules, over Hetzner's ${MAX_EFFECTIVE_RULES}. Use at most ${Math.max(0, maxWorkers)} workers, or set ${k("privateNetwork")} true`,
      );
    }
    if (fw.rules.length > MAX_RULES)
      problems.push(`firewall ${fw.name} would have ${fw.rules.length} rules, over Hetzner's ${MAX_RULES}`);
  }
  for (const role of ["manager", "worker"] as const) {
    const n = firewallsOf(firewalls, role).length;
    if (n > MAX_FIREWALLS_PER_SERVER)
      problems.push(`a ${role} would be in ${n} firewalls, over Hetzner's ${MAX_FIREWALLS_PER_SERVER} per server`);
  }
  for (const g of plan.placementGroups) {
    const members = plan.nodes.filter((n) => n.placementGroup === g.key).length;
    if (members > MAX_SERVERS_PER_SPREAD_GROUP)
      problems.push(
        `placement group ${g.name} would hold ${members} servers, over Hetzner's ${MAX_SERVERS_PER_SPREAD_GROUP}`,
      );
  }

  // User data differs between nodes only by the host key, whose size depends on its comment
  // (root@<server name>), so the longest server name gives the largest user data.
  const longest = plan.nodes.reduce((a, n) => (n.serverName.length > a.length ? n.serverName : a), "");
  const sample = sshKeyPairFromSeed(Buffer.alloc(32, 1), `root@${longest}`);
  const bytes = Buffer.byteLength(
    renderUserData({
      distro: config.distro,
      dockerVersion: config.dockerVersion,
      dockerOnImage: config.dockerOnImage,
      hostKey: sample,
      adminSshKeys: config.adminSshKeys,
    }),
  );
  if (bytes > MAX_USER_DATA_BYTES) {
    problems.push(
      `${k("adminSshKeys")} makes the cloud-init user data ${bytes} bytes, over Hetzner's ${MAX_USER_DATA_BYTES}; list fewer keys (ed25519 keys are the shortest)`,
    );
  }
  return problems;
}
