/**
 * Which of the project's modules the dynamic providers reach, computed from the code: starting at
 * the modules that define a provider, follow every import that survives compilation (TypeScript
 * drops imports used only as types, and so does what the serializer sees at run time). Each of
 * these modules is copied by value into Pulumi state (docs/design/dynamic-providers.md, rule 8), so it
 * carries the PROVIDER_CLOSURE_TAG header, and eslint.config.mjs applies the closure rules to it.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

export const ROOT = path.join(__dirname, "..", "..");

/** The modules that define a dynamic provider object (pulumi.dynamic.ResourceProvider). */
export const PROVIDER_MODULES = [
  "infra/keypair.ts",
  "infra/node-roll.ts",
  "bootstrap/provider.ts",
  "bootstrap/swarm-keys-provider.ts",
  "stacks/pulumi/provider.ts",
  "stacks/pulumi/secret-values.ts",
];

/** The header line that marks a module the providers serialize; eslint.config.mjs looks for the same text. */
export const PROVIDER_CLOSURE_TAG = "// @provider-closure";

/** The project modules a compiled module requires (relative paths, repo-relative .ts files). */
export function runtimeImports(file: string): string[] {
  const source = fs.readFileSync(path.join(ROOT, file), "utf8");
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  }).outputText;
  const out: string[] = [];
  for (const m of js.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
    const base = path.normalize(path.join(path.dirname(file), m[1]));
    const hit = [`${base}.ts`, path.join(base, "index.ts")].find((f) => fs.existsSync(path.join(ROOT, f)));
    if (!hit) throw new Error(`${file}: cannot resolve ${m[1]}`);
    out.push(hit.split(path.sep).join("/"));
  }
  return out;
}

/** Every module reachable from the providers at run time, sorted. */
export function providerClosure(): string[] {
  const seen = new Set<string>();
  const todo = [...PROVIDER_MODULES];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...runtimeImports(f));
  }
  return [...seen].sort();
}

/** Whether a module carries the tag on its first line. */
export function hasProviderClosureTag(file: string): boolean {
  return fs.readFileSync(path.join(ROOT, file), "utf8").split("\n", 1)[0].startsWith(PROVIDER_CLOSURE_TAG);
}
