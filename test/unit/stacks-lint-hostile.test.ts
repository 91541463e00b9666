/**
 * Every bypass class, judged for real: Docker's own loader (`docker stack config` of the Docker CLI
 * on this machine, which CI machines have; the test fails when it is missing) and the
 * Docker-dialect reader must read the same security facts, and lint must refuse the file with
 * either judge. Legitimate files that use the same features must pass with both.
 */
import * as fs from "fs";
import { stackText } from "../../stacks/reading/stack-text";
import * as os from "os";
import * as path from "path";
import type { GoMap } from "../../stacks/reading/dialect";
import { dialectJudge, type Judgement, localJudge } from "../../stacks/reading/judge";
import { lintJudged } from "../../stacks/lint/lint";
import { MTU_OPTION, renderStack } from "../../stacks/template/render";
import { loadStackFile } from "../../stacks/template/template";
import { readStack } from "../../stacks/reading/structure";
import { HOSTILE_STACKS, LEGITIMATE_STACKS } from "../support/hostile-stacks";

// Each case runs Docker's CLI, on a machine shared with other work.
jest.setTimeout(120_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-hostile-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function dockerJudge(text: string): Promise<Judgement> {
  const skipped: string[] = [];
  const j = await localJudge({ judged: stackText(text, "case.yml"), baseDir: dir }, {}, skipped);
  if (!j)
    throw new Error(
      `these tests need a Docker CLI with docker stack config on the PATH (CI machines have /usr/local/bin/docker 28.2); none found: ${skipped.join("; ")}`,
    );
  return j;
}

/** The facts the policy decides on, in a form that does not depend on short or long syntax. */
function facts(data: GoMap | undefined): unknown {
  if (!data) return "refused";
  const m = readStack(data).model;
  const sorted = <T>(xs: T[]): T[] =>
    xs
      .map((x) => JSON.stringify(x))
      .sort()
      .map((x) => JSON.parse(x) as T);
  return {
    networks: sorted(m.networks.map((n) => [n.key, n.name, n.external, n.driver ?? "overlay", n.encrypted])),
    services: sorted(
      m.services.map((s) => ({
        name: s.name,
        networks: s.networks?.map((n) => n.key).sort() ?? null,
        ports: sorted(s.ports.map((p) => [p.published ?? null, p.target, p.mode, p.protocol])),
        env: sorted(s.environment.map((e) => `${e.key}=${e.value}`)),
        privileged: s.privileged !== undefined,
        capAdd: s.capAdd.map((c) => c.cap),
        networkMode: s.networkMode?.value ?? null,
        binds: sorted(s.binds.map((b) => [path.posix.normalize(b.source), b.readOnly])),
      })),
    ),
    volumeBinds: m.volumeBinds.map((b) => b.source),
    files: sorted(m.files.map((f) => [f.what, path.posix.resolve(dir, f.file)])),
  };
}

const rulesOf = (j: Judgement, text: string): string[] =>
  [
    ...new Set(
      lintJudged({ source: stackText(text, "hostile.yml"), stack: "hostile", judgement: j }).map((f) => f.rule),
    ),
  ].sort();

describe("hostile stack files, judged by Docker's loader and by the Docker-dialect reader", () => {
  it.each(HOSTILE_STACKS.map((h) => [h.name, h] as const))(
    "%s: both judges read the same facts, and lint refuses it",
    async (_name, h) => {
      const docker = await dockerJudge(h.text);
      const dialect = dialectJudge({ judged: stackText(h.text, "case.yml"), baseDir: dir });
      expect(facts(dialect.data)).toEqual(docker.data ? facts(docker.data) : expect.anything());
      const withDocker = rulesOf(docker, h.text);
      const withDialect = rulesOf(dialect, h.text);
      expect(withDocker).toEqual(expect.arrayContaining([...h.rules]));
      expect(withDialect).toEqual(expect.arrayContaining([...(h.dialectRules ?? h.rules)]));
    },
  );

  it("reads the hidden network and service of a U+2028 file exactly as Docker does", async () => {
    const h = HOSTILE_STACKS.find((x) => x.name === "line-separator")!;
    const docker = await dockerJudge(h.text);
    expect(Object.keys((docker.data?.services ?? {}) as GoMap).sort()).toEqual(["app", "evil"]);
    expect(facts(dialectJudge({ judged: stackText(h.text, "case.yml"), baseDir: dir }).data)).toEqual(
      facts(docker.data),
    );
  });

  it("reads published: 06352 as 3306 with both judges", async () => {
    const h = HOSTILE_STACKS.find((x) => x.name === "octal-port")!;
    for (const j of [
      await dockerJudge(h.text),
      dialectJudge({ judged: stackText(h.text, "case.yml"), baseDir: dir }),
    ]) {
      expect(readStack(j.data as GoMap).model.services[0].ports[0].published).toEqual([3306, 3306]);
    }
  });

  it.each(LEGITIMATE_STACKS.map((l) => [l.name, l] as const))(
    "%s passes with both judges, which read the same facts",
    async (_name, l) => {
      const docker = await dockerJudge(l.text);
      const dialect = dialectJudge({ judged: stackText(l.text, "case.yml"), baseDir: dir });
      expect(docker.problems).toEqual([]);
      expect(facts(dialect.data)).toEqual(facts(docker.data));
      expect(lintJudged({ source: stackText(l.text, "ok.yml"), stack: "ok", judgement: docker })).toEqual([]);
      expect(lintJudged({ source: stackText(l.text, "ok.yml"), stack: "ok", judgement: dialect })).toEqual([]);
    },
  );

  it("renders a template so that Docker reads what the template means: merges kept encrypted, the MTU added, octal kept", async () => {
    const legit = LEGITIMATE_STACKS.find((l) => l.name === "anchors-and-merge")!;
    const r = renderStack(stackText(legit.text, "legit.yml"), { stack: "legit", mtu: 1450 });
    const docker = await dockerJudge(r.text);
    const back = (docker.data?.networks as GoMap).back as GoMap;
    expect(back.driver_opts).toEqual({ encrypted: "", [MTU_OPTION]: "1450" });
    expect(
      lintJudged({ source: stackText(legit.text, "legit.yml"), stack: "legit", judgement: docker, meta: r.meta }),
    ).toEqual([]);
    const octal = HOSTILE_STACKS.find((h) => h.name === "octal-port")!;
    const rendered = await dockerJudge(renderStack(stackText(octal.text, "o.yml"), { stack: "o" }).text);
    expect(readStack(rendered.data as GoMap).model.services[0].ports[0].published).toEqual([3306, 3306]);
  });

  it.each([
    ["U+2028", "\u2028    privileged: true"],
    ["U+0085", "`)\u0085  evil:\u0085    image: x"],
    ["U+2029", "\u2029"],
  ])(
    "refuses a --var value holding %s before rendering, naming the variable, because Docker would end a line there",
    (_c, tail) => {
      const t = loadStackFile("wordpress");
      expect(() => renderStack(stackText(t.text, t.file), { stack: "blog", vars: { domain: `x.org${tail}` } })).toThrow(
        /--var domain contains a control character or line break/,
      );
    },
  );
});
