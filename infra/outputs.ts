/**
 * Turns plans and server outputs into what the program exports: inventory entries, Hetzner
 * firewall rules, the docker context line. Pure apart from Output plumbing.
 */
import type * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import type { FirewallRulePlan } from "./firewall";
import type { ClusterPlan, NodePlan } from "./plan";

/** Bootstrap logs in as root: Hetzner's images put the project SSH keys in root's authorized_keys. */
export const SSH_USER = "root";
export const SSH_PORT = 22;

export function hcloudRules(rules: readonly FirewallRulePlan[]): hcloud.types.input.FirewallRule[] {
  return rules.map((r) => ({
    direction: r.direction,
    protocol: r.protocol,
    ...(r.port ? { port: r.port } : {}),
    sourceIps: [...r.sourceIps],
    description: r.description,
  }));
}

/** "ssh-ed25519 AAAA…" without the comment: what sshd presents and bootstrap pins. */
export function hostKeyOf(publicKeyLine: string): string {
  return publicKeyLine.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** One inventory node from its plan and the server's addresses. No secrets. */
export function inventoryNode(node: NodePlan, ipv4: string, hostPublicKey: string): InventoryNode {
  return {
    name: node.name,
    role: node.role,
    host: ipv4,
    port: SSH_PORT,
    user: SSH_USER,
    hostKey: hostKeyOf(hostPublicKey),
    // In private mode swarm must advertise the private address, or its traffic would leave
    // through the public interface.
    advertiseAddress: node.privateIp ?? ipv4,
    publicAddress: ipv4,
    ...(node.privateIp ? { privateAddress: node.privateIp } : {}),
    labels: { ...node.swarmLabels },
  };
}

export function inventoryOf(plan: ClusterPlan, nodes: readonly InventoryNode[]): Inventory {
  return {
    cluster: plan.cluster,
    swarm: {
      defaultAddrPool: plan.swarm.defaultAddrPool,
      defaultAddrPoolMaskLength: plan.swarm.defaultAddrPoolMaskLength,
      overlayMtu: plan.swarm.overlayMtu,
      // So that `hcloud-swarm bootstrap` on the exported inventory keeps the config's setting.
      autolock: plan.autolock,
    },
    // Only when set: an inventory without the key is what every earlier release wrote.
    ...(plan.firewall ? { firewall: { privateAllowedCidrs: [...plan.firewall.privateAllowedCidrs] } } : {}),
    nodes,
  };
}

export function dockerContextCommand(cluster: string, managerIpv4: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`docker context create ${cluster} --docker host=ssh://${SSH_USER}@${managerIpv4}`;
}
