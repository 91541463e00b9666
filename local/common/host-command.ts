/**
 * Runs host commands for the test bed. Everything the bed does to the machine goes through here,
 * so a failing step reports the exact command and its stderr instead of a bare exit code.
 */
import { spawn, StdioOptions } from "child_process";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Text written to the command's stdin. Default: none (stdin closed). */
  readonly input?: string | Buffer;
  /** Resolve instead of rejecting on a non-zero exit. Default false. */
  readonly allowFail?: boolean;
  /** Kill the command after this many milliseconds. Default DEFAULT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Extra environment variables. Default: none (the host environment is inherited). */
  readonly env?: Readonly<Record<string, string>>;
  /** File descriptor receiving stdout and stderr instead of capturing them. Default: captured. */
  readonly logFd?: number;
}

/** A single host command (ip, iptables, ssh-keygen, nsenter) never needs this long; a hung one is a bug to report. */
const DEFAULT_TIMEOUT_MS = 60_000;

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`\`${command}\` failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 2000)}`);
    this.name = "CommandError";
  }
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Shell-quoted form of a command line, for error messages. */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(quote).join(" ");
}

/** Runs `cmd args…` without a shell and collects its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = [
      opts.input === undefined ? "ignore" : "pipe",
      opts.logFd ?? "pipe",
      opts.logFd ?? "pipe",
    ];
    const child = spawn(cmd, args, { stdio, env: opts.env ? { ...process.env, ...opts.env } : process.env });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr: signal ? `${stderr}killed by ${signal}` : stderr,
      };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError(commandLine(cmd, args), result));
      else resolve(result);
    });
    // A command may exit without reading its input (e.g. a refused connection); that is its exit code's business.
    child.stdin?.on("error", () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a shell script with `sh -c`; extra args become $1, $2, … */
export function sh(script: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  return run("/bin/sh", ["-c", script, "sh", ...args], opts);
}
