// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Swarm placement constraints, read and matched the way swarmkit's scheduler does
 * (manager/constraint/constraint.go): "key == value" or "key != value"; "==" is looked for first;
 * values compare case-insensitively, label names case-sensitively; a missing label reads as "", so
 * "!=" matches a node without it; a key the scheduler does not know matches no node at all.
 * Pure: deploy uses it to refuse a stack whose services no node could run, and to choose pins.
 */

/** What the scheduler knows about a node, as `docker node inspect` reports it. */
export interface SchedulingFacts {
  readonly id: string;
  readonly hostname: string;
  /** Status.Addr. */
  readonly addr: string;
  readonly role: "manager" | "worker";
  readonly os: string;
  readonly arch: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineLabels: Readonly<Record<string, string>>;
}

export interface Constraint {
  /** The text as written, for messages. */
  readonly text: string;
  readonly key: string;
  readonly op: "==" | "!=";
  readonly value: string;
  /** For node.labels.<name>: the label name (case-sensitive, as swarmkit reads it). */
  readonly label?: string;
  /** For engine.labels.<name>: the engine label name. */
  readonly engineLabel?: string;
}

/** swarmkit's own patterns: a key it refuses makes `docker stack deploy` fail half-way. */
const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const NODE_LABEL = "node.labels.";
const ENGINE_LABEL = "engine.labels.";
const FIXED_KEYS = ["node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch"];

export type Parsed =
  { readonly ok: true; readonly constraint: Constraint } | { readonly ok: false; readonly reason: string };

/** Parses one constraint; `reason` says what Docker (or its scheduler) would do with a bad one. */
export function parseConstraint(text: string): Parsed {
  const op = text.includes("==") ? "==" : text.includes("!=") ? "!=" : undefined;
  if (!op) return { ok: false, reason: `Docker refuses it: a constraint needs == or != ("node.labels.disk == ssd")` };
  const at = text.indexOf(op);
  const key = text.slice(0, at).trim();
  const value = text.slice(at + 2).trim();
  if (!KEY.test(key))
    return { ok: false, reason: `Docker refuses the key "${key}": letters, digits, ".", "_" and "-" only` };
  if (!VALUE.test(value)) return { ok: false, reason: `Docker refuses the value "${value}"` };
  const lower = key.toLowerCase();
  const known =
    FIXED_KEYS.includes(lower) ||
    (lower.startsWith(NODE_LABEL) && key.length > NODE_LABEL.length) ||
    (lower.startsWith(ENGINE_LABEL) && key.length > ENGINE_LABEL.length);
  if (!known) {
    return {
      ok: false,
      reason: `"${key}" is no key the scheduler knows (node.labels.<name>, node.role, node.hostname, node.id, node.ip, node.platform.os, node.platform.arch, engine.labels.<name>): Docker accepts it, but no node ever matches`,
    };
  }
  const label = lower.startsWith(NODE_LABEL) ? key.slice(NODE_LABEL.length) : undefined;
  const engineLabel = lower.startsWith(ENGINE_LABEL) ? key.slice(ENGINE_LABEL.length) : undefined;
  return {
    ok: true,
    constraint: {
      text,
      key: lower,
      op,
      value,
      ...(label !== undefined ? { label } : {}),
      ...(engineLabel !== undefined ? { engineLabel } : {}),
    },
  };
}

function ipMatches(value: string, addr: string): boolean | undefined {
  const v4 = (ip: string) =>
    /^(\d{1,3}\.){3}\d{1,3}$/.test(ip) ? ip.split(".").reduce((n, o) => n * 256 + Number(o), 0) : undefined;
  const [base, bits] = value.split("/");
  const a = v4(addr);
  const b = v4(base);
  // IPv6 node addresses do not occur in this product (nodes advertise IPv4): say "unknown".
  if (a === undefined || b === undefined) return undefined;
  if (bits === undefined) return a === b;
  const n = Number(bits);
  if (!/^\d+$/.test(bits) || n > 32) return undefined;
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

/** Whether the node satisfies one constraint. */
export function matches(c: Constraint, n: SchedulingFacts): boolean {
  const eq = (actual: string) => (c.value.toLowerCase() === actual.toLowerCase()) === (c.op === "==");
  switch (c.key) {
    case "node.id":
      return eq(n.id);
    case "node.hostname":
      return eq(n.hostname);
    case "node.role":
      return eq(n.role);
    case "node.platform.os":
      return eq(n.os);
    case "node.platform.arch":
      return eq(n.arch);
    case "node.ip": {
      const within = ipMatches(c.value, n.addr);
      // swarmkit rejects a malformed address for both operators.
      return within === undefined ? false : within === (c.op === "==");
    }
  }
  if (c.label !== undefined) return eq(n.labels[c.label] ?? "");
  return eq(n.engineLabels[c.engineLabel ?? ""] ?? "");
}

export function matchesAll(cs: readonly Constraint[], n: SchedulingFacts): boolean {
  return cs.every((c) => matches(c, n));
}

/** The label a constraint requires to be "true" (a placement pin's form), if it is one. */
export function requiredTrueLabel(c: Constraint): string | undefined {
  return c.label !== undefined && c.op === "==" && c.value.toLowerCase() === "true" ? c.label : undefined;
}
