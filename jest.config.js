/** Two projects: fast unit tests, and integration tests that need root and the local test bed. */
const tsJest = { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] };

/** @type {import('jest').Config} */
module.exports = {
  // A worker that ran many suites holds far more than their heaps: one in-band unit run grew to
  // 13.7 GB resident (every suite's heap stayed near 1.2 GB), and two such runs side by side were
  // killed for memory. With a limit jest uses a worker process even on 2 cores, and starts a fresh
  // one after any suite that leaves it above the limit.
  workerIdleMemoryLimit: "1GB",
  // Per-file and per-run durations for CI's timing table, only when $HCLOUD_SWARM_TIMINGS names a file.
  reporters: ["default", "<rootDir>/test/support/timing-reporter.js"],
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      // 60 s per test (a project entry's `testTimeout` is ignored; see the file). Suites that spawn
      // processes set more.
      setupFilesAfterEnv: ["<rootDir>/test/support/unit-timeout.ts"],
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
      // The rehearsal's short form on VMs (npm run test:rehearsal): 15-25 min under TCG, which with
      // the rest left CI only 4-8 of its 90 minutes; `npm run rehearse` runs the whole day.
      displayName: "rehearsal",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/rehearsal/**/*.test.ts"],
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
