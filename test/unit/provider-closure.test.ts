/**
 * The modules the dynamic providers serialize are marked, and only those: the mark is what
 * eslint.config.mjs applies the closure rules of docs/design/dynamic-providers.md to, so an unmarked
 * module reached by a provider would escape them.
 */
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import {
  hasProviderClosureTag,
  PROVIDER_CLOSURE_TAG,
  PROVIDER_MODULES,
  providerClosure,
  ROOT,
  runtimeImports,
} from "../support/provider-closure";

const SOURCE_DIRS = [
  "common",
  "transport",
  "inventory",
  "infra",
  "bootstrap",
  "stacks",
  "swarm",
  "hostfw",
  "verify",
  "local",
  "cli",
];
const sources = (): string[] =>
  SOURCE_DIRS.flatMap((dir) =>
    (fs.readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `${dir}/${f}`),
  );

describe("modules the dynamic providers serialize", () => {
  const closure = providerClosure();

  it("starts from every module that defines a provider, and only those", () => {
    const defining = sources().filter((f) =>
      /dynamic\.ResourceProvider</.test(fs.readFileSync(path.join(ROOT, f), "utf8")),
    );
    expect(defining.sort()).toEqual([...PROVIDER_MODULES].sort());
  });

  it("follows value imports and skips type-only ones, as compiled code does", () => {
    // bootstrap/provider.ts runs a bootstrap (a value import); swarm-node.ts, the resource class, is not reached from it.
    expect(runtimeImports("bootstrap/provider.ts")).toContain("bootstrap/member.ts");
    expect(closure).toContain("transport/ssh.ts");
    expect(closure).not.toContain("bootstrap/swarm-node.ts");
    expect(closure).not.toContain("infra/cluster.ts");
  });

  it(`each carries the ${PROVIDER_CLOSURE_TAG} header on its first line`, () => {
    const unmarked = closure.filter((f) => !hasProviderClosureTag(f));
    expect({ unmarked, fix: `add "${PROVIDER_CLOSURE_TAG}: ..." as the first line of each` }).toEqual({
      unmarked: [],
      fix: expect.any(String),
    });
  });

  it("no module outside the closure carries the header (a stale mark)", () => {
    const stale = sources().filter((f) => hasProviderClosureTag(f) && !closure.includes(f));
    expect(stale).toEqual([]);
  });

  it("eslint applies the closure rules to each of them, and not to the rest", () => {
    // In a child node: jest cannot load eslint.config.mjs (an ES module) in its sandbox.
    const files = [...closure, "infra/cluster.ts"];
    const script = `const { ESLint } = require("eslint"); (async () => { const e = new ESLint(); const out = {}; for (const f of ${JSON.stringify(files)}) out[f] = JSON.stringify((await e.calculateConfigForFile(f)).rules["no-restricted-syntax"] ?? null); console.log(JSON.stringify(out)); })();`;
    const rules = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" })) as Record<
      string,
      string
    >;
    const ruled = (f: string) => rules[f].includes("docs/design/dynamic-providers.md");
    expect(closure.filter((f) => !ruled(f))).toEqual([]);
    expect(ruled("infra/cluster.ts")).toBe(false);
  });
});
