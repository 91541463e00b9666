/**
 * `node dist/bench/lint-corpus.js`: the lint round-3 corpus (test/support/hostile-stacks-r3.ts)
 * through both judges — `docker stack config` of this machine's CLI and the Docker-dialect reader —
 * and the verdict of lint on each reading. Prints, per class: cases tried, hostile cases refused
 * and legitimate files refused (false alarms), per judge; with --json, one line per case. Run the
 * same file against an older tree to get the "before" column (docs/lab/2026-12-07-i22.md).
 * Asserts nothing; needs a Docker CLI with docker stack config.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dialectJudge, localJudge } from "../stacks/reading/judge";
import { lintJudged } from "../stacks/lint/lint";
import { stackText } from "../stacks/reading/stack-text";
import { type CorpusCase, ROUND3_CASES, ROUND3_LEGITIMATE } from "../test/support/hostile-stacks-r3";

interface Row {
  readonly name: string;
  readonly cls: string;
  readonly hostile: boolean;
  readonly docker: boolean;
  readonly dialect: boolean;
}

async function verdicts(c: CorpusCase, root: string): Promise<Row> {
  const dir = path.join(root, c.name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(c.files ?? {})) {
    if (typeof v === "string") fs.writeFileSync(path.join(dir, name), v);
    else fs.symlinkSync(v.link, path.join(dir, name));
  }
  const skipped: string[] = [];
  const docker = await localJudge({ judged: stackText(c.text, "case.yml"), baseDir: dir }, {}, skipped);
  if (!docker) throw new Error(`no Docker CLI with docker stack config: ${skipped.join("; ")}`);
  const refused = (j: typeof docker): boolean => {
    try {
      const source = stackText(c.text, "case.yml");
      return lintJudged({ source, stack: "case", judgement: j }, c.ctx ?? {}).length > 0;
    } catch {
      return true;
    }
  };
  return {
    name: c.name,
    cls: c.cls,
    hostile: c.rules.length > 0,
    docker: refused(docker),
    dialect: refused(dialectJudge({ judged: stackText(c.text, "case.yml"), baseDir: dir })),
  };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-lint-corpus-"));
  try {
    const rows: Row[] = [];
    for (const c of [...ROUND3_CASES, ...ROUND3_LEGITIMATE]) rows.push(await verdicts(c, root));
    if (process.argv.includes("--json")) {
      for (const r of rows) console.log(JSON.stringify(r));
      return;
    }
    console.log(
      "class | hostile cases | refused (docker / fallback) | legitimate files | false alarms (docker / fallback)",
    );
    for (const cls of [...new Set(rows.map((r) => r.cls))]) {
      const h = rows.filter((r) => r.cls === cls && r.hostile);
      const l = rows.filter((r) => r.cls === cls && !r.hostile);
      const n = (xs: Row[], k: "docker" | "dialect"): number => xs.filter((r) => r[k]).length;
      console.log(
        `${cls} | ${h.length} | ${n(h, "docker")} / ${n(h, "dialect")} | ${l.length} | ${n(l, "docker")} / ${n(l, "dialect")}`,
      );
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
