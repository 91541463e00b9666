/**
 * `pulumi up` warns loudly while SSH is open to the whole Internet (the default), however the
 * whole Internet is spelled, and stays quiet once sshAllowedCidrs is narrowed.
 */
import { configWarnings } from "../../../infra/config";
import { runProgram } from "../../support/pulumi";

jest.setTimeout(60_000);

const warns = (sshAllowedCidrs: string[]) => configWarnings({ sshAllowedCidrs });

describe("the SSH-open-to-the-world warning", () => {
  it.each([
    [["0.0.0.0/0", "::/0"], /whole IPv4 and IPv6 Internet/],
    [["0.0.0.0/0"], /whole IPv4 Internet/],
    [["::/0"], /whole IPv6 Internet/],
    [["0.0.0.0/1", "128.0.0.0/1"], /whole IPv4 Internet/],
    [["128.0.0.0/1", "64.0.0.0/2", "0.0.0.0/2", "203.0.113.7/32"], /whole IPv4 Internet/],
    [["::/1", "8000::/1"], /whole IPv6 Internet/],
  ])("warns for %j", (cidrs, message) => {
    const w = warns(cidrs);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(message);
    expect(w[0]).toContain("pulumi config set --path 'hcloud-swarm:sshAllowedCidrs[0]'");
  });

  it.each([
    [["203.0.113.7/32"]],
    [["0.0.0.0/1"]],
    [["0.0.0.0/1", "128.0.0.0/2"]],
    [["2001:db8::/32", "203.0.113.0/24"]],
  ])("stays quiet for %j", (cidrs) => {
    expect(warns(cidrs)).toEqual([]);
  });

  it("is printed by the program with the default config, and not once SSH is narrowed", async () => {
    const spy = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      await runProgram({ serverType: "cx23" });
      const loud = spy.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("SSH (port 22"));
      expect(loud).toHaveLength(1);
      expect(loud[0]).toMatch(
        /WARNING: SSH \(port 22, root login with the deploy key\) is open to the whole IPv4 and IPv6 Internet/,
      );
      spy.mockClear();
      await runProgram({ serverType: "cx23", sshAllowedCidrs: JSON.stringify(["203.0.113.7/32"]) });
      expect(spy.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("SSH (port 22"))).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
