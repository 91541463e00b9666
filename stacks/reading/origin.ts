// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Maps a value of Docker's reading back to the line the user wrote. Docker's output differs from
 * the source in form (short syntax becomes long syntax, lists become mappings, merged keys appear
 * where they were merged), so the path is followed as far as the source allows, and the nearest
 * ancestor's line is used from there.
 */
import { type GoValue, isGoMap, type Located } from "./dialect";

/** A path into a reading: mapping keys, and list indices as decimal strings. */
export type ValuePath = readonly string[];

function child(data: GoValue | undefined, key: string): GoValue | undefined {
  if (Array.isArray(data)) return /^\d+$/.test(key) ? data[Number(key)] : undefined;
  return isGoMap(data) && Object.prototype.hasOwnProperty.call(data, key) ? data[key] : undefined;
}

/** The item of a source list that a canonical mapping key came from: `- key`, `- key=value`, `- {source: key}`. */
function itemFor(items: readonly Located[], key: string): Located | undefined {
  return items.find(
    (it) =>
      it.text === key ||
      it.text?.startsWith(`${key}=`) ||
      it.text?.startsWith(`${key}:`) ||
      it.keys?.get("source")?.text === key,
  );
}

/**
 * Line in the source for `path` of the canonical reading `data`. A list is followed by index only
 * when the source list has as many items as Docker's (ranges of ports, for example, expand).
 */
export function locate(source: Located, data: GoValue | undefined, path: ValuePath): number {
  let at = source;
  let value = data;
  for (const key of path) {
    const next = value === undefined ? undefined : child(value, key);
    let found: Located | undefined = at.keys?.get(key);
    if (!found && at.items) {
      if (Array.isArray(value) && /^\d+$/.test(key))
        found = value.length === at.items.length ? at.items[Number(key)] : undefined;
      else found = itemFor(at.items, key);
    }
    // Docker lifts some keys one level up (`external: {name: X}` becomes `name: X`).
    if (!found && at.keys) found = [...at.keys.values()].find((c) => c.keys?.has(key))?.keys?.get(key);
    if (!found) return at.line;
    at = found;
    value = next;
  }
  return at.line;
}
