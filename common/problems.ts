/**
 * Every validator in the project collects all the problems it finds and throws them together,
 * so the user fixes a config or an inventory in one pass instead of one error per run.
 */
export class ValidationError extends Error {
  constructor(
    /** What was being validated, e.g. "hcloud-swarm config" or "inventory inv.json". */
    readonly subject: string,
    /** One message per problem; each names the key (or line) and says how to fix it. */
    readonly problems: readonly string[],
  ) {
    super(`${subject} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` + problems.map((p) => `  - ${p}`).join("\n"));
    this.name = "ValidationError";
  }
}

/** Throws a ValidationError when `problems` is not empty. */
export function throwIfProblems(subject: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new ValidationError(subject, problems);
}
