/**
 * Judges whether a cluster is really encrypted, from what managers and nodes report. Pure: the
 * evidence is collected by ./collect.ts. Every check ends as pass, fail, or unprovable; a check
 * that cannot be proven on this cluster (e.g. a kernel without ESP) is never counted as a pass.
 */
import type { NetworkFacts } from "../swarm/facts";
import { MTU_OPTION } from "../stacks/template/render";
import type { WireCounts } from "./pcap";

export type CheckStatus = "pass" | "fail" | "unprovable";

export interface Check {
  readonly status: CheckStatus;
  /** What was checked: "network blog_internal", "node worker-1". */
  readonly subject: string;
  readonly what: string;
  /** Evidence, or the reason and the fix. */
  readonly detail: string;
}

/** Raw command output from one node (`ip xfrm …`, `iptables -S …`). */
export interface NodeEvidence {
  readonly node: string;
  readonly xfrmPolicy: string;
  readonly xfrmState: string;
  readonly mangleOutput: string;
  readonly filterInput: string;
  /** Encrypted overlay networks with a task on this node (from `docker network inspect` there). */
  readonly localEncryptedNetworks: number;
  /** Other nodes in the cluster: Docker sets up ESP policies towards each of them. */
  readonly otherNodes: number;
  /** Set when the node could not be reached; every node check then fails. */
  readonly error?: string;
}

/** Docker marks VXLAN packets of encrypted networks with this before the xfrm policy matches them. */
export const ENCRYPTION_MARK = "0xd0c4e3";

export function checkNetworks(networks: readonly NetworkFacts[], mtu: number): Check[] {
  return networks.flatMap((n): Check[] => {
    const subject = `network ${n.name}${n.ingress ? " (ingress)" : ""}`;
    const encrypted: Check =
      "encrypted" in n.options
        ? { status: "pass", subject, what: "encrypted", detail: "option encrypted is set" }
        : {
            status: "fail",
            subject,
            what: "encrypted",
            detail: n.ingress
              ? "the routing mesh carries client traffic between nodes in clear; re-run bootstrap (it recreates ingress encrypted) or publish with mode: host"
              : `traffic between nodes is plain text; encryption can only be set at creation: recreate with --opt encrypted`,
          };
    const have = n.options[MTU_OPTION];
    const mtuCheck: Check =
      have === String(mtu)
        ? { status: "pass", subject, what: "MTU", detail: `${MTU_OPTION}=${have}` }
        : {
            status: "fail",
            subject,
            what: "MTU",
            detail: `${have ? `${MTU_OPTION}=${have}` : `no ${MTU_OPTION} option`}, the cluster needs ${mtu}; recreate the network with --opt ${MTU_OPTION}=${mtu}`,
          };
    return [encrypted, mtuCheck];
  });
}

const lines = (text: string): string[] => text.split("\n");

export function checkNode(e: NodeEvidence): Check[] {
  const subject = `node ${e.node}`;
  if (e.error) return [{ status: "fail", subject, what: "reachable", detail: e.error }];
  const checks: Check[] = [];
  // Policies are printed as blocks; a block for VXLAN out with an ESP template is what forces encryption.
  const blocks = e.xfrmPolicy.split(/\n(?=src )/);
  const outEsp = blocks.filter((b) => /dir out/.test(b) && /dport 4789/.test(b) && /proto esp/.test(b));
  const espStates = lines(e.xfrmState).filter((l) => /proto esp/.test(l));
  const mark = lines(e.mangleOutput).some((l) => l.includes("--dport 4789") && l.includes(ENCRYPTION_MARK));
  const drop = lines(e.filterInput).some(
    (l) => l.includes("--dport 4789") && /--pol(icy)? none/.test(l) && /-j DROP/.test(l),
  );
  if (outEsp.length === 0 && e.localEncryptedNetworks === 0) {
    return [
      {
        status: "unprovable",
        subject,
        what: "encryption in use",
        detail:
          "no task on this node uses an encrypted overlay, so nothing is set up to check; deploy a stack with tasks here",
      },
    ];
  }
  if (outEsp.length === 0 && e.otherNodes === 0) {
    return [
      {
        status: "unprovable",
        subject,
        what: "encryption in use",
        detail: "a single-node cluster has no peer to encrypt traffic to; nothing crosses the wire",
      },
    ];
  }
  checks.push(
    outEsp.length > 0
      ? {
          status: "pass",
          subject,
          what: "xfrm policies",
          detail: `${outEsp.length} outbound VXLAN policies require ESP`,
        }
      : {
          status: "fail",
          subject,
          what: "xfrm policies",
          detail:
            "no outbound policy requires ESP for VXLAN (udp 4789) although encrypted overlays have tasks here (no peer yet, or encryption not programmed)",
        },
  );
  checks.push(
    mark
      ? {
          status: "pass",
          subject,
          what: "iptables mark",
          detail: `mangle OUTPUT marks VXLAN of encrypted networks ${ENCRYPTION_MARK}`,
        }
      : {
          status: "fail",
          subject,
          what: "iptables mark",
          detail: `no mangle OUTPUT rule marking --dport 4789 with ${ENCRYPTION_MARK}`,
        },
  );
  checks.push(
    drop
      ? {
          status: "pass",
          subject,
          what: "plain VXLAN dropped",
          detail: "INPUT drops udp 4789 that arrives without IPsec (--pol none)",
        }
      : {
          status: "fail",
          subject,
          what: "plain VXLAN dropped",
          detail:
            "no INPUT rule drops unencrypted VXLAN (udp 4789, --pol none); Docker older than 20.10.24/23.0.3, or xt_u32/xt_bpf missing (CVE-2023-28840)",
        },
  );
  if (espStates.length > 0) {
    checks.push({
      status: "pass",
      subject,
      what: "ESP states",
      detail: `${espStates.length} ESP security associations installed`,
    });
  } else if (outEsp.length > 0) {
    checks.push({
      status: "unprovable",
      subject,
      what: "ESP states",
      detail:
        "kernel lacks ESP: the policies exist but no ESP state could be installed, so encrypted traffic cannot flow (it is dropped, not sent in clear); encryption of the data plane is NOT proven here",
    });
  } else {
    checks.push({
      status: "unprovable",
      subject,
      what: "ESP states",
      detail: "no peer shares an encrypted network with this node yet, so no ESP state is expected",
    });
  }
  return checks;
}

export interface VerifySummary {
  readonly checks: readonly Check[];
  readonly passed: number;
  readonly failed: number;
  readonly unprovable: number;
  /** 0 all proven, 1 something failed, 2 nothing failed but something could not be proven. */
  readonly exitCode: 0 | 1 | 2;
}

export function summarise(checks: readonly Check[]): VerifySummary {
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const failed = count("fail");
  const unprovable = count("unprovable");
  return { checks, passed: count("pass"), failed, unprovable, exitCode: failed > 0 ? 1 : unprovable > 0 ? 2 : 0 };
}

export function formatChecks(s: VerifySummary): string[] {
  const tag: Record<CheckStatus, string> = { pass: "PASS      ", fail: "FAIL      ", unprovable: "UNPROVABLE" };
  const out = s.checks.map((c) => `${tag[c.status]} ${c.subject}: ${c.what}: ${c.detail}`);
  out.push(`${s.passed} passed, ${s.failed} failed, ${s.unprovable} unprovable`);
  if (s.exitCode === 0)
    out.push(
      "VERIFIED: every overlay is encrypted with the right MTU, every node enforces and carries ESP, and every node's host is closed to all but the members.",
    );
  else if (s.exitCode === 2)
    out.push(
      "NOT VERIFIED: nothing failed, but the checks above marked UNPROVABLE could not be proven on this cluster.",
    );
  else
    out.push(
      "NOT VERIFIED: the checks marked FAIL show traffic that is, or may be, unencrypted, or a node that is not closed as it must be; each says how to fix it.",
    );
  return out;
}

/** What one capture saw while a probe crossed one network between two nodes (collected by ./wire.ts). */
export interface WireEvidence {
  /** Network name; "ingress" for the routing mesh. */
  readonly network: string;
  /** "control" is the plain overlay verify creates to show the capture sees VXLAN and clear text. */
  readonly kind: "encrypted" | "ingress" | "control";
  readonly from: string;
  readonly to: string;
  /** How the probe crossed, e.g. "udp from task web.1 to task db.1", "tcp via the published port 30080". */
  readonly how: string;
  readonly counts?: WireCounts;
  /** Why nothing was captured (no tasks on two nodes, tcpdump missing, …). */
  readonly unprovable?: string;
  readonly error?: string;
}

function countsText(c: WireCounts): string {
  return `ESP ${c.esp}, VXLAN ${c.vxlan}, marker in clear ${c.cleartext} (of ${c.packets} packets between the nodes)`;
}

/**
 * Judges wire captures. An encrypted network (ingress included) passes with ESP > 0, VXLAN = 0 and
 * no marker in clear. The plain control must show VXLAN and the marker, or no capture proves
 * anything: every encrypted result is then unprovable, never a pass.
 */
export function checkWire(evidence: readonly WireEvidence[]): Check[] {
  const control = evidence.find((e) => e.kind === "control");
  const controlSees = !!control?.counts && control.counts.vxlan > 0 && control.counts.cleartext > 0;
  const checks: Check[] = [];
  for (const e of evidence) {
    const subject = `network ${e.network}${e.kind === "ingress" ? " (ingress, routing mesh)" : e.kind === "control" ? " (plain control)" : ""}`;
    const where = `${e.from} → ${e.to}, ${e.how}`;
    if (e.error) {
      checks.push({ status: "fail", subject, what: "on the wire", detail: `${where}: ${e.error}` });
      continue;
    }
    if (!e.counts) {
      checks.push({
        status: "unprovable",
        subject,
        what: "on the wire",
        detail: e.unprovable ?? "nothing was captured",
      });
      continue;
    }
    const c = e.counts;
    if (e.kind === "control") {
      checks.push(
        controlSees
          ? {
              status: "pass",
              subject,
              what: "capture sees plain traffic",
              detail: `${where}: ${countsText(c)}; the capture sees VXLAN and clear text where they exist`,
            }
          : {
              status: "unprovable",
              subject,
              what: "capture sees plain traffic",
              detail: `${where}: ${countsText(c)}; a plain overlay should show VXLAN and the marker, so the capture cannot be trusted`,
            },
      );
      continue;
    }
    if (c.vxlan > 0 || c.cleartext > 0) {
      checks.push({
        status: "fail",
        subject,
        what: "on the wire",
        detail: `${where}: ${countsText(c)}: traffic of this network crossed unencrypted`,
      });
    } else if (c.esp === 0) {
      checks.push({
        status: "unprovable",
        subject,
        what: "on the wire",
        detail: `${where}: ${countsText(c)}: nothing crossed (no ESP: a kernel without ESP drops encrypted overlay traffic, it fails closed)`,
      });
    } else if (!controlSees) {
      checks.push({
        status: "unprovable",
        subject,
        what: "on the wire",
        detail: `${where}: ${countsText(c)}, but the plain control did not show that the capture sees VXLAN`,
      });
    } else {
      checks.push({ status: "pass", subject, what: "on the wire", detail: `${where}: ${countsText(c)}` });
    }
  }
  if (!control)
    checks.push({
      status: "unprovable",
      subject: "wire capture",
      what: "plain control",
      detail: "no plain control overlay was probed, so no capture is proven to see VXLAN",
    });
  return checks;
}
