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

/**
 * Types whose `name` the bridge would otherwise generate (auto-naming). When the program sets the
 * name itself, the old and the new resource cannot exist side by side, so a replacement deletes the
 * old one first: a server replaced this way is gone, with its disk and address, before its
 * successor boots.
 */
const AUTO_NAMED = [
  "hcloud:index/server:Server",
  "hcloud:index/network:Network",
  "hcloud:index/sshKey:SshKey",
  "hcloud:index/placementGroup:PlacementGroup",
  "hcloud:index/firewall:Firewall",
];

export function hcloudDeletesFirst(type: string, inputs: Readonly<Record<string, unknown>>): boolean {
  return AUTO_NAMED.includes(type) && typeof inputs.name === "string" && inputs.name !== "";
}
