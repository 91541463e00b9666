// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * A stack file parsed once, with positions kept, so every rule can name the line it is about.
 * Lint rules, the renderer and deploy all read a compose file through this module; they get the
 * parsed file from a StackText (stack-text.ts), which calls parseStack once per text.
 */
import { Document, isMap, isScalar, LineCounter, parseDocument, YAMLMap, type Node } from "yaml";

/** One problem in a stack file; `line` is 1-based in `file`. */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly stack: string;
  /** Rule id, e.g. "unencrypted-overlay"; lets tests and users tell rules apart. */
  readonly rule: string;
  readonly network?: string;
  readonly service?: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

export interface StackSource {
  readonly file: string;
  readonly stack: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

/** Parses a text; steps do not call it, they ask their StackText (stack-text.ts), which keeps the result. */
export function parseStack(text: string, file: string, stack: string): StackSource {
  const lines = new LineCounter();
  // uniqueKeys: a key given twice is a compose error (docker would silently keep one of them).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  return { file, stack, text, doc, lines };
}

/** 1-based line where `node` starts; line 1 when the node has no position (e.g. an absent key). */
export function lineOf(src: StackSource, node: Node | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 1 : src.lines.linePos(offset).line;
}

/** Line of the key `key` inside `map`, falling back to the map itself. */
export function keyLine(src: StackSource, map: YAMLMap | null | undefined, key: string): number {
  const pair = map?.items.find((p) => isScalar(p.key) && p.key.value === key);
  return lineOf(src, (pair?.key as Node | undefined) ?? map);
}

/** The mapping under `key` in `map`, or undefined when it is absent or not a mapping. */
export function mapAt(map: YAMLMap | null | undefined, key: string): YAMLMap | undefined {
  const v = map?.get(key, true);
  return isMap(v) ? v : undefined;
}

/** Key/value pairs of a mapping with scalar keys, in file order. */
export function entries(map: YAMLMap | null | undefined): Array<[string, unknown, Node | undefined]> {
  if (!map) return [];
  return map.items.flatMap((p) => {
    if (!isScalar(p.key)) return [];
    return [[String(p.key.value), p.value, (p.key as Node) ?? undefined] as [string, unknown, Node | undefined]];
  });
}

/** The top-level mapping of the stack file, or undefined when the document is not a mapping. */
export function root(src: StackSource): YAMLMap | undefined {
  return isMap(src.doc.contents) ? src.doc.contents : undefined;
}

/** Stack name implied by a file path: `templates/wordpress/stack.yml` → "wordpress", `blog.yml` → "blog". */
export function stackNameFromFile(file: string): string {
  const parts = file.split(/[\\/]/).filter(Boolean);
  const base = parts[parts.length - 1] ?? "stack";
  const stem = base.replace(/\.(ya?ml)$/i, "");
  const name =
    (stem === "stack" || stem === "docker-compose" || stem === "compose") && parts.length > 1
      ? parts[parts.length - 2]
      : stem;
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, "-");
}

/** `file:line: stack "s", network "n": message` — the one format every finding is shown in. */
export function formatFinding(f: Finding): string {
  const about = [`stack "${f.stack}"`];
  if (f.service) about.push(`service "${f.service}"`);
  if (f.network) about.push(`network "${f.network}"`);
  return `${f.file}:${f.line}: ${about.join(", ")}: ${f.message} [${f.rule}]`;
}
