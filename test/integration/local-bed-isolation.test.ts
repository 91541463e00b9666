/**
 * Isolation of the local test bed: nodes reach each other and nothing else. The "outside" targets
 * are things this test creates (a listener on the bed's own gateway address, and an outsider
 * namespace behind the host); no other address is ever contacted.
 */
import * as net from "net";
import { run } from "../../local/common/host-command";
import { waitFor } from "../../common/time";
import { useBedFixture } from "../support/bed-fixture";

const bed = useBedFixture({ name: "local-bed-isolation", nodes: 2, managers: 1 });

/** Busybox on the host is the node's busybox too (nodes share the host's binaries). */
const probe = (ip: string, port: number): string => `busybox nc -w 3 ${ip} ${port} </dev/null; echo "exit=$?"`;

function listen(host: string): Promise<{ server: net.Server; port: number; accepted: () => number }> {
  return new Promise((resolve, reject) => {
    let count = 0;
    const server = net.createServer((s) => {
      count++;
      s.end("hello from the host\n");
    });
    server.on("error", reject);
    server.listen(0, host, () =>
      resolve({ server, port: (server.address() as net.AddressInfo).port, accepted: () => count }),
    );
  });
}

describe("local test bed isolation", () => {
  it("lets nodes reach each other", async () => {
    const manager = bed().node("manager-1");
    const r = await bed().exec("worker-1", probe(manager.host, 22));
    expect(r.stdout).toMatch(/^SSH-2\.0-/);
  });

  it("rejects new connections from nodes to the host, while the host reaches the same listener", async () => {
    const l = await listen(bed().gateway);
    try {
      const fromHost = await run("busybox", ["nc", "-w", "3", bed().gateway, String(l.port)], {
        allowFail: true,
        input: "",
      });
      expect(fromHost.stdout).toContain("hello from the host");
      const before = l.accepted();
      const fromNode = await bed().exec("worker-1", probe(bed().gateway, l.port));
      expect(fromNode.stdout).not.toContain("hello from the host");
      expect(fromNode.stdout).toMatch(/exit=[1-9]/);
      // Rejected (icmp-admin-prohibited), not silently dropped: the node learns at once.
      expect(fromNode.stderr).toMatch(/No route to host/);
      expect(l.accepted()).toBe(before);
    } finally {
      l.server.close();
    }
  });

  it("keeps nodes from reaching a namespace outside the bed that the host reaches", async () => {
    const outsider = await bed().outsider();
    await outsider.exec("busybox nc -ll -p 8080 -e echo outsider-here >/dev/null 2>&1 &");
    const fromHost = async (): Promise<boolean> =>
      (await run("busybox", ["nc", "-w", "3", outsider.ip, "8080"], { allowFail: true, input: "" })).stdout.includes(
        "outsider-here",
      );
    expect(await waitFor(fromHost, 5_000)).toBe(true);
    const fromNode = await bed().exec("worker-1", probe(outsider.ip, 8080));
    expect(fromNode.stdout).not.toContain("outsider-here");
    expect(fromNode.stdout).toMatch(/exit=[1-9]/);
    expect(fromNode.stderr).toMatch(/No route to host/);
  });

  it("owes that to its own firewall: without the bed's FORWARD reject the outsider is reachable", async () => {
    const outsider = await bed().outsider();
    const chain = `hsw${bed().gateway.split(".")[2]}-fwd`;
    const rule = [chain, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"];
    await run("iptables", ["-w", "-D", ...rule]);
    try {
      const r = await bed().exec("worker-1", probe(outsider.ip, 8080));
      expect(r.stdout).toContain("outsider-here");
    } finally {
      await run("iptables", ["-w", "-A", ...rule]);
    }
    expect((await bed().exec("worker-1", probe(outsider.ip, 8080))).stdout).not.toContain("outsider-here");
  });

  it("gives nodes and the bed's bridge no IPv6, which the IPv4 firewall would not cover", async () => {
    const r = await bed().exec("worker-1", "ip -6 addr show");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("");
    const bridge = `hsw${bed().gateway.split(".")[2]}`;
    expect((await run("ip", ["-6", "addr", "show", "dev", bridge])).stdout.trim()).toBe("");
  });

  it("makes name lookups fail at once instead of hanging", async () => {
    const t = Date.now();
    const r = await bed().exec("worker-1", "getent hosts registry-1.docker.io; echo exit=$?");
    expect(r.stdout).toMatch(/exit=[1-9]/);
    expect(Date.now() - t).toBeLessThan(5_000); // a resolver that hangs costs ~20 s per lookup
  });
});
