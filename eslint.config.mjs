import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    // tests of local/'s own internals are the exception (test/unit/local-*, test/integration/testbed-*).
    files: ["**/*.ts"],
    ignores: ["local/**", "test/unit/local-*.test.ts", "test/integration/testbed-*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "^(\\.\\./)+local/.+", message: "import the test beds from local/index.ts (\"../local\"), their public surface" }] }],
    },
  },
  {
    // The rehearsal engine is general: a mock Pulumi engine that knows no cloud (the Hetzner model
    // is rehearse/hetzner/, the rehearsal itself rehearse/). It is also the unit tests' harness.
    files: ["rehearse/engine/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "^\\.\\./(?!\\.\\./common/)|^@pulumi/hcloud", message: "rehearse/engine/ imports only itself, common/ and the SDK: cloud models go in rehearse/hetzner/, the rehearsal in rehearse/" }] }],
    },
  },
);
