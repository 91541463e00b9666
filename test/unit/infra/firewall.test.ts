import { validateConfig } from "../../../infra/config";
import {
  assertSwarmClosedToWorld,
  effectiveRules,
  firewallsOf,
  FirewallPlan,
  NodeAddresses,
  planFirewalls,
  SWARM_PORTS,
} from "../../../infra/firewall";
import { planCluster } from "../../../infra/plan";

function setup(raw: Record<string, unknown>) {
  const config = validateConfig({ serverType: "cx23", ...raw }, "dev");
  const plan = planCluster(config);
  const addresses: Record<string, NodeAddresses> = Object.fromEntries(
    plan.nodes.map((n, i) => [n.name, { ipv4: `198.51.100.${i + 1}`, ipv6: `2001:db8:${i + 1}::1` }]),
  );
  return { config, plan, firewalls: planFirewalls(plan, config.sshAllowedCidrs, addresses) };
}

const rulesOf = (fws: FirewallPlan[], key: string) => fws.find((f) => f.key === key)?.rules ?? [];

describe("firewall table", () => {
  it("opens SSH from sshAllowedCidrs and ICMP on every node, 80/443 on managers only", () => {
    const { firewalls } = setup({ sshAllowedCidrs: ["203.0.113.7/32"] });
    expect(rulesOf(firewalls, "base").map((r) => [r.protocol, r.port, r.sourceIps])).toEqual([
      ["tcp", "22", ["203.0.113.7/32"]],
      ["icmp", undefined, ["0.0.0.0/0", "::/0"]],
    ]);
    expect(rulesOf(firewalls, "edge").map((r) => [r.protocol, r.port])).toEqual([
      ["tcp", "80"],
      ["tcp", "443"],
    ]);
    expect(firewallsOf(firewalls, "manager").map((f) => f.key)).toEqual(["base", "edge"]);
    expect(firewallsOf(firewalls, "worker").map((f) => f.key)).toEqual(["base"]);
  });

  it("keeps every swarm port closed on the public side in private-network mode", () => {
    const { firewalls } = setup({ managers: 3, workers: 2 });
    expect(firewalls.map((f) => f.key)).toEqual(["base", "edge"]);
    const ports = firewalls.flatMap((f) => f.rules).map((r) => `${r.protocol}/${r.port ?? ""}`);
    for (const p of ["tcp/2377", "tcp/7946", "udp/7946", "udp/4789", "esp/"]) expect(ports).not.toContain(p);
  });

  it("opens swarm ports and ESP in public-only mode only to the nodes' own /32 and /128", () => {
    const { firewalls, plan } = setup({ privateNetwork: false, managers: 3, workers: 2 });
    const expected = plan.nodes.flatMap((_, i) => [`198.51.100.${i + 1}/32`, `2001:db8:${i + 1}::1/128`]);
    const swarm = rulesOf(firewalls, "swarm");
    expect(swarm.map((r) => `${r.protocol}/${r.port ?? ""}`)).toEqual(["tcp/7946", "udp/7946", "udp/4789", "esp/"]);
    expect(rulesOf(firewalls, "swarm-managers").map((r) => `${r.protocol}/${r.port}`)).toEqual(["tcp/2377"]);
    for (const r of [...swarm, ...rulesOf(firewalls, "swarm-managers")]) {
      expect(r.sourceIps).toEqual(expected);
      expect(r.sourceIps).not.toContain("0.0.0.0/0");
      expect(r.sourceIps).not.toContain("::/0");
    }
    // 2377 reaches managers only; the other swarm ports every node.
    expect(firewallsOf(firewalls, "worker").map((f) => f.key)).toEqual(["base", "swarm"]);
    expect(firewallsOf(firewalls, "manager").map((f) => f.key)).toEqual(["base", "edge", "swarm", "swarm-managers"]);
    const swarmFw = firewalls.find((f) => f.key === "swarm-managers");
    expect(swarmFw?.attach).toEqual({ labelSelector: "cluster=dev,managed-by=hcloud-swarm,role=manager" });
  });

  it("counts one effective rule per source range", () => {
    const { firewalls } = setup({
      privateNetwork: false,
      managers: 3,
      workers: 2,
      sshAllowedCidrs: ["203.0.113.0/24", "2001:db8::/48", "192.0.2.0/24"],
    });
    expect(firewalls.map((f) => [f.key, effectiveRules(f)])).toEqual([
      ["base", 5],
      ["edge", 4],
      ["swarm", 4 * 10],
      ["swarm-managers", 10],
    ]);
  });

  it("throws on any table that opens a swarm port or ESP wider than one address", () => {
    const open = (protocol: "tcp" | "udp" | "esp", port: string | undefined, src: string): FirewallPlan[] => [
      {
        key: "base",
        name: "x",
        attach: { atCreation: ["worker"] },
        rules: [{ direction: "in", protocol, ...(port ? { port } : {}), sourceIps: [src], description: "d" }],
      },
    ];
    expect(() => assertSwarmClosedToWorld(open("tcp", "2377", "0.0.0.0/0"))).toThrow(
      "firewall x would open tcp/2377 to 0.0.0.0/0",
    );
    expect(() => assertSwarmClosedToWorld(open("esp", undefined, "::/0"))).toThrow("would open esp to ::/0");
    expect(() => assertSwarmClosedToWorld(open("udp", "4000-5000", "10.0.0.0/8"))).toThrow(
      "would open udp/4000-5000 to 10.0.0.0/8",
    );
    expect(() => assertSwarmClosedToWorld(open("tcp", "any", "198.51.100.0/24"))).toThrow("would open tcp/any");
    expect(() => assertSwarmClosedToWorld(open("udp", "7946", "198.51.100.1/32"))).not.toThrow();
    expect(() => assertSwarmClosedToWorld(open("tcp", "22", "0.0.0.0/0"))).not.toThrow();
    expect(SWARM_PORTS).toHaveLength(5);
  });
});
