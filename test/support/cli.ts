/**
 * The hcloud-swarm command run in-process, as a user types it: everything it prints (console and
 * stdout) and the exit code it sets or the error it ends with.
 */
import { CommanderError } from "commander";
import { buildProgram } from "../../cli/main";

export interface CliOutcome {
  /** Every printed line, in order; a thrown error's message last. */
  readonly out: string;
  /** 0, the exit code the command set, or 1 when it threw (commander's own exit code for --version and --help). */
  readonly code: number;
  /** Only what went to stdout (a `--json` document, say), without console.error's lines. */
  readonly stdout: string;
}

export async function hcloudSwarm(args: readonly string[]): Promise<CliOutcome> {
  const lines: string[] = [];
  let stdout = "";
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  const log = jest.spyOn(console, "log").mockImplementation(keep);
  const err = jest.spyOn(console, "error").mockImplementation(keep);
  const out = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    lines.push(chunk.toString().replace(/\n$/, ""));
    return true;
  });
  process.exitCode = 0;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "hcloud-swarm", ...args]);
    return { out: lines.join("\n"), code: Number(process.exitCode ?? 0), stdout };
  } catch (e) {
    return {
      out: [...lines, (e as Error).message].join("\n"),
      code: e instanceof CommanderError ? e.exitCode : 1,
      stdout,
    };
  } finally {
    process.exitCode = 0;
    log.mockRestore();
    err.mockRestore();
    out.mockRestore();
  }
}
