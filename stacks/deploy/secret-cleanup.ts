// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Removes the versions of a stack's generated secrets that the stack no longer names, once its
 * services have moved to the new ones. Only secrets deploy created (label hcloud-swarm.stack) and
 * only versions of the stack's own keys. Docker refuses to remove a secret a service still uses;
 * such a version is kept and named, never forced.
 */
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import { isVersionOf } from "./secret-versions";

export async function removeOldSecrets(
  s: SshSession,
  stack: string,
  current: ReadonlyArray<{ readonly key: string; readonly name: string }>,
  log: (line: string) => void,
): Promise<string[]> {
  const listed = await s.run(
    `docker secret ls --filter ${shellQuote(`label=hcloud-swarm.stack=${stack}`)} --format '{{.Name}}'`,
  );
  const keep = new Set(current.map((c) => c.name));
  const old = listed.stdout
    .split("\n")
    .filter((n) => n !== "" && !keep.has(n))
    .filter((n) => current.some((c) => isVersionOf(n, `${stack}_${c.key}`)));
  const done: string[] = [];
  for (const name of old) {
    const r = await s.run(`docker secret rm ${shellQuote(name)}`, { allowFailure: true });
    if (r.code === 0) {
      done.push(`remove secret ${name} (an older version; no service uses it)`);
      log(`${stack}: removed secret ${name}, an older version no service uses`);
    } else log(`${stack}: kept secret ${name}: ${(r.stderr || r.stdout).trim()}`);
  }
  return done;
}
