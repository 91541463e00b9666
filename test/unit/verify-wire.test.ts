import { checkWire, type WireEvidence } from "../../verify/checks";
import { countWire } from "../../verify/pcap";

/** Builds pcap files packet by packet, to test the counter on every link type and byte order it claims. */
function ipv4(proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from([10, 0, 0, 11]).copy(h, 12);
  Buffer.from([10, 0, 0, 12]).copy(h, 16);
  return Buffer.concat([h, payload]);
}
function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return ipv4(17, Buffer.concat([h, payload]));
}
const esp = (payload: Buffer) => ipv4(50, Buffer.concat([Buffer.from([0, 0, 0x10, 0, 0, 0, 0, 1]), payload]));
function ethernet(ip: Buffer, etherType = 0x0800): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(etherType, 12);
  return Buffer.concat([h, ip]);
}
function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0x0800, 14);
  return Buffer.concat([h, ip]);
}
function pcap(linkType: number, frames: Buffer[], bigEndian = false): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (bigEndian) b.writeUInt32BE(n);
    else b.writeUInt32LE(n);
    return b;
  };
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    if (bigEndian) b.writeUInt16BE(n);
    else b.writeUInt16LE(n);
    return b;
  };
  const head = Buffer.concat([u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(262144), u32(linkType)]);
  return Buffer.concat([head, ...frames.flatMap((f) => [u32(0), u32(0), u32(f.length), u32(f.length), f])]);
}

const marker = Buffer.from("hswire0123456789abcdef");
const vxlanWithMarker = udp(51234, 4789, Buffer.concat([Buffer.alloc(8), ethernet(udp(40000, 9, marker))]));

describe("countWire", () => {
  it("counts ESP, VXLAN and the marker in clear, on Ethernet captures in either byte order", () => {
    for (const be of [false, true]) {
      const file = pcap(
        1,
        [
          ethernet(esp(Buffer.alloc(40, 7))),
          ethernet(vxlanWithMarker),
          ethernet(udp(7946, 7946, Buffer.from("gossip"))),
          ethernet(Buffer.alloc(30), 0x86dd),
        ],
        be,
      );
      expect(countWire(file, [marker])).toEqual({ packets: 3, esp: 1, vxlan: 1, cleartext: 1 });
    }
  });

  it("reads Linux cooked captures and VLAN-tagged frames, and VXLAN by source port too (the answers)", () => {
    const tagged = Buffer.concat([
      Buffer.alloc(12),
      Buffer.from([0x81, 0x00, 0, 1, 0x08, 0x00]),
      udp(4789, 50000, Buffer.alloc(20)),
    ]);
    expect(countWire(pcap(113, [sll(esp(Buffer.alloc(8)))]), [marker])).toEqual({
      packets: 1,
      esp: 1,
      vxlan: 0,
      cleartext: 0,
    });
    expect(countWire(pcap(1, [tagged]), [marker])).toEqual({ packets: 1, esp: 0, vxlan: 1, cleartext: 0 });
  });

  it("does not see the marker inside ESP's ciphertext, and stops at a record cut short", () => {
    const cut = pcap(1, [ethernet(esp(Buffer.from("random-looking-bytes")))]);
    expect(countWire(Buffer.concat([cut, Buffer.from([1, 2, 3])]), [marker])).toEqual({
      packets: 1,
      esp: 1,
      vxlan: 0,
      cleartext: 0,
    });
  });

  it("refuses what is not a pcap, with the reason", () => {
    expect(() => countWire(Buffer.alloc(10), [marker])).toThrow(/too short/);
    expect(() => countWire(Buffer.alloc(24, 1), [marker])).toThrow(/not a pcap file/);
    expect(() => countWire(pcap(228, [Buffer.alloc(20)]), [marker])).toThrow(/link type 228/);
  });
});

describe("checkWire", () => {
  const control: WireEvidence = {
    network: "hsw-wire-control",
    kind: "control",
    from: "a",
    to: "b",
    how: "udp",
    counts: { packets: 20, esp: 0, vxlan: 16, cleartext: 8 },
  };
  const enc = (counts: WireEvidence["counts"]): WireEvidence => ({
    network: "app_net",
    kind: "encrypted",
    from: "a",
    to: "b",
    how: "udp",
    counts,
  });

  it("passes an encrypted network only with ESP, no VXLAN and no marker in clear, next to a control that saw VXLAN", () => {
    const checks = checkWire([enc({ packets: 16, esp: 16, vxlan: 0, cleartext: 0 }), control]);
    expect(checks.map((c) => c.status)).toEqual(["pass", "pass"]);
    expect(checks[0].detail).toMatch(/ESP 16, VXLAN 0, marker in clear 0/);
  });

  it("fails any VXLAN or clear marker on an encrypted network, ESP or not", () => {
    expect(checkWire([enc({ packets: 9, esp: 8, vxlan: 1, cleartext: 0 }), control])[0].status).toBe("fail");
    expect(checkWire([enc({ packets: 9, esp: 8, vxlan: 0, cleartext: 1 }), control])[0].status).toBe("fail");
  });

  it("never passes without a control that proves the capture sees plain VXLAN", () => {
    const blind = { ...control, counts: { packets: 0, esp: 0, vxlan: 0, cleartext: 0 } };
    expect(checkWire([enc({ packets: 16, esp: 16, vxlan: 0, cleartext: 0 }), blind]).map((c) => c.status)).toEqual([
      "unprovable",
      "unprovable",
    ]);
    expect(checkWire([enc({ packets: 16, esp: 16, vxlan: 0, cleartext: 0 })]).map((c) => c.status)).toEqual([
      "unprovable",
      "unprovable",
    ]);
  });

  it("calls nothing crossing (a kernel without ESP fails closed) unprovable, and reports errors as failures", () => {
    expect(checkWire([enc({ packets: 0, esp: 0, vxlan: 0, cleartext: 0 }), control])[0]).toMatchObject({
      status: "unprovable",
      detail: expect.stringMatching(/nothing crossed/),
    });
    expect(checkWire([{ ...enc(undefined), error: "cannot reach b" }, control])[0].status).toBe("fail");
    expect(checkWire([{ ...enc(undefined), unprovable: "tcpdump is not installed on a" }, control])[0]).toMatchObject({
      status: "unprovable",
      detail: "tcpdump is not installed on a",
    });
  });
});
