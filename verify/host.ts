/**
 * verify's view of every node's host: the firewall, its boot order, sshd and cloud-init, judged by
 * hostfw/probe.ts from what the node itself prints (never from a label), against the swarm's
 * current members. Pure: the probe output is collected by ./collect.ts.
 */
import { allowList } from "../hostfw/rules";
import { judgeHost, parseProbe } from "../hostfw/probe";
import type { Check } from "./checks";
import type { Inventory } from "../inventory/inventory";
import type { NodeFacts } from "../swarm/nodes";
import { matchMembers } from "../bootstrap/plan";
import { LABEL_SPEC, specLabel } from "../nodespec/spec";
import { LABEL_ROLL } from "../rolling/plan";

export interface HostEvidence {
  readonly node: string;
  /** The probe's raw output; undefined when the node could not be reached (checkNode reports that). */
  readonly probe?: string;
  readonly privateAddress?: string;
}

/** Every member's address as the swarm reports it: exactly these must be allow-listed everywhere. */
export function checkHosts(hosts: readonly HostEvidence[], memberAddresses: readonly string[]): Check[] {
  const members = allowList(memberAddresses).addresses;
  return hosts.flatMap((h): Check[] => {
    if (h.probe === undefined) return [];
    const subject = `node ${h.node}`;
    return judgeHost(parseProbe(h.probe), {
      members,
      ...(h.privateAddress ? { privateAddress: h.privateAddress } : {}),
    }).map((c) => ({ status: c.status, subject, what: `host: ${c.what}`, detail: c.detail }));
  });
}

/**
 * What a roll must leave behind on every node of the inventory: a Ready, active member (a roll that
 * stopped leaves its node drained), no roll left unfinished, and, when the inventory carries a
 * node spec, the node recording that spec (LABEL_SPEC). Pure.
 */
export function checkMembers(inv: Inventory, members: readonly NodeFacts[]): Check[] {
  const matched = matchMembers(inv, members);
  const want = inv.nodeSpec ? specLabel(inv.nodeSpec) : undefined;
  return inv.nodes.flatMap((n): Check[] => {
    const subject = `node ${n.name}`;
    const m = matched.get(n.name);
    if (!m) return [{ status: "fail", subject, what: "swarm member", detail: "not in the swarm: run bootstrap" }];
    const out: Check[] = [];
    if (m.status !== "ready" || m.availability !== "active")
      out.push({
        status: "fail",
        subject,
        what: "swarm member",
        detail: `${m.status || "unknown"}, ${m.availability}: ${m.availability === "active" ? "bring it back" : `left out of scheduling (a roll that stopped leaves its node drained): re-run the same \`hcloud-swarm upgrade\` to resume, or \`docker node update --availability active ${m.hostname}\``}`,
      });
    else out.push({ status: "pass", subject, what: "swarm member", detail: "Ready and active" });
    const roll = m.labels[LABEL_ROLL] ?? "";
    if (roll.endsWith(":pending"))
      out.push({
        status: "fail",
        subject,
        what: "roll",
        detail: `roll ${roll.split(":")[0]} did not reach this node or stopped here: re-run the same \`hcloud-swarm upgrade\` to finish it`,
      });
    if (want !== undefined) {
      const has = m.labels[LABEL_SPEC];
      out.push(
        has === want
          ? { status: "pass", subject, what: "node spec", detail: `runs the inventory's node spec (${want})` }
          : {
              status: "fail",
              subject,
              what: "node spec",
              detail: `records ${has ? `spec ${has}` : "no spec"}, the inventory's is ${want}: run bootstrap (applies what needs no restart) and \`hcloud-swarm upgrade\` (rolls the rest)`,
            },
      );
    }
    return out;
  });
}
