/**
 * The Hetzner cloud model's rule of which inputs cannot change in place. Resource type tokens
 * are @pulumi/hcloud's own (persisted in state): they are keys here, never renamed.
 */

/**
 * Inputs that replace a resource when they change, from terraform-provider-hcloud's schema
 * (`ForceNew`), which @pulumi/hcloud bridges. Everything else is updated in place.
 */
export const HCLOUD_REPLACE_ON_CHANGE: Readonly<Record<string, readonly string[]>> = {
  "hcloud:index/server:Server": ["image", "location", "datacenter", "userData", "sshKeys"],
  "hcloud:index/networkSubnet:NetworkSubnet": ["networkId", "type", "networkZone", "ipRange", "vswitchId"],
  "hcloud:index/network:Network": [],
  "hcloud:index/sshKey:SshKey": ["publicKey"],
  "hcloud:index/placementGroup:PlacementGroup": ["type"],
  "hcloud:index/firewall:Firewall": [],
};
