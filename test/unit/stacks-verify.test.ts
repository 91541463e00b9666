import { checkNetworks, checkNode, ENCRYPTION_MARK, summarise } from "../../verify/checks";

/** Output as captured from a test bed node running Docker 20.10.24 with encrypted overlays. */
const POLICY = `src 10.213.2.12/32 dst 10.213.2.13/32 proto udp dport 4789
\tdir out priority 0 ptype main
\tmark ${ENCRYPTION_MARK}/0xffffffff
\ttmpl src 10.213.2.12 dst 10.213.2.13
\t\tproto esp spi 0xf96c8d9b reqid 13681891 mode transport`;
const MANGLE = `-P OUTPUT ACCEPT\n-A OUTPUT -p udp -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc&0xffffff00=0x100100" -j MARK --set-xmark ${ENCRYPTION_MARK}/0xffffffff`;
const INPUT = `-P INPUT ACCEPT
-A INPUT -p udp -m policy --dir in --pol none -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc&0xffffff00=0x100100" -j DROP
-A INPUT -p udp -m policy --dir in --pol ipsec -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc&0xffffff00=0x100100" -j ACCEPT`;
const STATE = `src 10.213.1.11 dst 10.213.1.12\n\tproto esp spi 0x1234 reqid 0 mode transport\n\taead rfc4106(gcm(aes)) 0x00 64`;
const node = {
  node: "worker-1",
  xfrmPolicy: POLICY,
  xfrmState: STATE,
  mangleOutput: MANGLE,
  filterInput: INPUT,
  localEncryptedNetworks: 1,
  otherNodes: 2,
};

describe("verify", () => {
  it("passes an encrypted overlay with the cluster's MTU, and fails a plain ingress or a wrong MTU", () => {
    const checks = checkNetworks(
      [
        {
          name: "blog_internal",
          id: "a",
          driver: "overlay",
          ingress: false,
          options: { encrypted: "", "com.docker.network.driver.mtu": "1450" },
          labels: {},
        },
        {
          name: "ingress",
          id: "b",
          driver: "overlay",
          ingress: true,
          options: { "com.docker.network.driver.mtu": "1500" },
          labels: {},
        },
      ],
      1450,
    );
    expect(checks.map((c) => [c.subject, c.what, c.status])).toEqual([
      ["network blog_internal", "encrypted", "pass"],
      ["network blog_internal", "MTU", "pass"],
      ["network ingress (ingress)", "encrypted", "fail"],
      ["network ingress (ingress)", "MTU", "fail"],
    ]);
  });

  it("passes a node with ESP policies, marks, the drop rule and ESP states", () => {
    expect(checkNode(node).map((c) => c.status)).toEqual(["pass", "pass", "pass", "pass"]);
  });

  it("reports missing ESP states next to policies as 'kernel lacks ESP', never as a pass", () => {
    const checks = checkNode({ ...node, xfrmState: "" });
    const esp = checks.find((c) => c.what === "ESP states");
    expect(esp).toMatchObject({ status: "unprovable" });
    expect(esp?.detail).toMatch(/kernel lacks ESP/);
    expect(summarise(checks).exitCode).toBe(2);
  });

  it("fails a node whose encrypted overlays have no enforcing rules", () => {
    const checks = checkNode({ ...node, mangleOutput: "-P OUTPUT ACCEPT", filterInput: "-P INPUT ACCEPT" });
    expect(checks.filter((c) => c.status === "fail").map((c) => c.what)).toEqual([
      "iptables mark",
      "plain VXLAN dropped",
    ]);
    expect(summarise(checks).exitCode).toBe(1);
  });

  it("calls a node without encrypted tasks unprovable, and an unreachable node a failure", () => {
    expect(checkNode({ ...node, xfrmPolicy: "", xfrmState: "", localEncryptedNetworks: 0 })).toEqual([
      expect.objectContaining({ status: "unprovable" }),
    ]);
    expect(checkNode({ ...node, xfrmPolicy: "", xfrmState: "", otherNodes: 0 })).toEqual([
      expect.objectContaining({ status: "unprovable", detail: expect.stringMatching(/single-node/) }),
    ]);
    expect(checkNode({ ...node, error: "connection refused" })).toEqual([
      expect.objectContaining({ status: "fail", what: "reachable" }),
    ]);
  });
});
