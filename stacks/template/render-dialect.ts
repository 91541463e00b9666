// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Makes a `yaml` package Document say what Docker reads, before the renderer edits it. Without
 * this, the renderer (YAML 1.2) and Docker (yaml.v3) read a template differently, and the
 * rendered file means something else than the template:
 * - `<<` merge keys are expanded into the mappings they merge into (yaml.v3's order: own keys,
 *   then each merged map in turn), so that adding the MTU to `driver_opts` or a label to
 *   `deploy.labels` adds to what Docker sees, instead of replacing a merged value;
 * - plain scalars that yaml.v3 resolves differently (`06352` is octal 3306, `0b101`, `1_000`,
 *   a tagged `!!int "04511"`) are written as the value Docker reads.
 * Timestamps, custom tags and other constructs the Docker-dialect reader refuses are left alone:
 * lint refuses them later, with their lines.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  type Pair,
  Scalar,
  visit,
  type YAMLMap,
} from "yaml";
import { resolveScalar } from "../reading/dialect";

/** yaml.v3's value for a plain (or tagged) scalar, when it differs from the `yaml` package's. */
function dockerValue(node: Scalar): { value: unknown } | undefined {
  if (node.type !== "PLAIN" && node.tag === undefined) return undefined;
  const text = node.source ?? String(node.value ?? "");
  const r = resolveScalar(text, node.tag);
  if ("refused" in r) return undefined;
  const same =
    r.value === node.value ||
    (r.value === null && node.value === null) ||
    (typeof r.value === "number" && Number.isNaN(r.value) && Number.isNaN(node.value as number));
  return same ? undefined : { value: r.value };
}

function deref(doc: Document, n: unknown): Node | undefined {
  return isAlias(n) ? ((n.resolve(doc) as Node | undefined) ?? undefined) : (n as Node | undefined);
}

function mergedPairs(doc: Document, map: YAMLMap, seen: readonly YAMLMap[]): Pair[] {
  const out: Pair[] = [];
  const has = (k: string): boolean => out.some((p) => isScalar(p.key) && String(p.key.value) === k);
  const own = map.items.filter((p) => !isMergeKey(p));
  for (const p of own) out.push(p);
  for (const p of map.items.filter(isMergeKey)) {
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const src of sources) {
      const m = deref(doc, src);
      if (!isMap(m) || seen.includes(m)) continue;
      for (const q of mergedPairs(doc, m, [...seen, m])) {
        if (!isScalar(q.key) || has(String(q.key.value))) continue;
        const copy = (q as Pair<Node, Node>).clone() as Pair;
        // A copied anchor would be defined twice; the copy is referred to by no alias.
        for (const part of [copy.key, copy.value]) {
          if (part) visit(part as Node, { Node: (_k, n) => void ((n as { anchor?: string }).anchor = undefined) });
        }
        out.push(copy);
      }
    }
  }
  return out;
}

function isMergeKey(p: unknown): boolean {
  return (
    isPair(p) &&
    isScalar(p.key) &&
    p.key.value === "<<" &&
    (p.key.type === "PLAIN" || p.key.tag === "tag:yaml.org,2002:merge")
  );
}

/** Rewrites `doc` in place to hold Docker's reading (see the module comment). */
export function toDockerReading(doc: Document): void {
  visit(doc, {
    Map(_key, map) {
      if (map.items.some(isMergeKey)) map.items = mergedPairs(doc, map, [map]);
    },
  });
  visit(doc, {
    Scalar(key, node) {
      if (key === "key") return;
      const v = dockerValue(node);
      if (!v) return;
      node.value = v.value;
      node.tag = undefined;
      node.type = "PLAIN";
      delete (node as { source?: string }).source;
    },
  });
}
