#!/usr/bin/env node
/* global process, console */
/**
 * Prints CI's timing table from the rows test/support/timing-reporter.js wrote: the phases of
 * `npm test` (lint, unit, integration) and every test file, slowest first.
 * Usage: node .ci/timings.js ROWS_FILE TEST_START_MS TEST_END_MS [CI_START_MS]
 */
const fs = require("fs");

const [file, startArg, endArg, ciStartArg] = process.argv.slice(2);
const start = Number(startArg);
const end = Number(endArg);
const rows = fs.existsSync(file)
  ? fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
const runs = rows.filter((r) => r.kind === "run").sort((a, b) => a.start - b.start);
const suites = rows.filter((r) => r.kind === "suite").sort((a, b) => b.seconds - a.seconds);
const fmt = (s) =>
  s >= 60 ? `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2)} s` : `${s.toFixed(1)} s`;

const phases = [];
// .ci/run passes its own start: the packages and npm ci before npm test.
if (ciStartArg) phases.push(["apt-get + npm ci", (start - Number(ciStartArg)) / 1000]);
// npm test runs lint first, then each jest run: lint is the time before the first run.
if (runs.length > 0) phases.push(["lint", (runs[0].start - start) / 1000]);
for (const r of runs) phases.push([r.projects.join("+") || "jest", (r.end - r.start) / 1000]);
const width = Math.max(12, ...suites.map((s) => s.file.length));
console.log("\n== CI timing ==");
for (const [name, s] of phases) console.log(`${name.padEnd(width)}  ${fmt(s).padStart(10)}`);
console.log(`${"npm test".padEnd(width)}  ${fmt((end - start) / 1000).padStart(10)}`);
if (ciStartArg)
  console.log(`${"CI total".padEnd(width)}  ${fmt((end - Number(ciStartArg)) / 1000).padStart(10)}  (budget 60 min)`);
console.log(`\n${"test file".padEnd(width)}  ${"time".padStart(10)}  project      tests  result`);
for (const s of suites)
  console.log(
    `${s.file.padEnd(width)}  ${fmt(s.seconds).padStart(10)}  ${s.project.padEnd(11)}  ${String(s.tests).padStart(5)}  ${s.failed ? "FAILED" : "ok"}`,
  );
