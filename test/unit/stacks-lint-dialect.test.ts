/**
 * The Docker-dialect reader against Docker's own loader, run for real (`docker stack config` of
 * the Docker CLI on this machine; the tests fail loudly without one): scalars, merges and
 * interpolation must come out the same; the text deploy uploads must read back, in Docker's
 * loader, as exactly the reading that was linted; and findings must carry the source's lines.
 */
import * as fs from "fs";
import { stackText } from "../../stacks/reading/stack-text";
import * as os from "os";
import * as path from "path";
import { canonicalText } from "../../stacks/reading/canonical";
import { type GoMap, type GoValue, newGoMap, readDockerYaml } from "../../stacks/reading/dialect";
import { dialectStackConfig } from "../../stacks/reading/dialect-config";
import { substituteVars } from "../../stacks/reading/interpolate";
import { dialectJudge, localJudge } from "../../stacks/reading/judge";
import { lintJudged, lintText } from "../../stacks/lint/lint";
import { HOSTILE_STACKS, LEGITIMATE_STACKS } from "../support/hostile-stacks";

// Each case runs Docker's CLI, on a machine shared with other work.
jest.setTimeout(120_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-dialect-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `docker stack config` on `text`, with exactly `env`; throws when this machine has no such CLI. */
async function docker(text: string, env: Record<string, string> = {}): Promise<{ data?: GoMap; error?: string }> {
  const skipped: string[] = [];
  const j = await localJudge({ judged: stackText(text, "case.yml"), baseDir: dir, env }, {}, skipped);
  if (!j)
    throw new Error(
      `these tests need a Docker CLI with docker stack config on the PATH (CI machines have /usr/local/bin/docker 28.2); none found: ${skipped.join("; ")}`,
    );
  return {
    ...(j.data ? { data: j.data } : {}),
    ...(j.problems.length ? { error: j.problems.map((p) => p.message).join("; ") } : {}),
  };
}

const wrap = (body: string) => `version: "3.8"\nservices:\n  app:\n    image: busybox\n${body}`;

describe("the Docker-dialect reader, compared with docker stack config", () => {
  const scalars = [
    "06352",
    "0777",
    "0778",
    "08",
    "09.5",
    "0x1F",
    "0X1f",
    "+0x1F",
    "-0x10",
    "0x_1F",
    "0o17",
    "0O17",
    "-0o17",
    "0b101",
    "-0b11",
    "0B11",
    "1_000",
    "1__0",
    "1_",
    "_1",
    "3306.0",
    "1e3",
    "1E+3",
    ".5",
    "+.5",
    "-.5",
    "0.",
    "1.5e-3",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "true",
    "True",
    "TRUE",
    "tRue",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "",
    "12:30",
    "1:2:3",
    "0x",
    "0b",
    "0o",
    "+",
    ".",
    "<<",
    "1.2.3",
    "'06352'",
    '"0x1F"',
    "!!str 0x1F",
    '!!int "0x1F"',
    "!!float 3",
    "!!int 0777",
  ];

  it("resolves plain and tagged scalars as yaml.v3 does", async () => {
    const body = `x-probe:\n${scalars.map((s, i) => `  k${i}: ${s}`).join("\n")}\n`;
    const theirs = await docker(wrap(body));
    const ours = readDockerYaml(wrap(body));
    expect([ours.problems, theirs.error]).toEqual([[], undefined]);
    const probe = (d: GoValue | undefined) => ((d as GoMap)["x-probe"] as GoMap) ?? {};
    const norm = (v: GoValue) => (typeof v === "number" && Number.isNaN(v) ? "NaN" : v);
    const mismatches = scalars.flatMap((s, i) => {
      const a = norm(probe(ours.data)[`k${i}`]);
      const b = norm(probe(theirs.data)[`k${i}`]);
      return Object.is(a, b) || a === b
        ? []
        : [`${s}: ours ${JSON.stringify(a)} (${typeof a}), Docker's ${JSON.stringify(b)} (${typeof b})`];
    });
    expect(mismatches).toEqual([]);
  });

  it("refuses infinities and NaN, which Docker's JSON validation cannot hold", async () => {
    for (const v of [".inf", "-.Inf", ".nan"]) {
      const text = wrap(`x-probe: {v: ${v}}\n`);
      expect((await docker(text)).error).toMatch(/unsupported value/);
      expect(
        dialectStackConfig(stackText(text, "t.yml"), { baseDir: dir })
          .problems.map((p) => p.message)
          .join(""),
      ).toMatch(/unsupported value/);
    }
  });

  it("refuses timestamps, custom tags and %YAML directives instead of guessing", () => {
    for (const [text, re] of [
      [wrap("    environment:\n      T: 2001-12-14\n"), /timestamp/],
      [wrap("    environment:\n      T: !env HOME\n"), /tag !env/],
      [`%YAML 1.1\n---\n${wrap("")}`, /%YAML directive/],
    ] as const) {
      expect(
        readDockerYaml(text)
          .problems.map((p) => p.message)
          .join("\n"),
      ).toMatch(re);
    }
  });

  it("merges as yaml.v3 does: own keys first, then merged maps in order, nested merges included", async () => {
    const ordered = [
      'version: "3.8"',
      "x-c: &c",
      "  hostname: from-c",
      "  user: from-c",
      "x-a: &a",
      "  working_dir: /from-a",
      "  stop_signal: SIGA",
      "  <<: *c",
      "x-b: &b",
      "  stop_signal: SIGB",
      "  user: from-b",
      "  hostname: from-b",
      "  domainname: from-b",
      "services:",
      "  app:",
      "    image: busybox",
      "    <<: [*a, *b]",
      "    working_dir: /own",
      "",
    ].join("\n");
    const theirs = await docker(ordered);
    const ours = dialectStackConfig(stackText(ordered, "t.yml"), { baseDir: dir });
    expect(ours.problems).toEqual([]);
    expect((ours.data?.services as GoMap).app).toEqual((theirs.data?.services as GoMap).app);
    expect((ours.data?.services as GoMap).app).toEqual({
      image: "busybox",
      working_dir: "/own",
      stop_signal: "SIGA",
      hostname: "from-c",
      user: "from-c",
      domainname: "from-b",
    });
  });

  it("interpolates as Docker does, quirks included", async () => {
    const templates = [
      "a$$",
      "$X",
      "${X}",
      "${X:-d}",
      "${X-d}",
      "${Y:-d}",
      "${Y-d}",
      "$X-Y",
      "${X:-a}}",
      "${X:-${Y:-z}}",
      "a$ ${Y:-b}",
      "${X:?m} ${Y:-a}",
      "${Y:?m}",
      "${Y?m}",
      "${Y?a-b}",
      "$ b",
      "${1X:-a}",
      "$_a",
      "${E:-d}",
      "${E-d}",
    ];
    const env = { X: "1", E: "" };
    const body = `    environment:\n${templates.map((t, i) => `      V${i}: '${t.replace(/'/g, "''")}'`).join("\n")}\n`;
    // Docker stops at the first refused value, so each template is checked on its own.
    for (const [i, t] of templates.entries()) {
      const theirs = await docker(wrap(`    environment:\n      V: '${t}'\n`), env);
      const ours = substituteVars(t, env);
      if (theirs.error) expect([t, ours.error]).toEqual([t, expect.any(String)]);
      else
        expect([t, ours.error, ours.value]).toEqual([
          t,
          undefined,
          ((theirs.data?.services as GoMap).app as GoMap & { environment: GoMap }).environment.V,
        ]);
      expect(body).toContain(`V${i}:`);
    }
  });

  it("casts interpolated ports and booleans where Docker does, and only there", async () => {
    const text = wrap(
      `    privileged: "\${P:-yes}"\n    ports:\n      - {target: 80, published: "\${Q:-3306}"}\n    labels:\n      a: "\${R:-1}"\n`,
    );
    const theirs = await docker(text);
    const ours = dialectStackConfig(stackText(text, "t.yml"), { baseDir: dir });
    expect((ours.data?.services as GoMap).app).toEqual((theirs.data?.services as GoMap).app);
    expect((ours.data?.services as GoMap).app).toMatchObject({
      privileged: true,
      ports: [{ target: 80, published: 3306 }],
      labels: { a: "1" },
    });
  });
});

describe("the deploy text", () => {
  const tricky = [
    "06352",
    "yes",
    "null",
    "",
    " lead",
    "trail ",
    "#x",
    "a: b",
    "- x",
    "$HOME",
    "$$",
    "${X:-y}",
    "tab\there",
    'quote"s',
    "back\\slash",
    "emoji \u{1F600}",
    "\u00e9t\u00e9",
    "line\nbreak",
    "0x1F",
    "~",
  ];

  it("reads back in Docker's loader as exactly the reading that was linted, `$` included", async () => {
    const cases: GoMap[] = [];
    for (const t of [...HOSTILE_STACKS.map((h) => h.text), ...LEGITIMATE_STACKS.map((l) => l.text)]) {
      const r = await docker(t);
      if (r.data) cases.push(r.data);
    }
    const labels = newGoMap();
    tricky.forEach((t, i) => (labels[`l${i}`] = t));
    // Keys are not interpolated: a `$` in a key stays as it is.
    labels["k$x"] = "v";
    labels["k$$y"] = "w";
    const withTricky = (await docker(wrap("    networks: [back]\nnetworks:\n  back: {}\n"))).data as GoMap;
    ((withTricky.services as GoMap).app as GoMap).labels = labels;
    cases.push(withTricky);
    expect(cases.length).toBeGreaterThan(15);
    for (const data of cases) {
      const text = canonicalText(data, "header with a \u2028 in it");
      expect(text).toMatch(/^[\x20-\x7e\n]*$/);
      expect((await docker(text)).data).toEqual(data);
    }
  });

  it("escapes the characters YAML readers disagree on, and Docker's reading of them is refused", async () => {
    const data = (await docker(wrap('    labels: {a: "x\\u2028y", b: "x\\u0085y"}\n'))) as {
      data?: GoMap;
      error?: string;
    };
    expect(data.error).toMatch(/U\+(2028|0085)/);
    const labels = newGoMap();
    Object.assign(labels, { a: "x\u2028y", b: "x\u0085y", c: "x\u2029y" });
    expect(canonicalText(labels)).toBe('{\n  "a": "x\\u2028y",\n  "b": "x\\u0085y",\n  "c": "x\\u2029y"\n}\n');
  });
});

describe("findings name the line the user wrote", () => {
  const lines = (name: string) =>
    lintText(HOSTILE_STACKS.find((h) => h.name === name)!.text, "h.yml", "h").map((f) => [f.rule, f.line]);

  it("for merged keys, the line in the anchor", () => {
    expect(lines("merge-swarm-port")).toEqual([["public-port", 4]]);
    expect(lines("merge-plain-password")).toEqual([["plain-secret", 4]]);
    expect(lines("merge-plain-network")).toEqual([["unencrypted-overlay", 3]]);
  });

  it("for values Docker rewrites (octal, external names), the line of the value or its key", () => {
    expect(lines("octal-port")).toEqual([["public-port", 7]]);
    expect(lines("external-real-name")).toEqual([["external-network", 10]]);
  });

  it("the same lines with docker stack config as the judge", async () => {
    const h = HOSTILE_STACKS.find((x) => x.name === "merge-swarm-port")!;
    const j = await localJudge({ judged: stackText(h.text, "case.yml"), baseDir: dir });
    expect(j?.kind).toBe("local");
    expect(
      lintJudged({ source: stackText(h.text, "h.yml"), stack: "h", judgement: j! }).map((f) => [f.rule, f.line]),
    ).toEqual([["public-port", 4]]);
    expect(
      lintJudged({
        source: stackText(h.text, "h.yml"),
        stack: "h",
        judgement: dialectJudge({ judged: stackText(h.text, "case.yml"), baseDir: dir }),
      }).map((f) => [f.rule, f.line]),
    ).toEqual([["public-port", 4]]);
  });
});
