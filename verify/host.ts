/**
 * verify's view of every node's host: the firewall, its boot order, sshd and cloud-init, judged by
 * hostfw/probe.ts from what the node itself prints (never from a label), against the swarm's
 * current members. Pure: the probe output is collected by ./collect.ts.
 */
import { allowList } from "../hostfw/rules";
import { judgeHost, parseProbe } from "../hostfw/probe";
import type { Check } from "./checks";

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
