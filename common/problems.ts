// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
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
    const message =
      `${subject} ${subject.includes(" and ") ? "have" : "has"} ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
      problems.map((p) => `  - ${p}`).join("\n");
    super(message);
    // Again: inside a serialized dynamic provider the base constructor runs as a plain function (rule 3).
    this.message = message;
    this.name = "ValidationError";
  }
}

/** Throws a ValidationError when `problems` is not empty. */
export function throwIfProblems(subject: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new ValidationError(subject, problems);
}

/**
 * Runs two validators and reports the problems of both in one ValidationError, so a user with a
 * bad cluster config and a bad stack list learns about both in one run.
 */
export function validateAll<A, B>(first: () => A, second: () => B): [A, B] {
  const problems: string[] = [];
  const subjects: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(...err.problems);
      subjects.push(err.subject);
      return undefined;
    }
  };
  const a = attempt(first);
  const b = attempt(second);
  throwIfProblems(subjects.join(" and "), problems);
  return [a as A, b as B];
}
