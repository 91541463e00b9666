// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Credentials by value, found by secretlint's recommended rule set (private keys, basic auth in
 * URLs, database connection strings, cloud and SaaS tokens): a maintained library rather than our
 * own list of token formats. secretlint is published as ES modules only, and its API is
 * asynchronous, while lint is synchronous and this project (and jest) load CommonJS; so it runs in
 * a child `node` that imports it, with the values on stdin (never on a command line), and answers
 * with rule ids and offsets only: the matched text, which is the secret, never leaves the child.
 * The packages are resolved when lint runs (docs/design/dynamic-providers.md, rule 8).
 */
import { spawnSync } from "child_process";
import { pathToFileURL } from "url";

/** secretlint scans a stack's environment in well under a second; this long means the child hangs. */
export const SECRETLINT_TIMEOUT_MS = 20_000;

/** One hit: the index of the scanned value and secretlint's rule id. */
export interface SecretHit {
  readonly index: number;
  readonly rule: string;
}

const CHILD = `
const [core, preset] = await Promise.all([import(process.argv[1]), import(process.argv[2])]);
let input = "";
for await (const c of process.stdin) input += c;
const r = await core.lintSource({ source: { filePath: "/environment", content: input, contentType: "text" }, options: { config: { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: preset.creator }] } } });
process.stdout.write(JSON.stringify(r.messages.map((m) => ({ rule: m.ruleId, start: m.range[0] }))));
`;

/**
 * Runs secretlint's recommended rules over `values` (each `KEY=value`, scanned as one env file).
 * Throws when secretlint cannot run: lint fails closed rather than pass a credential unseen.
 */
export function secretlintHits(values: readonly string[]): SecretHit[] {
  if (values.length === 0) return [];
  const starts: number[] = [];
  let content = "";
  for (const v of values) {
    starts.push(content.length);
    content += `${v}\n`;
  }
  const resolve = (name: string): string => pathToFileURL(require.resolve(name)).href;
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      CHILD,
      "--",
      resolve("@secretlint/core"),
      resolve("@secretlint/secretlint-rule-preset-recommend"),
    ],
    {
      input: content,
      encoding: "utf8",
      timeout: SECRETLINT_TIMEOUT_MS,
      env: { PATH: process.env.PATH ?? "" },
    },
  );
  if (r.status !== 0)
    throw new Error(
      `secretlint could not scan the stack's environment (${r.error?.message ?? (r.stderr.trim().split("\n").pop() || `exit ${r.status}`)}); lint refuses to judge credentials without it`,
    );
  const hits = JSON.parse(r.stdout) as Array<{ rule: string; start: number }>;
  return hits.map((h) => {
    let index = 0;
    while (index + 1 < starts.length && starts[index + 1] <= h.start) index++;
    return { index, rule: h.rule };
  });
}
