/**
 * CLI conventions through the real entry point: --version, `stack lint --json`, the --json guard on
 * bootstrap, and no colour anywhere (NO_COLOR holds because nothing emits ANSI escapes).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hcloudSwarm } from "../support/cli";
import { buildProgram } from "../../cli/main";

const ROOT = path.join(__dirname, "..", "..");

describe("hcloud-swarm CLI conventions", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-cli-conv-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("--version prints package.json's version and exits 0", async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
      .version;
    const r = await hcloudSwarm(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it("stack lint --json: one document on stdout with each finding's file, line, rule and names; exit 1", async () => {
    const file = path.join(dir, "blog.yml");
    fs.writeFileSync(
      file,
      "version: '3.8'\nservices:\n  db:\n    image: mysql:8.4\n    environment:\n      MYSQL_ROOT_PASSWORD: hunter2\n    networks: [back]\nnetworks:\n  back: {}\n",
    );
    const r = await hcloudSwarm(["stack", "lint", "--json", file]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as {
      schemaVersion: number;
      command: string;
      ok: boolean;
      problems: number;
      files: Array<{
        file: string;
        stack: string;
        judge: string;
        findings: Array<{
          file: string;
          line: number;
          rule: string;
          service: string | null;
          network: string | null;
          message: string;
        }>;
      }>;
    };
    expect(doc).toMatchObject({ schemaVersion: 1, command: "stack lint", ok: false, problems: 2 });
    expect(doc.files).toHaveLength(1);
    expect(doc.files[0]).toMatchObject({ file, stack: "blog" });
    expect(doc.files[0].judge).not.toBe("");
    const byRule = new Map(doc.files[0].findings.map((f) => [f.rule, f]));
    expect(byRule.get("unencrypted-overlay")).toMatchObject({ file, line: 9, network: "back" });
    expect(byRule.get("plain-secret")).toMatchObject({ file, line: 6, service: "db" });
    // The text form's summary line is not mixed into the JSON document.
    expect(r.stdout).not.toContain("a stack with any of them is refused");
  });

  it("stack lint --json of a clean template: ok, no findings, exit 0", async () => {
    const r = await hcloudSwarm(["stack", "lint", "--json", "traefik"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      problems: number;
      files: Array<{ stack: string; findings: unknown[] }>;
    };
    expect(doc).toMatchObject({ ok: true, problems: 0 });
    expect(doc.files.map((f) => [f.stack, f.findings.length])).toEqual([["traefik", 0]]);
  });

  it("bootstrap --json without --dry-run is refused before reading anything", async () => {
    const r = await hcloudSwarm(["bootstrap", "--json", "--inventory", path.join(dir, "missing.json")]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("--json is only available with --dry-run");
  });

  it("--help prints no ANSI escape, whatever FORCE_COLOR says", async () => {
    const before = process.env.FORCE_COLOR;
    process.env.FORCE_COLOR = "3";
    try {
      const r = await hcloudSwarm(["--help"]);
      expect(r.stdout).toContain("Usage: hcloud-swarm");
      expect(r.stdout).not.toContain("\u001b[");
    } finally {
      if (before === undefined) delete process.env.FORCE_COLOR;
      else process.env.FORCE_COLOR = before;
    }
  });

  it("no source file the CLI ships emits an ANSI escape (so NO_COLOR needs nothing switched off)", () => {
    // Written escapes (\x1b, \u001b, \u{1b}, \033) and a raw ESC byte.
    const written = /\\x1b|\\u001b|\\u\{1b\}|\\033/i;
    const escape = { test: (text: string) => written.test(text) || text.includes(String.fromCharCode(27)) };
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts") && escape.test(fs.readFileSync(p, "utf8")))
          offenders.push(path.relative(ROOT, p));
      }
    };
    const shipped = (
      JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] }
    ).include;
    for (const d of shipped) if (fs.existsSync(path.join(ROOT, d))) walk(path.join(ROOT, d));
    expect(offenders).toEqual([]);
    // The scan must have seen the CLI itself: an empty walk would prove nothing.
    expect(shipped).toContain("cli");
    expect(buildProgram().commands.map((c) => c.name())).toEqual(
      expect.arrayContaining(["local", "bootstrap", "stack", "verify"]),
    );
  });
});
