/**
 * Collects the evidence ./checks.ts judges: every overlay network from a manager, and the xfrm
 * and iptables state of every node of the inventory, each over its own pinned SSH session.
 */
import * as fs from "fs";
import { managers, type Inventory, type InventoryNode } from "../inventory/inventory";
import { connect, type SshSession } from "../transport/ssh";
import { inspectEveryOverlay, overlayNetworks } from "../swarm/facts";
import { keyFileReader, managerSession } from "../swarm/manager-session";
import { checkSwarmStates } from "./swarm-state";
import { DEFAULT_MTU } from "../stacks/template/render";
import { checkNetworks, checkNode, checkWire, type NodeEvidence, summarise, type VerifySummary } from "./checks";
import { collectWire, type WireOptions } from "./wire";
import { checkHosts, checkMembers, type HostEvidence } from "./host";
import { PROBE_SCRIPT } from "../hostfw/probe";
import { readNodes } from "../swarm/nodes";

async function nodeEvidence(s: SshSession): Promise<Omit<NodeEvidence, "node" | "otherNodes">> {
  const out = async (cmd: string) => (await s.run(cmd, { allowFailure: true })).stdout;
  // Encrypted overlays with a local endpoint on this node: networks whose options say encrypted.
  const local = await out(inspectEveryOverlay("{{if .Options.encrypted}}{{if .Containers}}x{{end}}{{end}}"));
  return {
    xfrmPolicy: await out("ip xfrm policy"),
    xfrmState: await out("ip xfrm state"),
    mangleOutput: await out("iptables -t mangle -S OUTPUT"),
    filterInput: await out("iptables -S INPUT"),
    localEncryptedNetworks: local.split("\n").filter((l) => l.trim() === "x").length,
  };
}

async function visit(
  node: InventoryNode,
  otherNodes: number,
  identity?: string,
): Promise<{ evidence: NodeEvidence; host: HostEvidence; swarmState?: string }> {
  const keyFile = identity ?? node.privateKeyPath;
  const blank = {
    xfrmPolicy: "",
    xfrmState: "",
    mangleOutput: "",
    filterInput: "",
    localEncryptedNetworks: 0,
    otherNodes,
  };
  const host: HostEvidence = {
    node: node.name,
    ...(node.privateAddress ? { privateAddress: node.privateAddress } : {}),
  };
  if (!keyFile)
    return {
      evidence: {
        node: node.name,
        ...blank,
        error: "no private key (give --identity KEY or privateKeyPath in the inventory)",
      },
      host,
    };
  let s: SshSession | undefined;
  try {
    s = await connect(node, fs.readFileSync(keyFile, "utf8"));
    const evidence = { node: node.name, otherNodes, ...(await nodeEvidence(s)) };
    const swarmState = (await s.run(SWARM_STATE, { allowFailure: true })).stdout.trim();
    return {
      evidence,
      swarmState,
      host: {
        ...host,
        probe: (await s.run(PROBE_SCRIPT, { allowFailure: true, display: "host firewall, sshd and cloud-init probe" }))
          .stdout,
      },
    };
  } catch (err) {
    return { evidence: { node: node.name, ...blank, error: (err as Error).message }, host };
  } finally {
    s?.close();
  }
}

const SWARM_STATE = "docker info --format '{{.Swarm.LocalNodeState}}'";

/**
 * A session to the first manager that answers and is not locked: a locked manager (autolock, its
 * dockerd restarted) answers SSH but serves no swarm command. Fails naming every manager tried.
 */
async function openManager(inv: Inventory, identity?: string): Promise<SshSession> {
  const locked: string[] = [];
  for (;;) {
    const left = managers(inv).filter((n) => !locked.includes(n.name));
    if (left.length === 0)
      throw new Error(
        `every manager is locked (${locked.join(", ")}): autolock is on and their dockerd restarted; run \`hcloud-swarm unlock --inventory FILE\``,
      );
    const m = await managerSession({ ...inv, nodes: left }, keyFileReader(identity));
    if ((await m.run(SWARM_STATE, { allowFailure: true })).stdout.trim() !== "locked") return m;
    locked.push(m.node);
    m.close();
  }
}

/** Checks the cluster; with `wire`, also probes every encrypted overlay and ingress on the wire (./wire.ts). */
export async function verifyCluster(
  inv: Inventory,
  identity?: string,
  wire?: Omit<WireOptions, "identity">,
): Promise<VerifySummary> {
  const mtu = inv.swarm?.overlayMtu ?? DEFAULT_MTU;
  const m = await openManager(inv, identity);
  let networks;
  let members;
  try {
    networks = await overlayNetworks(m);
    members = await readNodes(m);
  } finally {
    m.close();
  }
  const checks = [...checkNetworks(networks, mtu), ...checkMembers(inv, members)];
  // One node at a time: a handful of short commands each, and it keeps SSH load on small managers low.
  const hosts: HostEvidence[] = [];
  for (const node of inv.nodes) {
    const v = await visit(node, inv.nodes.length - 1, identity);
    checks.push(...checkNode(v.evidence));
    checks.push(...checkSwarmStates([{ node: node.name, role: node.role, state: v.swarmState }]));
    hosts.push(v.host);
  }
  checks.push(
    ...checkHosts(
      hosts,
      members.map((x) => x.addr),
    ),
  );
  if (wire) checks.push(...checkWire(await collectWire(inv, { ...wire, ...(identity ? { identity } : {}) })));
  return summarise(checks);
}
