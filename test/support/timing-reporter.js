/* global process */
/**
 * A jest reporter that appends how long each test file and each jest run took to the file named by
 * $HCLOUD_SWARM_TIMINGS (one JSON object a line); without it, it does nothing. `.ci/run` sets it
 * and prints the table (.ci/timings.js). Plain JavaScript: jest loads reporters untransformed.
 */
const fs = require("fs");
const path = require("path");

class TimingReporter {
  constructor(globalConfig) {
    this.file = process.env.HCLOUD_SWARM_TIMINGS;
    this.root = globalConfig.rootDir;
    this.started = 0;
  }

  write(row) {
    if (this.file) fs.appendFileSync(this.file, JSON.stringify(row) + "\n");
  }

  onRunStart() {
    this.started = Date.now();
  }

  onTestResult(test, result) {
    const name = test.context.config.displayName;
    this.write({
      kind: "suite",
      project: (name && (name.name || name)) || "",
      file: path.relative(this.root, result.testFilePath),
      seconds: (result.perfStats.end - result.perfStats.start) / 1000,
      failed: result.numFailingTests > 0 || result.testExecError !== undefined,
      tests: result.numPassingTests + result.numFailingTests,
    });
  }

  onRunComplete(contexts) {
    const projects = [...contexts]
      .map((c) => (c.config.displayName && (c.config.displayName.name || c.config.displayName)) || "")
      .sort();
    this.write({ kind: "run", projects, start: this.started, end: Date.now() });
  }
}

module.exports = TimingReporter;
