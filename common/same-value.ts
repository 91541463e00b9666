// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Structural equality of JSON-like values, as a diff must judge them: key order does not matter
 * (state read back from an engine or a file need not keep the program's order), and a key whose
 * value is `undefined` counts as absent, as it does once serialized. Used by the dynamic
 * providers' diffs and by the engine stand-in of the rehearsal; plain code, safe to serialize.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of Object.keys(ra)) if (!sameValue(ra[k], rb[k])) return false;
    for (const k of Object.keys(rb)) if (!(k in ra) && rb[k] !== undefined) return false;
    return true;
  }
  return false;
}
