/**
 * `--json` output: one JSON document on stdout, for scripts. Every shape carries `schemaVersion`;
 * a field is only ever added under the same version, and renaming or removing one raises it. The
 * shapes are documented in docs/reference/cli.md.
 */
import type { Finding } from "../stacks/reading/source";
import type { VerifySummary } from "../verify/checks";

export const JSON_SCHEMA_VERSION = 1;

export function printJson(value: object): void {
  process.stdout.write(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

/** `verify --json`. */
export function verifyJson(s: VerifySummary): object {
  const verdict = s.exitCode === 0 ? "verified" : s.exitCode === 1 ? "failed" : "unprovable";
  return {
    command: "verify",
    verdict,
    exitCode: s.exitCode,
    passed: s.passed,
    failed: s.failed,
    unprovable: s.unprovable,
    checks: s.checks.map((c) => ({ status: c.status, subject: c.subject, what: c.what, detail: c.detail })),
  };
}

export interface LintedFile {
  readonly file: string;
  readonly stack: string;
  readonly judge: string;
  readonly skipped: readonly string[];
  readonly findings: readonly Finding[];
}

/** `stack lint --json`. */
export function lintJson(files: readonly LintedFile[]): object {
  const problems = files.reduce((n, f) => n + f.findings.length, 0);
  return {
    command: "stack lint",
    ok: problems === 0,
    problems,
    files: files.map((f) => ({
      file: f.file,
      stack: f.stack,
      judge: f.judge,
      notUsed: f.skipped,
      findings: f.findings.map((x) => ({
        file: x.file,
        line: x.line,
        stack: x.stack,
        rule: x.rule,
        service: x.service ?? null,
        network: x.network ?? null,
        message: x.message,
      })),
    })),
  };
}
