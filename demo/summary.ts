/**
 * The demo's closing statement, built from what was observed (cluster facts, verify's checks,
 * the kernel probe), so it cannot claim more than the run showed.
 */
import { type KernelFeature } from "../local";
import { heldPins } from "../inventory/labels";
import type { NetworkFacts, NodeFacts, ServiceFacts } from "../swarm/facts";
import { MTU_OPTION } from "../stacks/template/render";
import type { VerifySummary } from "../verify/checks";
import type { LeakProbeResult } from "./leak-probe";

export interface Observed {
  readonly networks: readonly NetworkFacts[];
  readonly services: readonly ServiceFacts[];
  /** The nodes with their labels, after the deploys (the inventory had none). */
  readonly nodes: readonly NodeFacts[];
  readonly secrets: readonly string[];
  /** Generated secret values, only to check they appear in no environment; never printed. */
  readonly secretValues: readonly string[];
  readonly mtu: number;
  readonly redeployActions: number;
  readonly lintRefusals: number;
  /** Exit code of `hcloud-swarm stack lint` on the seed stack, as typed: 1 = refused. */
  readonly lintExitCode: number;
  readonly verify: VerifySummary;
  readonly kernel: readonly KernelFeature[];
  /** The plain control network first, then the encrypted one. */
  readonly probes: readonly LeakProbeResult[];
}

export function summarise(o: Observed): { proven: string[]; notProven: string[]; broken: string[] } {
  const proven: string[] = [];
  const notProven: string[] = [];
  const broken: string[] = [];
  const enc = o.networks.filter((n) => "encrypted" in n.options && n.options[MTU_OPTION] === String(o.mtu));
  const bad = o.networks.filter((n) => !enc.includes(n));
  if (bad.length === 0)
    proven.push(
      `all ${o.networks.length} overlay networks of the cluster (${o.networks.map((n) => n.name).join(", ")}) have "encrypted" and ${MTU_OPTION}=${o.mtu}, ingress included`,
    );
  else broken.push(`overlay networks without encryption or MTU ${o.mtu}: ${bad.map((n) => n.name).join(", ")}`);
  const env = o.services.flatMap((s) => s.env).join("\n");
  const leaked = o.secretValues.filter((v) => env.includes(v));
  if (leaked.length === 0 && o.secrets.length > 0)
    proven.push(
      `${o.secrets.length} passwords exist only as Docker secrets (${o.secrets.join(", ")}); no service environment holds one (services use *_FILE)`,
    );
  else if (leaked.length > 0) broken.push(`${leaked.length} generated secret value(s) appear in a service environment`);
  const constrained = o.services.filter((s) => s.constraints.some((c) => c.startsWith("node.labels.")));
  const onManager = o.services.filter((s) => s.constraints.includes("node.role == manager")).map((s) => s.name);
  const routed = o.services.filter((s) => s.labels["traefik.enable"] === "true").map((s) => s.name);
  proven.push(
    `${constrained.length} of ${o.services.length} services carry node-label placement constraints; ${onManager.join(", ") || "none"} may run on managers only; ${routed.join(", ") || "none"} carry Traefik v3 router labels`,
  );
  const pins = o.nodes.flatMap((n) =>
    heldPins(n.labels)
      .filter((p) => n.labels[p.label] === "true")
      .map((p) => `${p.label} on ${n.hostname} (${p.stacks.join(", ")})`),
  );
  if (pins.length > 0)
    proven.push(
      `deploy chose and labelled the nodes the stacks' data is pinned to, with no label in the inventory: ${pins.join("; ")}`,
    );
  if (o.redeployActions === 0)
    proven.push("a second deploy of both stacks changed nothing (0 actions, same service versions)");
  else broken.push(`the redeploy took ${o.redeployActions} action(s); it should take none`);
  if (o.lintExitCode === 1 && o.lintRefusals > 0)
    proven.push(
      `lint refused the seed post's original stack with ${o.lintRefusals} findings, each naming stack, network or service, and line`,
    );
  else
    broken.push(
      `\`stack lint\` exited ${o.lintExitCode} on the seed post's stack with ${o.lintRefusals} findings; it must refuse it (exit 1)`,
    );
  const nodeRules = o.verify.checks.filter(
    (c) => c.subject.startsWith("node ") && c.status === "pass" && c.what !== "ESP states",
  );
  const byNode = new Map<string, string[]>();
  for (const c of nodeRules) byNode.set(c.subject.slice(5), [...(byNode.get(c.subject.slice(5)) ?? []), c.what]);
  for (const [node, what] of byNode)
    proven.push(`${node} installs Docker's enforcement of encryption: ${what.join(", ")}`);
  const [control, probed] = o.probes;
  // Not vacuous: node A built the packets for the peer and its kernel held them back for want of IPsec.
  if (
    control &&
    probed &&
    control.vxlanPackets > 0 &&
    probed.vxlanPackets === 0 &&
    !probed.reached &&
    probed.blockedByIpsec > 0
  ) {
    proven.push(
      `encrypted overlays fail closed on this kernel: ${probed.network} sent 0 plain VXLAN packets (ping unanswered), while the plain control overlay sent ${control.vxlanPackets}`,
    );
  } else if (
    control &&
    probed &&
    probed.vxlanPackets > 0 &&
    !o.kernel.some((k) => k.name.startsWith("ESP") && k.available)
  ) {
    broken.push(
      `${probed.network} sent ${probed.vxlanPackets} VXLAN packets although this kernel has no ESP: traffic may leave in clear`,
    );
  }
  for (const c of o.verify.checks.filter((x) => x.status === "unprovable"))
    notProven.push(`${c.subject}: ${c.what}: ${c.detail}`);
  for (const c of o.verify.checks.filter((x) => x.status === "fail"))
    broken.push(`${c.subject}: ${c.what}: ${c.detail}`);
  for (const k of o.kernel.filter((f) => !f.available))
    notProven.push(`kernel lacks ${k.name} (${k.detail}): ${k.consequence}`);
  notProven.push(
    "Traefik, WordPress and MySQL themselves did not run: every service ran the local busybox image (no registry here), so ACME, the HTTPS redirect, basic auth and the database are untested",
  );
  return { proven, notProven, broken };
}
