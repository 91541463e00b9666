/**
 * Counts what a capture on a node's underlay interface saw: ESP (IP protocol 50), VXLAN (udp 4789)
 * and packets whose bytes carry the probe's marker in clear. Pure: reads the classic pcap format
 * that `tcpdump -w` writes (Ethernet, Linux cooked v1 and v2 link types, either byte order).
 */

export interface WireCounts {
  /** IPv4 packets between the two nodes, of any kind. */
  readonly packets: number;
  readonly esp: number;
  readonly vxlan: number;
  /** Packets with the marker in clear, wherever it sits (a plain overlay carries it inside VXLAN). */
  readonly cleartext: number;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
export const VXLAN_PORT = 4789;
const PROTO_UDP = 17;
const PROTO_ESP = 50;

/** Offset of the IPv4 header in one captured frame, or undefined when the frame is not IPv4. */
function ipv4Offset(frame: Buffer, linkType: number): number | undefined {
  let etherType: number;
  let off: number;
  if (linkType === LINKTYPE_ETHERNET) {
    if (frame.length < 14) return undefined;
    etherType = frame.readUInt16BE(12);
    off = 14;
    if (etherType === ETHERTYPE_VLAN && frame.length >= 18) {
      etherType = frame.readUInt16BE(16);
      off = 18;
    }
  } else if (linkType === LINKTYPE_LINUX_SLL) {
    if (frame.length < 16) return undefined;
    etherType = frame.readUInt16BE(14);
    off = 16;
  } else if (linkType === LINKTYPE_LINUX_SLL2) {
    if (frame.length < 20) return undefined;
    etherType = frame.readUInt16BE(0);
    off = 20;
  } else {
    throw new Error(`unsupported capture link type ${linkType} (expected Ethernet or Linux cooked)`);
  }
  return etherType === ETHERTYPE_IPV4 && frame.length >= off + 20 && frame[off] >> 4 === 4 ? off : undefined;
}

/**
 * Counts the packets of a pcap file. `markers` are byte strings whose presence in a packet means its
 * payload crossed in clear (the probe sends them; encryption must hide them).
 */
export function countWire(pcap: Buffer, markers: readonly Buffer[]): WireCounts {
  if (pcap.length < 24)
    throw new Error(`the capture is ${pcap.length} bytes, too short for a pcap header (did tcpdump start?)`);
  const magic = pcap.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!le && !be) throw new Error(`not a pcap file (magic 0x${magic.toString(16)})`);
  const u32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  let packets = 0;
  let esp = 0;
  let vxlan = 0;
  let cleartext = 0;
  for (let o = 24; o + 16 <= pcap.length;) {
    const caplen = u32(o + 8);
    const start = o + 16;
    if (start + caplen > pcap.length) break; // a record cut short by the capture's end
    const frame = pcap.subarray(start, start + caplen);
    o = start + caplen;
    const ip = ipv4Offset(frame, linkType);
    if (ip === undefined) continue;
    packets++;
    const ihl = (frame[ip] & 0x0f) * 4;
    const proto = frame[ip + 9];
    if (proto === PROTO_ESP) esp++;
    else if (proto === PROTO_UDP && frame.length >= ip + ihl + 4) {
      const sport = frame.readUInt16BE(ip + ihl);
      const dport = frame.readUInt16BE(ip + ihl + 2);
      if (sport === VXLAN_PORT || dport === VXLAN_PORT) vxlan++;
    }
    if (markers.some((m) => m.length > 0 && frame.includes(m))) cleartext++;
  }
  return { packets, esp, vxlan, cleartext };
}
