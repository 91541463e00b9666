/**
 * Runs a compiled program of this package (dist/…) as a child process with a hard deadline, for
 * suites whose work must never outlive them (the VM journey: SSH sessions to VMs, waits of many
 * minutes). The child gets its own process group; at the deadline the whole group is killed, so the
 * test process never holds a socket or timer of the journey and always ends.
 *
 * dist/ is rebuilt first when a source is newer than the entry point (npm ci builds it; a developer
 * who edited a file and ran jest would otherwise test yesterday's code).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { run } from "../../local";

const ROOT = path.resolve(__dirname, "../..");
/** tsc over the whole package: ~25 s on 2 busy cores. */
export const BUILD_TIMEOUT_MS = 5 * 60_000;

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== "node_modules") newest = Math.max(newest, newestSource(p));
    else if (e.isFile() && e.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/<rel>.js, rebuilt first (npm run build) when it is missing or older than a source it is built from. */
export async function builtEntry(rel: string, log: (line: string) => void = () => undefined): Promise<string> {
  const entry = path.join(ROOT, "dist", `${rel}.js`);
  const config = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] };
  const newest = Math.max(
    ...config.include
      .map((d) => path.join(ROOT, d))
      .filter((d) => fs.existsSync(d))
      .map(newestSource),
  );
  if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < newest) {
    log(`dist/ is older than the sources: npm run build`);
    await run(
      process.execPath,
      [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.build.json")],
      { timeoutMs: BUILD_TIMEOUT_MS },
    );
  }
  return entry;
}

export interface ChildOutcome {
  /** Exit code; undefined when it was killed. */
  readonly code?: number;
  /** True when the deadline ended it. */
  readonly killed: boolean;
  readonly ms: number;
}

/** Runs `node entry args…` (output straight to this process's terminal) until it exits or `deadlineMs` passes. */
export function runChild(entry: string, args: readonly string[], deadlineMs: number): Promise<ChildOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // it ended meanwhile
      }
    }, deadlineMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ ...(code !== null ? { code } : {}), killed, ms: Date.now() - started });
    });
  });
}
