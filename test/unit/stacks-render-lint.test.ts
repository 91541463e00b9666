/**
 * `hcloud-swarm stack render` judges what it renders (issue 22): through the CLI as a user types it,
 * every round-3 hostile case is refused with the same findings and exit code as `stack lint`, and no
 * stack file reaches stdout; every legitimate file renders and passes; `--show-refused` prints the
 * refused rendering commented out, which Docker's own loader does not read as a stack. The judge is
 * this machine's `docker stack config` (as for lint; the fallback reader's verdicts on the same
 * corpus are checked in stacks-lint-round3.test.ts).
 */
import * as fs from "fs";
import { stackText } from "../../stacks/reading/stack-text";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { judgeLocally } from "../../stacks/reading/judge";
import { hcloudSwarm } from "../support/cli";
import { type CorpusCase, ROUND3_CASES, ROUND3_LEGITIMATE } from "../support/hostile-stacks-r3";

// Each case runs Docker's CLI twice (render, then lint), on a machine shared with other work.
jest.setTimeout(120_000);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-render-lint-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** The case's stack file, in its own directory with its files and links, as a user keeps it. */
function stackFile(c: CorpusCase): string {
  const dir = path.join(root, c.name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(c.files ?? {})) {
    const file = path.join(dir, name);
    fs.rmSync(file, { force: true });
    if (typeof v === "string") fs.writeFileSync(file, v);
    else fs.symlinkSync(v.link, file);
  }
  const file = path.join(dir, "stack.yml");
  fs.writeFileSync(file, c.text);
  return file;
}

/** Finding lines (file:line: stack …[rule]) of a command's output, sorted. */
const findingLines = (out: string, file: string): string[] =>
  out
    .split("\n")
    .filter((l) => l.startsWith(`${file}:`) && /\[[a-z-]+\]$/.test(l))
    .sort();
const rulesIn = (lines: readonly string[]): string[] => [...new Set(lines.map((l) => /\[([a-z-]+)\]$/.exec(l)![1]))];

describe("stack render judges the rendering with stack lint's rules", () => {
  const classes = [...new Set(ROUND3_CASES.map((c) => c.cls))];

  it("the corpus has hostile cases of every class", () => {
    expect(classes.sort()).toEqual([
      "credentials",
      "default network",
      "fallback parity",
      "networks created",
      "ports",
      "symlinks",
      "volume drivers",
    ]);
  });

  it.each(ROUND3_CASES.map((c) => [c.cls, c.name, c] as const))(
    "%s: %s is refused by render as by lint, and no stack file is printed",
    async (_cls, _name, c) => {
      const file = stackFile(c);
      const lint = await hcloudSwarm(["stack", "lint", file]);
      const render = await hcloudSwarm(["stack", "render", file]);
      expect(lint.code).toBe(1);
      expect(render.code).toBe(1);
      expect(render.stdout).toBe("");
      const lines = findingLines(render.out, file);
      if (lines.length === 0) {
        // The renderer itself refused (a malformed x-hcloud-swarm block): a listed problem, nothing rendered.
        expect(render.out).toMatch(
          new RegExp(`stack ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} has \\d+ problems?|x-hcloud-swarm`),
        );
        expect(rulesIn(findingLines(lint.out, file))).toContain("template");
        return;
      }
      expect(lines).toEqual(findingLines(lint.out, file));
      expect(rulesIn(lines)).toEqual(expect.arrayContaining([...c.rules]));
      expect(render.out).toMatch(
        /rendering refused, \d+ problems? \(judged by docker stack config of this machine's Docker CLI .*\); stack deploy would refuse it too/,
      );
    },
  );

  it.each(ROUND3_LEGITIMATE.map((c) => [c.cls, c.name, c] as const))(
    "%s: %s renders, passes, and is printed",
    async (_cls, _name, c) => {
      if (c.ctx) return; // a cluster fact the CLI only learns from --inventory; none of the legitimate files needs one
      const file = stackFile(c);
      const r = await hcloudSwarm(["stack", "render", file]);
      expect(r.out).toContain(`${file}: rendering ok (judged by docker stack config of this machine's Docker CLI`);
      expect(r.code).toBe(0);
      const doc = parse(r.stdout) as { services?: Record<string, unknown> };
      expect(Object.keys(doc.services ?? {})).toEqual(["app"]);
    },
  );

  it("the shipped templates render clean, with test-bed images too", async () => {
    const wp = await hcloudSwarm([
      "stack",
      "render",
      "wordpress",
      "--var",
      "domain=blog.example.com",
      "--local-images",
      "img:local",
    ]);
    expect(wp.code).toBe(0);
    expect(wp.stdout).toContain("Host(`blog.example.com`)");
    const tr = await hcloudSwarm([
      "stack",
      "render",
      "traefik",
      "--var",
      "acme_email=ops@example.com",
      "--var",
      "dashboard_domain=traefik.example.com",
    ]);
    expect(tr.out).not.toMatch(/refused/);
    expect(tr.code).toBe(0);
  });

  it("a --var value that carries a credential is judged in the rendering, on the template's line", async () => {
    const c: CorpusCase = {
      name: "var-credential",
      cls: "credentials",
      rules: ["plain-secret"],
      text: 'version: "3.8"\nx-hcloud-swarm:\n  variables:\n    cache: {description: the cache URL}\nservices:\n  app:\n    image: busybox\n    networks: [back]\n    environment:\n      CACHE: "{{ cache }}"\nnetworks:\n  back:\n    driver_opts: {encrypted: ""}\n',
    };
    const file = stackFile(c);
    const ok = await hcloudSwarm(["stack", "render", file, "--var", "cache=redis://cache:6379/0"]);
    expect(ok.code).toBe(0);
    const bad = await hcloudSwarm(["stack", "render", file, "--var", "cache=redis://:s3cretpw@cache:6379/0"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(findingLines(bad.out, file).join("\n")).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:10: .*\\[plain-secret\\]$`),
    );
    expect(bad.out).not.toContain("s3cretpw");
  });

  it("--show-refused prints the refused rendering commented out, which Docker's loader does not read as a stack", async () => {
    const c = ROUND3_CASES.find((x) => x.name === "default-external-host")!;
    const file = stackFile(c);
    const r = await hcloudSwarm(["stack", "render", file, "--show-refused"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("Printed commented out, for inspection only.");
    const lines = r.stdout.replace(/\n$/, "").split("\n");
    expect(lines.every((l) => l.startsWith("#"))).toBe(true);
    expect(r.stdout).toMatch(
      /^# REFUSED BY LINT \(1 problem, listed on stderr\): stack "default-external-host" is NOT deployable\./,
    );
    expect(r.stdout).toContain("#     name: host");
    const j = await judgeLocally({ judged: stackText(r.stdout, file), baseDir: path.dirname(file) });
    expect(j.kind).toBe("local");
    expect(j.data?.services ?? {}).toEqual({});
  });
});
