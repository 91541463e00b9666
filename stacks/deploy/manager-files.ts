// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The files of a stack as the manager's Docker will read them. `stack deploy` uploads only the
 * stack file; `docker stack deploy` on the manager then opens each `secrets`/`configs` `file:` and
 * `env_file` in the manager's file system (relative paths under the upload directory), following
 * symbolic links. So where each one really leads is asked of the manager, over SSH, before
 * anything is created: a link there out of the upload directory is refused as lint refuses a local
 * one, and a file that is not there is refused before Docker would fail halfway.
 */
import * as path from "path";
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import type { GoMap } from "../reading/dialect";
import type { FileView } from "../lint/lint-host";
import { readStack } from "../reading/structure";

/** Resolves, on the manager, the upload directory and every file Docker's reading names; one command. */
export async function managerFiles(s: SshSession, data: GoMap | undefined, baseDir: string): Promise<FileView> {
  const files = data ? readStack(data).model.files.map((f) => path.posix.resolve(baseDir, f.file)) : [];
  const paths = [...new Set([baseDir, ...files])];
  // NUL-terminated answers (-z): a path may hold a newline. `realpath -e` fails for a missing
  // file, which then answers an empty string: the answers stay in step with the questions.
  const script = paths.map((p) => `{ realpath -z -e -- ${shellQuote(p)} 2>/dev/null || printf '\\0'; }`).join("; ");
  const r = await s.run(script, { allowFailure: true });
  const answers = r.stdout.split("\0");
  const real = new Map<string, string>();
  paths.forEach((p, i) => {
    if (answers[i]) real.set(p, answers[i]);
  });
  return { machine: s.node, realPath: (p) => real.get(p), missingRefused: true };
}
