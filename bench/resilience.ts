/**
 * `npm run bench:resilience -- [--runs 5] [--hog] [--chaos] [--figures FILE]`: runs the resilience
 * suites N times in a row (the namespace bed's; with --chaos the VM bed's instead), optionally beside
 * a CPU hog (a busy loop per core, killed at the end), then prints per condition and scenario how
 * many runs ended correct, how many needed a second run, and the time to converge. The suites
 * append one JSON line per scenario to FILE (RESILIENCE_FIGURES); `--table FILE` only prints.
 * Prints figures, asserts nothing. Needs root.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alignColumns } from "../common/columns";

/** One scenario's outcome, as the suites append it to $RESILIENCE_FIGURES (one JSON line each). */
export interface Row {
  readonly condition: string;
  readonly scenario: string;
  /** The scenario ended correct (see test/integration/resilience-scenarios.ts). */
  readonly passed: boolean;
  /** "ok" or the first line of the first run's failure. */
  readonly firstRun: string;
  /** Runs until the swarm matched the inventory (1 or 2). */
  readonly runs: number;
  /** From the first run's start until the swarm matched. */
  readonly seconds: number;
}

const ROOT = path.resolve(__dirname, "../..");
const NS_SUITES = ["test/integration/resilience-loss.test.ts", "test/integration/resilience-starved.test.ts"];
const VM_SUITES = ["test/chaos/resilience-vm.test.ts"];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sec = (x: number): string => `${x.toFixed(1)} s`;

/** The table, one row per condition and scenario, in the order first seen (pure). */
export function table(rows: readonly Row[]): string {
  const keys: string[] = [];
  for (const r of rows) if (!keys.includes(`${r.condition}\t${r.scenario}`)) keys.push(`${r.condition}\t${r.scenario}`);
  const out = [
    [
      "condition",
      "scenario",
      "ended correct",
      "first run failed, re-run converged",
      "time to converge (min / median / max)",
    ],
  ];
  for (const k of keys) {
    const [condition, scenario] = k.split("\t");
    const mine = rows.filter((r) => r.condition === condition && r.scenario === scenario);
    const ok = mine.filter((r) => r.passed);
    const times = ok.map((r) => r.seconds).sort((a, b) => a - b);
    const median = times.length ? times[Math.floor((times.length - 1) / 2)] : NaN;
    out.push([
      condition,
      scenario,
      `${ok.length}/${mine.length}`,
      String(ok.filter((r) => r.runs === 2).length),
      times.length ? `${sec(times[0])} / ${sec(median)} / ${sec(times[times.length - 1])}` : "-",
    ]);
  }
  return alignColumns(out).join("\n") + "\n";
}

function readRows(file: string): Row[] {
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Row)
    : [];
}

function startHog(): ChildProcess[] {
  return os.cpus().map(() => spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
}

function main(): void {
  const only = arg("--table");
  if (only) {
    process.stdout.write(table(readRows(only)));
    return;
  }
  const runs = Number(arg("--runs") ?? 5);
  const chaos = process.argv.includes("--chaos");
  const file = path.resolve(arg("--figures") ?? path.join(os.tmpdir(), `hcloud-swarm-resilience-${Date.now()}.jsonl`));
  const hog = process.argv.includes("--hog") ? startHog() : [];
  const stop = () => {
    for (const h of hog) h.kill("SIGKILL");
  };
  process.on("exit", stop);
  process.on("SIGINT", () => process.exit(130));
  const results: string[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const started = Date.now();
      const r = spawnSync(
        "npx",
        [
          "jest",
          ...(chaos ? VM_SUITES : NS_SUITES),
          "--selectProjects",
          chaos ? "chaos" : "integration",
          "--runInBand",
        ],
        {
          cwd: ROOT,
          stdio: ["ignore", "inherit", "inherit"],
          env: { ...process.env, RESILIENCE_FIGURES: file },
        },
      );
      results.push(
        `run ${i}: ${r.status === 0 ? "passed" : `FAILED (exit ${r.status})`} in ${sec((Date.now() - started) / 1000)}`,
      );
      process.stderr.write(`${results[results.length - 1]}\n`);
    }
  } finally {
    stop();
  }
  process.stdout.write(
    `resilience suites, ${runs} run(s) in a row on ${os.cpus().length} cores${hog.length ? `, beside a CPU hog (${hog.length} busy loops)` : ""}; figures in ${file}\n`,
  );
  process.stdout.write(results.join("\n") + "\n\n" + table(readRows(file)));
}

main();
