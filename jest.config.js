/** Two projects: fast unit tests, and integration tests that need root and the local test bed. */
const tsJest = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
    },
    {
      displayName: "integration",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      // Installs the test bed's Debian packages when they are missing (needs root).
      globalSetup: "<rootDir>/test/support/global-setup.ts",
      setupFilesAfterEnv: ["<rootDir>/test/support/integration-timeout.ts"],
    },
    {
      // Resilience on the VM bed: real guest kernels, too slow for CI (npm run test:chaos).
      displayName: "chaos",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/chaos/**/*.test.ts"],
      globalSetup: "<rootDir>/test/support/global-setup.ts",
      setupFilesAfterEnv: ["<rootDir>/test/support/integration-timeout.ts"],
    },
  ],
};
