// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The text deploy uploads: the judge's reading of the stack, written so that every YAML reader
 * (yaml.v2 in Docker 20.10, yaml.v3 in Docker 23+, the `yaml` package) reads the same values.
 * It is JSON with every string double-quoted and every non-ASCII character escaped: no plain
 * scalar left to resolve (no octal, no `yes`), no line break other than "\n", no anchors or merges.
 * `$` in values is written `$$`, because `docker stack deploy` interpolates once more.
 */
import { type GoValue, isGoMap } from "./dialect";
import { escapeDollars } from "./interpolate";

/** A YAML double-quoted string holding only ASCII: `\uXXXX` for the BMP, `\UXXXXXXXX` beyond it. */
export function quoteAscii(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code > 0xffff) out += `\\U${code.toString(16).padStart(8, "0")}`;
    else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

function emit(v: GoValue, indent: string, at: string): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v))
      throw new Error(`${at || "the stack"}: the value ${v} cannot be deployed; Docker refuses it too`);
    return String(v);
  }
  if (typeof v === "string") return quoteAscii(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[\n${v.map((x, i) => inner + emit(x, inner, `${at}[${i}]`)).join(",\n")}\n${indent}]`;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return "{}";
  return `{\n${keys.map((k) => `${inner}${quoteAscii(k)}: ${emit(v[k], inner, at ? `${at}.${k}` : k)}`).join(",\n")}\n${indent}}`;
}

/** The deploy text of a judged reading (a mapping); see the module comment. */
export function canonicalText(data: GoValue, header?: string): string {
  if (!isGoMap(data)) throw new Error("a stack must be a mapping");
  // The header is ours, but it names user paths: keep it printable ASCII so it cannot end a comment early.
  const comment = header
    ? `${header
        .split("\n")
        .map((l) => `# ${l.replace(/[^\x20-\x7e]/g, "?")}`)
        .join("\n")}\n`
    : "";
  return `${comment}${emit(escapeDollars(data), "", "")}\n`;
}
