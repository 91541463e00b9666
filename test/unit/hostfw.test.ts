/**
 * The host firewall's rule set (hostfw/rules.ts) and the node script generated from it
 * (hostfw/script.ts). The script is run for real by /bin/sh in `print` mode, so what the shell
 * builds is compared with what the pure module says, and hostile addresses are judged by the shell.
 */
import { execFileSync, spawnSync } from "child_process";
import {
  allowList,
  allowListHash,
  baselineRules,
  canonicalAddress,
  HOST_CHAIN,
  restoreInput,
  SWARM_PORTS,
} from "../../hostfw/rules";
import { firewallScript, parseAllowLine } from "../../hostfw/script";

function printed(args: readonly string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("/bin/sh", ["-s", "--", "print", ...args], { input: firewallScript(), encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("host firewall rules", () => {
  it("drops every swarm port and ESP, for IPv4 and IPv6, when the allow-list is empty", () => {
    for (const family of [4, 6] as const) {
      const text = restoreInput(family, []);
      expect(text).toContain(`:${HOST_CHAIN} - [0:0]`);
      for (const rule of [
        "-p tcp -m tcp --dport 2377 -j DROP",
        "-p tcp -m tcp --dport 7946 -j DROP",
        "-p udp -m udp --dport 7946 -j DROP",
        "-p udp -m udp --dport 4789 -j DROP",
        "-p esp -j DROP",
      ]) {
        expect(text).toContain(`-A ${HOST_CHAIN} ${rule}`);
      }
      expect(text).not.toMatch(/-s /);
    }
    expect(baselineRules()).toHaveLength(SWARM_PORTS.length);
  });

  it("lets each allow-listed address through once, in its own family, before the drops", () => {
    const v4 = restoreInput(4, ["10.0.0.3", "10.0.0.2", "10.0.0.3", "2001:db8::1"]);
    expect(v4.match(/-s 10\.0\.0\.3\/32 -j RETURN/g)).toHaveLength(1);
    expect(v4).not.toContain("2001:db8::1");
    expect(v4.indexOf("10.0.0.2/32")).toBeLessThan(v4.indexOf("--dport 2377"));
    const v6 = restoreInput(6, ["10.0.0.3", "2001:DB8:0::1"]);
    expect(v6).toContain(`-A ${HOST_CHAIN} -s 2001:db8::1/128 -j RETURN`);
    expect(v6).not.toContain("10.0.0.3");
  });

  it.each([
    ["010.0.0.1", "iptables would read it as octal, 8.0.0.1"],
    ["10.0.0.1/0", "a prefix widens it to everything"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    [" 10.0.0.1", "whitespace"],
    ["10.0.0.1\n-A INPUT -j ACCEPT", "a second rule smuggled in"],
    ["10.0.0.1; touch /tmp/p", "shell syntax"],
    ["fe80::1%eth0", "a zone id"],
    ["::ffff:10.0.0.1", "IPv4-mapped IPv6"],
    ["10.0.0", "not four octets"],
    ["-j ACCEPT", "an iptables option"],
  ])("refuses %j as an allow-list address (%s)", (hostile) => {
    expect(canonicalAddress(hostile)).toBeUndefined();
    const list = allowList([hostile, "10.0.0.2"]);
    expect(list.addresses).toEqual(["10.0.0.2"]);
    expect(list.rejected).toHaveLength(1);
  });

  it("hashes the same set the same way whatever the order, spelling or duplicates", () => {
    expect(allowListHash(["10.0.0.2", "2001:db8::1", "10.0.0.2"])).toBe(allowListHash(["2001:DB8::0:1", "10.0.0.2"]));
    expect(allowListHash(["10.0.0.2"])).not.toBe(allowListHash(["10.0.0.3"]));
    expect(allowListHash([])).toMatch(/^0-[0-9a-f]{12}$/);
  });
});

describe("the node script, run by /bin/sh", () => {
  it("is valid POSIX sh", () => {
    expect(() => execFileSync("/bin/sh", ["-n"], { input: firewallScript() })).not.toThrow();
  });

  it("builds exactly the rules the pure module describes, for both families", () => {
    for (const list of [[], ["10.0.0.2"], ["10.0.0.3", "10.0.0.2", "10.0.0.3", "2001:db8::1"]]) {
      const r = printed(list);
      expect(r).toEqual({ code: 0, stdout: restoreInput(4, list) + restoreInput(6, list), stderr: "" });
    }
  });

  it.each([
    ["010.0.0.1"],
    ["10.0.0.1/0"],
    ["10.0.0.1;id"],
    ["$(id)"],
    ["10.0.0.1 -j ACCEPT"],
    ["fe80::1%eth0"],
    ["10.0.0.1\n-A INPUT -j ACCEPT"],
    [""],
    ["1.2.3"],
    // Slipped past the old pattern (hex digits, dots and colons) and failed iptables-restore: open at boot.
    ["1.2.3.256"],
    ["1.2.3.4.5"],
    ["::ffff:10.0.0.1"],
    ["1:2:3:4:5:6:7:8:9"],
    ["1::2::3"],
    ["12345::1"],
    [":1:2"],
    ["::"],
    ["0.0.0.0"],
    ["a.b.c.d"],
    ["*"],
  ])("refuses %j before building any rule", (hostile) => {
    const r = printed(["10.0.0.2", hostile]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/not a host address/);
  });

  it("reads the enforced list from the last allow: line", () => {
    expect(parseAllowLine("noise\nallow: 10.0.0.2 10.0.0.3\n")).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(parseAllowLine("allow:\n")).toEqual([]);
    expect(parseAllowLine("nothing")).toBeUndefined();
  });

  it("accepts what iptables accepts and the pure module keeps, so the shell never drops a real member", () => {
    const good = ["10.0.0.2", "255.255.255.255", "2001:db8::1", "1:2:3:4:5:6:7:8", "fe80::", "::1"];
    expect(good.filter((a) => canonicalAddress(a) === undefined)).toEqual([]);
    expect(printed(good).code).toBe(0);
  });
});
