// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Overrides that let data go name what they apply to, one by one: the nodes that may be removed with
 * their pinned data (HCLOUD_SWARM_FORCE_SCALE_DOWN, bootstrap --force-remove) and the stacks that may
 * start without theirs (HCLOUD_SWARM_ACCEPT_EMPTY). A yes-for-everything value ("1", "true", "*") is
 * refused rather than read the old way, and nothing is trimmed or guessed: a value that is not a
 * plain list of names is an error naming it.
 */

/** Values that used to mean "all of them" (or look like it): refused with a hint to name them. */
const EVERYTHING = ["1", "true", "yes", "on", "all", "*"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface NameList {
  readonly names: string[];
  readonly problems: string[];
}

/**
 * Parses `a,b,c`. `what` names the setting in messages (e.g. "HCLOUD_SWARM_FORCE_SCALE_DOWN");
 * `kind` is what a name stands for ("node", "stack"); `example` a valid value. Empty or unset: no names.
 */
export function parseNameList(value: string | undefined, what: string, kind: string, example: string): NameList {
  if (value === undefined || value === "") return { names: [], problems: [] };
  const shown = `${what}=${JSON.stringify(value)}`;
  if (EVERYTHING.includes(value.trim().toLowerCase()))
    return {
      names: [],
      problems: [
        `${shown} no longer applies to every ${kind} at once: name the ${kind}(s) it is for, comma-separated, e.g. ${what}=${example}`,
      ],
    };
  const problems: string[] = [];
  const names: string[] = [];
  value.split(",").forEach((entry, i) => {
    if (entry === "")
      problems.push(`${shown}: entry ${i + 1} is empty; write ${kind} names separated by single commas`);
    else if (/\s/.test(entry))
      problems.push(
        `${shown}: ${JSON.stringify(entry)} contains white space; write ${kind} names separated by commas only`,
      );
    else if (!NAME.test(entry))
      problems.push(`${shown}: ${JSON.stringify(entry)} is not a ${kind} name (letters, digits, ".", "_", "-")`);
    else if (names.includes(entry)) problems.push(`${shown}: ${entry} is named twice`);
    else names.push(entry);
  });
  return { names, problems };
}

/** Names that are not among `known`, as one problem each (naming the setting and what is known). */
export function unknownNames(
  names: readonly string[],
  known: readonly string[],
  what: string,
  kind: string,
  where: string,
): string[] {
  const sorted = [...new Set(known)].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return names
    .filter((n) => !known.includes(n))
    .map(
      (n) =>
        `${what} names ${kind} ${JSON.stringify(n)}, which is not ${where} (known: ${sorted.join(", ") || "none"})`,
    );
}
