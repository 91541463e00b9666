import * as fs from "fs";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import jest from "eslint-plugin-jest";

/**
 * Modules the dynamic providers serialize into Pulumi state carry this tag on their first line
 * (test/unit/provider-closure.test.ts keeps the tags equal to what the providers reach). The
 * closure rules of docs/design/dynamic-providers.md that a syntax check can see apply to them.
 */
const PROVIDER_CLOSURE_TAG = "// @provider-closure";
const SOURCE_DIRS = [
  "common",
  "transport",
  "inventory",
  "nodespec",
  "infra",
  "bootstrap",
  "rolling",
  "stacks",
  "swarm",
  "hostfw",
  "verify",
  "recovery",
];
const providerClosure = SOURCE_DIRS.flatMap((dir) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true })
        .filter((f) => String(f).endsWith(".ts"))
        .map((f) => `${dir}/${f}`)
    : [],
).filter((f) => fs.readFileSync(f, "utf8").startsWith(PROVIDER_CLOSURE_TAG));
const JEST_GLOBALS = "^(describe|it|test|expect|jest|beforeAll|afterAll|beforeEach|afterEach)$";
const atModuleLevel = (selector) => [
  `Program > VariableDeclaration ${selector}`,
  `Program > ExportNamedDeclaration > VariableDeclaration ${selector}`,
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".hcloud-swarm/**", "bin/**", "jest.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // local/index.ts is the test beds' public surface: code outside local/ imports only it. The
    // tests of local/'s own internals are the exception (test/unit/local-*, test/integration/local-bed-*).
    files: ["**/*.ts"],
    ignores: ["local/**", "test/unit/local-*.test.ts", "test/integration/local-bed-*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\./)+local/.+",
              message: 'import the test beds from local/index.ts ("../local"), their public surface',
            },
          ],
        },
      ],
    },
  },
  {
    // The rehearsal engine is general: a mock Pulumi engine that knows no cloud (the Hetzner model
    // is rehearse/hetzner/, the rehearsal itself rehearse/). It is also the unit tests' harness.
    files: ["rehearse/engine/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^\\.\\./(?!\\.\\./common/)|^@pulumi/hcloud",
              message:
                "rehearse/engine/ imports only itself, common/ and the SDK: cloud models go in rehearse/hetzner/, the rehearsal in rehearse/",
            },
          ],
        },
      ],
    },
  },
  {
    files: providerClosure,
    rules: {
      "no-restricted-syntax": [
        "error",
        ...atModuleLevel("NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]").map((selector) => ({
          selector,
          message:
            "rule 1 of docs/design/dynamic-providers.md: no module-level Map or Set in provider code (use arrays of pairs or plain objects)",
        })),
        {
          selector: "PropertyDefinition[value!=null]",
          message:
            "rule 2 of docs/design/dynamic-providers.md: no class field initializers in provider code (assign in the constructor)",
        },
        {
          selector: "CallExpression[callee.name='Symbol'], MemberExpression[object.name='Symbol'][property.name='for']",
          message: "rule 5 of docs/design/dynamic-providers.md: no symbols as keys in provider code (use string keys)",
        },
        ...atModuleLevel(
          "VariableDeclarator > MemberExpression[object.object.name='process'][object.property.name='env']",
        ).map((selector) => ({
          selector,
          message:
            "rule 7 of docs/design/dynamic-providers.md: read the environment inside the methods, not at module load",
        })),
        ...atModuleLevel(
          "VariableDeclarator > CallExpression[callee.name=/^(setTimeout|setInterval|setImmediate)$/]",
        ).map((selector) => ({
          selector,
          message: "rule 8 of docs/design/dynamic-providers.md: no timer or other native handle at module level",
        })),
        {
          selector: `Program > FunctionDeclaration[id.name=/${JEST_GLOBALS}/], Program > ExportNamedDeclaration > FunctionDeclaration[id.name=/${JEST_GLOBALS}/]`,
          message: "rule 12 of docs/design/dynamic-providers.md: no module-level function named like a global",
        },
        ...atModuleLevel(`VariableDeclarator[id.name=/${JEST_GLOBALS}/]`).map((selector) => ({
          selector,
          message: "rule 12 of docs/design/dynamic-providers.md: no module-level value named like a global",
        })),
      ],
    },
  },
  {
    // Plain CommonJS run by node and jest untransformed (jest loads reporters as they are).
    files: [".ci/**/*.js", "test/support/*.js"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // A committed .only silently drops every other test; .skip, x-prefixes and .todo leave a name
    // that claims something nothing checks. A test must assert (directly or through an expect* helper).
    files: ["test/**/*.ts"],
    plugins: { jest },
    rules: {
      "jest/no-focused-tests": "error",
      "jest/no-disabled-tests": "error",
      "jest/expect-expect": ["error", { assertFunctionNames: ["expect", "expect*", "*.expect*"] }],
      "no-restricted-properties": [
        "error",
        ...["test", "it", "describe"].map((object) => ({
          object,
          property: "todo",
          message: "a .todo names a claim nothing checks: write the test or leave the name out",
        })),
      ],
    },
  },
);
