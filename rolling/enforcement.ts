/**
 * A node's encryption enforcement, as the kernel shows it: Docker's xfrm policies for VXLAN
 * (4789/udp), its iptables mark on outgoing VXLAN and the INPUT rule that drops VXLAN not from
 * IPsec, and the ESP states that really encrypt. Read on the drained node before the act, read
 * again after: what was there must be back. Where the kernel installs no ESP state (this host's
 * kernel lacks ESP: the namespace bed) that is said, never counted as a pass. Pure apart from the read.
 */
import type { SshSession } from "../transport/ssh";

/** Docker's mark for VXLAN that must leave encrypted (moby's overlay driver). */
const MARK = "0xd0c4e3";

export const ENFORCEMENT_SCRIPT = [
  "echo \"policies $(ip xfrm policy 2>/dev/null | grep -c 'dport 4789')\"",
  `echo "marks $(iptables -w 10 -t mangle -S OUTPUT 2>/dev/null | grep -c '${MARK}')"`,
  "echo \"input-drops $(iptables -w 10 -S INPUT 2>/dev/null | grep -- '--pol none' | grep -c DROP)\"",
  "echo \"esp-states $(ip xfrm state 2>/dev/null | grep -c 'proto esp')\"",
].join("\n");

export interface Enforcement {
  readonly policies: number;
  readonly marks: number;
  readonly inputDrops: number;
  readonly espStates: number;
}

export function parseEnforcement(stdout: string): Enforcement {
  const n = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, "m").exec(stdout)?.[1] ?? 0);
  return { policies: n("policies"), marks: n("marks"), inputDrops: n("input-drops"), espStates: n("esp-states") };
}

export async function readEnforcement(s: SshSession): Promise<Enforcement> {
  return parseEnforcement((await s.run(ENFORCEMENT_SCRIPT, { display: "read xfrm policies and VXLAN marks" })).stdout);
}

const KINDS: ReadonlyArray<[keyof Enforcement, string]> = [
  ["policies", "xfrm policies for 4789/udp"],
  ["marks", "iptables marks on outgoing VXLAN"],
  ["inputDrops", "INPUT drops of VXLAN outside IPsec"],
  ["espStates", "ESP states"],
];

/** What is missing now that was there before (empty: back). */
export function missingSince(before: Enforcement, now: Enforcement): string[] {
  return KINDS.filter(([k]) => before[k] > 0 && now[k] === 0).map(
    ([k, what]) => `${what} (${before[k]} before, 0 now)`,
  );
}

/** One line for the report: what was compared, and what could not be. */
export function describeEnforcement(before: Enforcement, now: Enforcement): string {
  const seen = KINDS.filter(([k]) => k !== "espStates" && before[k] > 0).map(
    ([k, what]) => `${what} ${before[k]} → ${now[k]}`,
  );
  const esp =
    now.espStates > 0
      ? `ESP states ${before.espStates} → ${now.espStates}`
      : now.policies > 0
        ? "no ESP state: the kernel installs none (it lacks ESP) or no peer shares an encrypted network with the node yet; the data plane's encryption is NOT proven by this roll"
        : "";
  if (seen.length === 0)
    return `no encryption rules on the drained node before the act, so none to compare (verify judges the cluster)${esp ? `; ${esp}` : ""}`;
  return [...seen, ...(esp ? [esp] : [])].join("; ");
}
