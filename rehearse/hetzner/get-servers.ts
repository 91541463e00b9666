/**
 * Hetzner's `GET /servers?label_selector=…` as the rehearsal stands it in, answered from the servers the
 * cloud holds (the engine's records of `hcloud:index/server:Server`), in the shape @pulumi/hcloud's
 * `getServers` invoke returns. The program asks it before planning, so that the plan knows where
 * each existing node is, which type it has and which image it was created from (infra/day2.ts).
 */
import type { HeldResource } from "../engine/cloud";
import type { Props } from "../engine/properties";

export const GET_SERVERS = "hcloud:index/getServers:getServers";
const SERVER = "hcloud:index/server:Server";
const SUBNET = "hcloud:index/networkSubnet:NetworkSubnet";

/**
 * Hetzner's label selector: comma-separated `key=value`, `key!=value`, `key` and `!key` terms.
 * The set-based forms (`key in (…)`) are refused by name rather than misread.
 */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: string): boolean {
  return selector
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .every((term) => {
      if (/\s(not)?in\s*\(/.test(term))
        throw new Error(`the rehearsal does not model the label selector term ${JSON.stringify(term)}`);
      const neq = /^([^!=]+)!=(.*)$/.exec(term);
      if (neq) return labels[neq[1].trim()] !== neq[2].trim();
      const eq = /^([^!=]+)==?(.*)$/.exec(term);
      if (eq) return labels[eq[1].trim()] === eq[2].trim();
      if (term.startsWith("!")) return !(term.slice(1) in labels);
      return term in labels;
    });
}

interface NetworkEntry {
  readonly subnetId?: string;
  readonly networkId?: number;
  readonly ip?: string;
  readonly aliasIps?: readonly string[];
}

/** The invoke's result: `{servers: [...]}` with the fields @pulumi/hcloud's GetServersServer has. */
export function getServers(args: Props, records: readonly HeldResource[]): Props {
  const selector = typeof args.withSelector === "string" ? args.withSelector : "";
  const statuses = Array.isArray(args.withStatuses) ? (args.withStatuses as string[]) : [];
  const subnets = new Map(records.filter((r) => r.type === SUBNET).map((r) => [r.id, r.outputs]));
  const servers = records
    .filter((r) => r.type === SERVER)
    .map((r) => {
      const o = r.outputs;
      const labels = (o.labels as Record<string, string> | undefined) ?? {};
      const networks = ((o.networks as NetworkEntry[] | undefined) ?? []).map((n) => ({
        networkId: Number(n.networkId ?? subnets.get(String(n.subnetId))?.networkId ?? 0),
        ip: String(n.ip ?? ""),
        aliasIps: [...(n.aliasIps ?? [])],
        macAddress: "",
      }));
      return {
        id: Number(r.id),
        name: String(o.name ?? ""),
        serverType: String(o.serverType ?? ""),
        image: String(o.image ?? ""),
        location: String(o.location ?? ""),
        datacenter: String(o.datacenter ?? ""),
        status: String(o.status ?? "running"),
        labels,
        ipv4Address: String(o.ipv4Address ?? ""),
        ipv6Address: String(o.ipv6Address ?? ""),
        ipv6Network: String(o.ipv6Network ?? ""),
        networks,
        ...(o.placementGroupId !== undefined ? { placementGroupId: Number(o.placementGroupId) } : {}),
        firewallIds: ((o.firewallIds as number[] | undefined) ?? []).map(Number),
        backups: false,
        backupWindow: "",
        deleteProtection: Boolean(o.deleteProtection ?? false),
        rebuildProtection: Boolean(o.rebuildProtection ?? false),
        iso: "",
        rescue: "",
        primaryDiskSize: Number(o.primaryDiskSize ?? 0),
      };
    })
    .filter((s) => matchesSelector(s.labels, selector))
    .filter((s) => statuses.length === 0 || statuses.includes(s.status))
    .sort((a, b) => a.id - b.id);
  return { id: "servers", ...(selector ? { withSelector: selector } : {}), servers };
}
