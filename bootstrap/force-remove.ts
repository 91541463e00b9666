// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Forcing the removal of a node that holds a stack's pinned data, one named node at a time: the CLI's
 * `bootstrap --force-remove NODE` and `pulumi up`'s HCLOUD_SWARM_FORCE_SCALE_DOWN=NODE[,NODE]. The
 * old "=1" (every node of the run) is refused with a message to name the node(s); forcing one node
 * never lifts the guard for another holder in the same run.
 */
import { parseNameList, unknownNames } from "../common/name-list";

/** Names the nodes `pulumi up`/`pulumi destroy` may remove with their pinned data (read by the SwarmNode provider). */
export const FORCE_SCALE_DOWN_ENV = "HCLOUD_SWARM_FORCE_SCALE_DOWN";

/** The CLI flag's spelling, for messages. */
export const FORCE_REMOVE_FLAG = "--force-remove";

/** The nodes the environment names; throws on anything but a plain list of node names. */
export function forcedFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const { names, problems } = parseNameList(env[FORCE_SCALE_DOWN_ENV], FORCE_SCALE_DOWN_ENV, "node", "worker-1");
  if (problems.length) throw new Error(problems.join("\n"));
  return names;
}

/** The nodes `--force-remove` names (repeatable, or comma-separated); problems name the value. */
export function parseForceRemove(values: readonly string[]): { names: string[]; problems: string[] } {
  const names: string[] = [];
  const problems: string[] = [];
  for (const v of values) {
    const r = parseNameList(v === "" ? "," : v, FORCE_REMOVE_FLAG, "node", "worker-1");
    problems.push(...r.problems.map((p) => p.replace(`${FORCE_REMOVE_FLAG}=`, `${FORCE_REMOVE_FLAG} `)));
    for (const n of r.names)
      if (names.includes(n)) problems.push(`${FORCE_REMOVE_FLAG} ${n} is given twice`);
      else names.push(n);
  }
  return { names, problems };
}

/** Forced names that are neither in the inventory nor members of the swarm: most likely a typo. */
export function unknownForced(
  forced: readonly string[],
  known: readonly string[],
  setting: string = FORCE_REMOVE_FLAG,
): string[] {
  return unknownNames(forced, known, setting, "node", "a node of the inventory or a member of the swarm");
}

/** How to force one node from the CLI. */
export const cliEscape = (node: string): string =>
  `re-run with ${FORCE_REMOVE_FLAG} ${node} to remove it anyway (its data is lost)`;

/** How to force one node from `pulumi up`. */
export const pulumiEscape = (node: string): string =>
  `set ${FORCE_SCALE_DOWN_ENV}=${node} for this pulumi up (or pulumi destroy) to remove it anyway (its data is lost)`;
