// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * `--var key=value` parsing and `{{ name }}` substitution. Every unknown, missing or malformed
 * variable is collected and reported at once, each named, so one run shows the whole fix.
 */
import { isScalar, visit, type Document } from "yaml";
import { BUILTIN_VARS, VAR_NAME, type VariableSpec } from "./meta";
import { lineOf, type StackSource } from "../reading/source";

const REF = /\{\{\s*([^}\s]*)\s*\}\}/g;

/** Parses `key=value` strings (as given to --var); problems name the offending argument. */
export function parseVarArgs(args: readonly string[]): { vars: Record<string, string>; problems: string[] } {
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const key = eq < 0 ? arg : arg.slice(0, eq);
    if (eq < 0 || !VAR_NAME.test(key)) {
      problems.push(
        `--var ${JSON.stringify(arg)} must be name=value with a lowercase name, e.g. --var domain=blog.example.com`,
      );
    } else if (key in vars) {
      problems.push(`--var ${key} is given twice; keep one`);
    } else {
      vars[key] = arg.slice(eq + 1);
    }
  }
  return { vars, problems };
}

/** References `{{ name }}` found in the document's scalars (keys included), with their lines. */
export function findRefs(src: StackSource): Array<{ name: string; line: number }> {
  const refs: Array<{ name: string; line: number }> = [];
  visit(src.doc, {
    Scalar(_key, node) {
      if (typeof node.value !== "string") return;
      for (const m of node.value.matchAll(REF)) refs.push({ name: m[1], line: lineOf(src, node) });
    },
  });
  return refs;
}

/**
 * Resolves the final value of every variable the template uses. Problems: a reference to an
 * undeclared variable (template bug, with its line), a --var the template does not take, a
 * required variable without a value, and values with control characters or line breaks (Docker's too).
 */
export function resolveVars(
  src: StackSource,
  specs: readonly VariableSpec[],
  given: Readonly<Record<string, string>>,
  builtins: Readonly<Record<(typeof BUILTIN_VARS)[number], string>>,
): { values: Record<string, string>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, string> = { ...builtins };
  const known = new Set([...specs.map((s) => s.name), ...BUILTIN_VARS]);
  const takes = specs.map((s) => s.name).join(", ") || "(none)";
  for (const ref of findRefs(src)) {
    if (!known.has(ref.name))
      problems.push(
        `${src.file}:${ref.line}: {{ ${ref.name} }} is not a declared variable; declare it under x-hcloud-swarm: variables:`,
      );
  }
  for (const key of Object.keys(given)) {
    if ((BUILTIN_VARS as readonly string[]).includes(key))
      problems.push(`--var ${key} cannot be set: "${key}" is the stack name (use --name)`);
    else if (!known.has(key))
      problems.push(`--var ${key} is not a variable of stack "${src.stack}"; it takes: ${takes}`);
  }
  for (const spec of specs) {
    const value = given[spec.name] ?? spec.default;
    if (value === undefined) {
      problems.push(`missing --var ${spec.name}=…${spec.description ? ` (${spec.description})` : ""}`);
      continue;
    }
    // U+0085, U+2028 and U+2029 end a line for Docker's YAML reader but not for ours: a value holding
    // one could start a new key in the rendered file.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(value))
      problems.push(`--var ${spec.name} contains a control character or line break; give a single-line value`);
    values[spec.name] = value;
  }
  return { values, problems };
}

/**
 * Replaces every reference in place. `$` becomes `$$`, because `docker stack deploy` interpolates
 * `$VAR` itself and would otherwise rewrite a value such as a password hash.
 */
export function substitute(doc: Document, values: Readonly<Record<string, string>>): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== "string" || !node.value.includes("{{")) return;
      node.value = node.value.replace(REF, (whole, name: string) =>
        name in values ? values[name].replace(/\$/g, "$$$$") : whole,
      );
    },
  });
}

/** True when a scalar text still contains an unreplaced reference (used as a render safety net). */
export function hasRefs(doc: Document): boolean {
  let found = false;
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === "string" && /\{\{\s*[^}\s]*\s*\}\}/.test(node.value)) found = true;
    },
  });
  return found;
}
