/**
 * The engine's decisions, pure: what to do with a registered resource given its last state
 * (create, keep, update in place, replace), and in which order resources that left the program
 * are deleted. Same rules as Pulumi's engine:
 * - a provider's diff decides when it gives an answer; otherwise the old and new inputs are
 *   compared, and a change to a property that the provider cannot update replaces the resource;
 * - deletes run dependents first: a resource goes before everything it depends on, children
 *   before their parent, and depending on a component means depending on all of its children.
 */
import type { ResourceRecord } from "./checkpoint";
import { sameValue } from "../../common/same-value";
import { Props, unwrapProps } from "./properties";

export type Decision =
  | { readonly kind: "create" }
  | { readonly kind: "same" }
  | { readonly kind: "update"; readonly changed: readonly string[] }
  | {
      readonly kind: "replace";
      readonly changed: readonly string[];
      readonly replaces: readonly string[];
      readonly deleteBeforeReplace: boolean;
    };

/** A dynamic provider's diff result, as `pulumi.dynamic.DiffResult`. */
export interface ProviderDiff {
  readonly changes?: boolean;
  readonly replaces?: readonly string[];
  readonly deleteBeforeReplace?: boolean;
}

/** Top-level input keys whose (unwrapped) values differ, sorted. */
export function changedKeys(olds: Props, news: Props): string[] {
  const a = unwrapProps(olds);
  const b = unwrapProps(news);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !sameValue(a[k], b[k])).sort();
}

/** Input diff: any change updates, unless it touches a property in `replaceOnChange`. */
export function diffByInputs(
  olds: Props,
  news: Props,
  replaceOnChange: readonly string[],
  deleteBeforeReplace = false,
): Decision {
  const changed = changedKeys(olds, news);
  if (changed.length === 0) return { kind: "same" };
  const replaces = changed.filter((k) => replaceOnChange.includes(k));
  return replaces.length ? { kind: "replace", changed, replaces, deleteBeforeReplace } : { kind: "update", changed };
}

/** A provider's own diff; `changes` left undefined means "no opinion": the inputs are compared. */
export function diffByProvider(result: ProviderDiff, oldInputs: Props, news: Props): Decision {
  if (result.changes === undefined) return diffByInputs(oldInputs, news, [], result.deleteBeforeReplace ?? false);
  if (!result.changes) return { kind: "same" };
  const changed = changedKeys(oldInputs, news);
  const replaces = result.replaces ?? [];
  return replaces.length
    ? { kind: "replace", changed, replaces, deleteBeforeReplace: result.deleteBeforeReplace ?? false }
    : { kind: "update", changed };
}

type Graph = Pick<ResourceRecord, "urn" | "dependencies" | "parent">;

/** Every URN `r` must outlive: its dependencies (a component's whole subtree) and its parent. */
export function effectiveDependencies(all: readonly Graph[]): Map<string, Set<string>> {
  const children = new Map<string, string[]>();
  for (const r of all) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  const subtree = (urn: string, into: Set<string>): Set<string> => {
    for (const c of children.get(urn) ?? []) if (!into.has(c)) subtree(c, into.add(c));
    return into;
  };
  const deps = new Map<string, Set<string>>();
  for (const r of all) {
    const set = new Set<string>();
    for (const d of r.dependencies) subtree(d, set.add(d));
    if (r.parent) set.add(r.parent);
    set.delete(r.urn);
    deps.set(r.urn, set);
  }
  return deps;
}

/**
 * Groups the resources to delete into waves: every resource in a wave has no dependent left among
 * the resources still to delete, so a wave's members can go in parallel. Throws on a cycle.
 */
export function deletionWaves(all: readonly Graph[], toDelete: ReadonlySet<string>): string[][] {
  const deps = effectiveDependencies(all);
  const left = new Set(toDelete);
  const waves: string[][] = [];
  while (left.size > 0) {
    const blocked = new Set<string>();
    for (const urn of left) for (const d of deps.get(urn) ?? []) if (left.has(d)) blocked.add(d);
    const wave = [...left].filter((u) => !blocked.has(u));
    if (wave.length === 0)
      throw new Error(`cannot order the deletion of ${[...left].join(", ")}: their dependencies form a cycle`);
    wave.forEach((u) => left.delete(u));
    waves.push(wave);
  }
  return waves;
}
