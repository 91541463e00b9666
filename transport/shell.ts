// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Everything that puts a name on a node's command line goes through this module: the name is
 * validated where it enters (the CLI, the inventory, the stacks config, provider inputs), with a
 * message naming the key and the rule, and quoted where it is used (`shellQuote`). Quoting alone
 * keeps the shell safe; validation also keeps Docker from being asked for something absurd (a
 * stack called `x; touch /tmp/p #` is refused before any connection is made).
 */

/** Single-quotes `s` for a POSIX shell: the result is one word whatever `s` holds. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Node labels have their own rules (inventory/labels.ts: what a placement constraint can name), and are quoted here too. */
export type NameKind = "stack" | "network" | "node" | "service" | "secret" | "user";

interface NameRule {
  readonly pattern: RegExp;
  /** What the rule allows, for the message. */
  readonly rule: string;
}

/**
 * Plain objects, not a Map: this module is serialized into the Pulumi dynamic providers.
 * Stack names become prefixes of Docker object names (`<stack>_<net>`), hence the narrow alphabet.
 */
const RULES: Readonly<Record<NameKind, NameRule>> = {
  stack: {
    pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
    rule: "lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters",
  },
  network: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/,
    rule: "letters, digits, _, . and -, starting with a letter or digit, at most 127 characters",
  },
  service: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/,
    rule: "letters, digits, _, . and -, starting with a letter or digit, at most 127 characters",
  },
  secret: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    rule: "letters, digits, _, . and -, starting with a letter or digit, at most 64 characters",
  },
  // Inventory node names and swarm node IDs (25 lowercase alphanumerics) both fit.
  node: {
    pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    rule: 'a lowercase DNS label such as "worker-1" (letters, digits and -)',
  },
  user: { pattern: /^[a-z_][a-z0-9_-]{0,31}$/, rule: 'a POSIX user name such as "root" or "deploy"' },
};

/** The problem with `value` as a `kind` name, naming `where` it came from; undefined when it is fine. */
export function nameProblem(kind: NameKind, value: unknown, where: string): string | undefined {
  const r = RULES[kind];
  if (typeof value === "string" && r.pattern.test(value)) return undefined;
  return `${where} must be ${r.rule}, got ${JSON.stringify(value) ?? String(value)}`;
}

/** Returns `value` when it is a valid `kind` name, else throws the problem (for single values at an entry point). */
export function checkedName(kind: NameKind, value: unknown, where: string): string {
  const problem = nameProblem(kind, value, where);
  if (problem !== undefined) throw new Error(problem);
  return value as string;
}
