/**
 * Small IPv4/IPv6 CIDR arithmetic: config validation and address planning (infra/) and the VM bed's
 * networks (local/vm/). Addresses are held as bigints so one code path serves both families.
 */
import * as net from "net";

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address (host bits zero). */
  readonly network: bigint;
  readonly prefix: number;
  /** Canonical text, e.g. "10.0.0.0/16". */
  readonly text: string;
}

export type CidrParse = { readonly ok: true; readonly cidr: Cidr } | { readonly ok: false; readonly reason: string };

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

export function ipToBigInt(ip: string): bigint {
  if (net.isIPv4(ip)) return ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const parse = (s: string): number[] => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups =
    tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

export function bigIntToIp(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join(".");
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** Parses "a.b.c.d/n" or "x::y/n". Host bits must be zero, so a typo is not silently widened. */
export function parseCidr(text: string): CidrParse {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text);
  if (!m) return { ok: false, reason: "is not in CIDR notation (address/prefix)" };
  const family = net.isIPv4(m[1]) ? 4 : net.isIPv6(m[1]) ? 6 : 0;
  if (family === 0) return { ok: false, reason: `has no valid IP address before the "/"` };
  const prefix = Number(m[2]);
  if (prefix > bits(family)) return { ok: false, reason: `has a prefix longer than /${bits(family)}` };
  const value = ipToBigInt(m[1]);
  const hostMask = (1n << BigInt(bits(family) - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    const fixed = `${bigIntToIp(value & ~hostMask, family)}/${prefix}`;
    return { ok: false, reason: `has host bits set; did you mean ${fixed}?` };
  }
  return { ok: true, cidr: { family, network: value, prefix, text: `${bigIntToIp(value, family)}/${prefix}` } };
}

/** Parses a CIDR that is known to be valid (constants, already-validated config). */
export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(`${text} ${r.reason}`);
  return r.cidr;
}

function lastAddress(c: Cidr): bigint {
  return c.network + (1n << BigInt(bits(c.family) - c.prefix)) - 1n;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    outer.network <= inner.network &&
    lastAddress(inner) <= lastAddress(outer)
  );
}

/** The first sub-range of the given prefix length inside `c`. */
export function firstSubnet(c: Cidr, prefix: number): Cidr {
  return cidr(`${bigIntToIp(c.network, c.family)}/${prefix}`);
}

/** The address `offset` places after the network address. */
export function hostAddress(c: Cidr, offset: number): string {
  return bigIntToIp(c.network + BigInt(offset), c.family);
}

/** True for 0.0.0.0/0 and ::/0 (and any prefix-0 range): "the whole Internet". */
export function isWorld(text: string): boolean {
  const r = parseCidr(text);
  return r.ok && r.cidr.prefix === 0;
}
