import js from "@eslint/js";
import tseslint from "typescript-eslint";
import jest from "eslint-plugin-jest";

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
        ...["test", "it", "describe"].map((object) => ({ object, property: "todo", message: "a .todo names a claim nothing checks: write the test or leave the name out" })),
      ],
    },
  },
);
