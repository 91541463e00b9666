// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Reads YAML the way Docker's compose loader does (Docker CLI 23+: gopkg.in/yaml.v3), keeping the
 * line of every value, for when no Docker CLI with `docker stack config` can be asked.
 *
 * Where yaml.v3 and the `yaml` package (YAML 1.2) disagree, this module takes Docker's side:
 * - U+0085, U+2028 and U+2029 end a line (also inside comments and scalars);
 * - plain scalars resolve as yaml.v3 does: `06352` is octal 3306, `0x…`, `0o…`, `0b…`, `1_000` are
 *   integers, `08` is the float 8, only true/false are booleans (`yes` stays a string);
 * - `<<` merge keys are honoured (explicit keys win, then the merged maps in order);
 * - only the first document counts (the `yaml` package refuses the others, and so do we).
 * Characters the two dialects read differently are also reported with their line, so that nobody
 * has to trust a reading the editor does not show (lint refuses them). Constructs this reader does
 * not imitate (timestamps, custom tags, directives) are refused rather than guessed. One known
 * difference is left: inside a value, libyaml keeps U+2028/U+2029 as the break character where
 * this reader has "\n"; the structure is the same, and lint refuses such files anyway.
 */
import { Alias, isAlias, isMap, isScalar, isSeq, type Node, parseDocument, type Document } from "yaml";

/** A value as Docker's loader holds it; mappings have a null prototype, so any key is safe. */
export type GoValue = string | number | boolean | null | GoValue[] | GoMap;
export interface GoMap {
  [key: string]: GoValue;
}

/** Lines of a read value: `line` is where it (or, in a mapping, its key) starts; 1-based. */
export interface Located {
  readonly line: number;
  /** A scalar's text as written (lets a list item be found by its value). */
  readonly text?: string;
  /** Entries of a mapping, by key (merged keys point at the line where the anchor defines them). */
  readonly keys?: ReadonlyMap<string, Located>;
  readonly items?: readonly Located[];
}

export interface DialectProblem {
  readonly line: number;
  readonly message: string;
}

export interface DialectReading {
  /** The value Docker reads; undefined when the text cannot be read at all. */
  readonly data?: GoValue;
  readonly at: Located;
  /** What Docker refuses, or what this reader refuses rather than guess, each with its line. */
  readonly problems: readonly DialectProblem[];
  /** Characters the two dialects read differently (Docker's reading is the one in `data`). */
  readonly divergences: readonly DialectProblem[];
}

/** Aliases expand to copies; this bounds a "billion laughs" file (Docker refuses it too: "excessive aliasing"). A stack uses a few dozen. */
export const MAX_ALIAS_EXPANSIONS = 10_000;

/** Characters that end a line for Docker but not for the `yaml` package. */
const DOCKER_BREAKS = /[\u0085\u2028\u2029]/g;
const BREAK_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["\u0085", "U+0085 (NEL)"],
  ["\u2028", "U+2028 (LINE SEPARATOR)"],
  ["\u2029", "U+2029 (PARAGRAPH SEPARATOR)"],
  ["\r", "a carriage return without a line feed"],
];
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ud800-\udfff\ufffe\uffff]/;

export function isGoMap(v: GoValue | undefined): v is GoMap {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function newGoMap(): GoMap {
  return Object.create(null) as GoMap;
}

/** 1-based line of a UTF-16 offset, counting "\n" only: the line an editor shows. */
export function editorLine(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Characters outside YAML's printable set, and line breaks only Docker sees, with their lines. */
export function divergentCharacters(text: string): DialectProblem[] {
  const problems: DialectProblem[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const name = BREAK_NAMES.find(([ch]) => ch === c && !(c === "\r" && text[i + 1] === "\n"))?.[1];
    if (name) {
      problems.push({
        line: editorLine(text, i),
        message: `${name}: Docker's YAML reader ends the line here, the editor and the yaml package do not; replace it with a newline, or remove it`,
      });
      continue;
    }
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff) {
      i++;
      continue;
    }
    if (NOT_PRINTABLE.test(c) || (c === "\ufeff" && i > 0)) {
      problems.push({
        line: editorLine(text, i),
        message: `character U+${code.toString(16).toUpperCase().padStart(4, "0")} is not allowed in YAML (Docker refuses the file); remove it`,
      });
    }
  }
  return problems;
}

/** Go's strconv.ParseInt(s, 0, 64) followed by ParseUint, as yaml.v3 uses them; undefined when it fails. */
export function goParseInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2];
  let n: bigint;
  if (/^0[xXoObB]/.test(body)) n = BigInt(body.toLowerCase());
  else if (body.length > 1 && body.startsWith("0")) n = BigInt(`0o${body.slice(1)}`);
  else n = BigInt(body);
  if (m[1] === "-") n = -n;
  if (n < -(2n ** 63n) || n > 2n ** 64n - 1n || (m[1] === "+" && n > 2n ** 63n - 1n)) return undefined;
  return Number(n);
}

const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const TIMESTAMP =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$/;

type Resolved = { readonly value: GoValue } | { readonly refused: string };

/** yaml.v3's resolve() for a plain scalar, or for any scalar with an explicit standard tag. */
export function resolveScalar(text: string, tag?: string): Resolved {
  const t = tag?.replace(/^tag:yaml\.org,2002:/, "!!");
  if (t === "!!str") return { value: text };
  if (t !== undefined && !["!!int", "!!float", "!!bool", "!!null"].includes(t)) {
    return { refused: `the tag ${tag} is not read the same way by every YAML reader; remove it` };
  }
  const first = text[0] ?? "";
  const hint =
    text === ""
      ? "N"
      : "+-".includes(first)
        ? "S"
        : "0123456789".includes(first)
          ? "D"
          : "yYnNtTfFoO~".includes(first)
            ? "M"
            : first === "."
              ? "."
              : "";
  let out: Resolved = { value: text };
  if (hint !== "") {
    const fixed: Record<string, GoValue> = {
      true: true,
      True: true,
      TRUE: true,
      false: false,
      False: false,
      FALSE: false,
      "": null,
      "~": null,
      null: null,
      Null: null,
      NULL: null,
    };
    if (Object.prototype.hasOwnProperty.call(fixed, text)) out = { value: fixed[text] };
    else if (
      [".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"].includes(
        text,
      )
    )
      out = {
        value:
          text.includes("nan") || text.includes("NaN") || text.includes("NAN")
            ? NaN
            : text.startsWith("-")
              ? -Infinity
              : Infinity,
      };
    else if (hint === "." && YAML_FLOAT.test(text)) out = { value: Number(text) };
    else if (hint === "D" || hint === "S") {
      if (t === undefined && TIMESTAMP.test(text))
        return { refused: `Docker reads "${text}" as a timestamp, not as text; quote it` };
      const plain = text.replace(/_/g, "");
      const int = goParseInt(plain);
      if (int !== undefined) out = { value: int };
      else if (YAML_FLOAT.test(plain)) out = { value: Number(plain) };
    }
  }
  if (t === undefined || "refused" in out) return out;
  const v = out.value;
  const ok =
    t === "!!int"
      ? Number.isInteger(v)
      : t === "!!float"
        ? typeof v === "number"
        : t === "!!bool"
          ? typeof v === "boolean"
          : v === null;
  return ok ? { value: v } : { refused: `Docker cannot read "${text}" as ${t}` };
}

interface Walk {
  readonly doc: Document;
  readonly text: string;
  readonly problems: DialectProblem[];
  expanded: number;
}

const lineAt = (w: Walk, node: Node | null | undefined): number =>
  node?.range ? editorLine(w.text, node.range[0]) : 1;

/**
 * Reads a compose file's text as Docker does; see the module comment. `emitted: true` reads what a
 * Docker CLI printed: its emitter puts U+2028/U+2029 only inside quoted scalars, where libyaml keeps
 * them as characters, so they are not line breaks there.
 */
export function readDockerYaml(text: string, opts: { readonly emitted?: boolean } = {}): DialectReading {
  const divergences = opts.emitted ? [] : divergentCharacters(text);
  const problems: DialectProblem[] = [];
  // Each replaced character is one UTF-16 unit, so offsets (and editor lines) stay those of `text`.
  const asDocker = opts.emitted ? text : text.replace(DOCKER_BREAKS, "\n").replace(/\r(?!\n)/g, "\n");
  const doc = parseDocument(asDocker, {
    schema: "failsafe",
    uniqueKeys: false,
    merge: false,
    strict: false,
    prettyErrors: false,
  });
  const top: Located = { line: 1 };
  for (const e of doc.errors) {
    if (e.code === "MULTIPLE_DOCS")
      problems.push({
        line: editorLine(text, e.pos[0]),
        message: "a second YAML document (after ---): Docker reads only the first; keep one document per stack file",
      });
    else
      problems.push({
        line: editorLine(text, e.pos[0]),
        message: `YAML error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
      });
  }
  if (doc.directives?.yaml.explicit)
    problems.push({ line: 1, message: "a %YAML directive changes how some readers resolve values; remove it" });
  if (doc.errors.length > 0) return { at: top, problems, divergences };
  const w: Walk = { doc, text, problems, expanded: 0 };
  const [data, at] = walk(w, doc.contents as Node | null, 1, []);
  return { data, at, problems, divergences };
}

function walk(w: Walk, node: Node | null | undefined, line: number, seen: readonly Node[]): [GoValue, Located] {
  if (node === null || node === undefined) return [null, { line }];
  if (isAlias(node)) return alias(w, node, line, seen);
  if (isScalar(node)) {
    const raw = String(node.value ?? "");
    if (node.type !== "PLAIN" && node.tag === undefined) return [raw, { line, text: raw }];
    const r = resolveScalar(raw, node.tag);
    if ("refused" in r) w.problems.push({ line: lineAt(w, node), message: r.refused });
    return ["value" in r ? r.value : raw, { line, text: raw }];
  }
  if (node.tag !== undefined && !["tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"].includes(node.tag)) {
    w.problems.push({
      line: lineAt(w, node),
      message: `the tag ${node.tag} is not read the same way by every YAML reader; remove it`,
    });
  }
  if (isSeq(node)) {
    const data: GoValue[] = [];
    const items: Located[] = [];
    for (const it of node.items) {
      const [v, at] = walk(w, it as Node, lineAt(w, it as Node), seen);
      data.push(v);
      items.push(at);
    }
    return [data, { line, items }];
  }
  if (isMap(node)) return mapping(w, node, line, seen, undefined);
  return [null, { line }];
}

function alias(w: Walk, node: Alias, line: number, seen: readonly Node[]): [GoValue, Located] {
  const target = node.resolve(w.doc) as Node | undefined;
  if (!target) {
    w.problems.push({
      line: lineAt(w, node),
      message: `unknown anchor "${node.source}": define &${node.source} before using *${node.source}`,
    });
    return [null, { line }];
  }
  if (seen.includes(target)) {
    w.problems.push({ line: lineAt(w, node), message: `*${node.source} refers to itself` });
    return [null, { line }];
  }
  w.expanded += 1;
  if (w.expanded > MAX_ALIAS_EXPANSIONS) {
    if (w.expanded === MAX_ALIAS_EXPANSIONS + 1)
      w.problems.push({
        line: lineAt(w, node),
        message: `more than ${MAX_ALIAS_EXPANSIONS} alias expansions: the file is too repetitive to read safely`,
      });
    return [null, { line }];
  }
  const [v, at] = walk(w, target, line, [...seen, target]);
  // Where the alias is used, point at the use; inside, at the anchor's definitions.
  return [v, { ...at, line }];
}

/**
 * A mapping, with yaml.v3's merge rules: the mapping's own keys first, then each merged map in
 * order, a key already set always winning; duplicate keys (as written) are an error.
 */
function mapping(
  w: Walk,
  node: Node,
  line: number,
  seen: readonly Node[],
  into: { data: GoMap; keys: Map<string, Located>; set: Set<string> } | undefined,
): [GoValue, Located] {
  if (!isMap(node)) return [null, { line }];
  const target = into ?? { data: newGoMap(), keys: new Map<string, Located>(), set: new Set<string>() };
  const writtenKeys: string[] = [];
  let merges: Node | null | undefined;
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const keyLine = lineAt(w, keyNode ?? (pair.value as Node | null));
    const raw = isScalar(keyNode) ? String(keyNode.value ?? "") : undefined;
    if (raw !== undefined) {
      if (writtenKeys.includes(raw))
        w.problems.push({ line: keyLine, message: `mapping key "${raw}" is given twice; Docker refuses the file` });
      writtenKeys.push(raw);
    }
    // As yaml.v3's parser: a plain `<<` (or one tagged !!merge) is a merge key, a quoted one is text.
    const tag = isScalar(keyNode) ? keyNode.tag?.replace(/^tag:yaml\.org,2002:/, "!!") : undefined;
    if (
      raw === "<<" &&
      isScalar(keyNode) &&
      (tag === "!!merge" || (keyNode.type === "PLAIN" && (tag === undefined || tag === "!")))
    ) {
      merges = pair.value as Node | null;
      if (merges === null)
        w.problems.push({ line: keyLine, message: "<< (merge) needs a mapping, an alias of one, or a list of them" });
      continue;
    }
    const resolved: Resolved | undefined = !isScalar(keyNode)
      ? undefined
      : keyNode.type !== "PLAIN" && tag === undefined
        ? { value: raw ?? "" }
        : resolveScalar(raw ?? "", keyNode.tag);
    if (!resolved || !("value" in resolved) || typeof resolved.value !== "string") {
      w.problems.push({
        line: keyLine,
        message: `mapping key ${raw === undefined ? "(not a scalar)" : `"${raw}"`} is not a string for Docker; quote it`,
      });
      continue;
    }
    const key = resolved.value;
    if (target.set.has(key)) continue;
    target.set.add(key);
    const [v, at] = walk(w, pair.value as Node | null, keyLine, seen);
    target.data[key] = v;
    target.keys.set(key, { ...at, line: keyLine });
  }
  if (merges) mergeInto(w, merges, seen, target);
  return [target.data, { line, keys: target.keys }];
}

function mergeInto(
  w: Walk,
  value: Node,
  seen: readonly Node[],
  target: { data: GoMap; keys: Map<string, Located>; set: Set<string> },
): void {
  const deref = (n: Node): Node | undefined => (isAlias(n) ? ((n.resolve(w.doc) as Node | undefined) ?? undefined) : n);
  const sources = isSeq(value) ? (value.items as Node[]) : [value];
  for (const s of sources) {
    const m = deref(s);
    if (!m || !isMap(m) || (isSeq(value) && isSeq(m))) {
      w.problems.push({
        line: lineAt(w, s),
        message: "<< (merge) needs a mapping, an alias of one, or a list of them",
      });
      continue;
    }
    if (seen.includes(m)) continue;
    w.expanded += 1;
    mapping(w, m, lineAt(w, m), [...seen, m], target);
  }
}
