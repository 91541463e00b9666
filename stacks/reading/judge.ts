// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Which reading of a stack file decides. Docker deploys what its own compose loader reads, so that
 * loader judges whenever it can be asked, in this order:
 *   1. `docker stack config` on the manager deploy goes through (the CLI that then deploys);
 *   2. `docker stack config` of a Docker CLI on this machine's PATH;
 *   3. the Docker-dialect reader (dialect-config.ts), when no CLI has that command.
 * Capability is found by running the command on a known file, never by version numbers. The file
 * travels on stdin, never on a command line. Every judge runs with the same few variables
 * (`env -i`), so interpolation gives the same answer everywhere, and deploy runs with them too.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import { type GoMap, type GoValue, isGoMap, type Located, readDockerYaml } from "./dialect";
import { type ConfigProblem, dialectStackConfig } from "./dialect-config";
import type { InterpolationEnv } from "./interpolate";
import type { StackText } from "./stack-text";

/** `docker stack config` answers in well under a second; this long means the CLI hangs. */
export const JUDGE_TIMEOUT_MS = 30_000;
/** A file every `docker stack config` accepts: how capability is detected. */
const PROBE_FILE = 'version: "3.8"\nservices:\n  hcloud-swarm-probe:\n    image: hcloud-swarm/probe\n';

export type JudgeKind = "manager" | "local" | "dialect";

export interface Judgement {
  readonly kind: JudgeKind;
  /** Who judged, for every message: e.g. `docker stack config on manager-1 (Docker CLI 28.2.2, /usr/local/bin/docker)`. */
  readonly judge: string;
  /** The text that was judged. */
  readonly text: string;
  /** Docker's reading; undefined when Docker refused the file (see problems). */
  readonly data?: GoMap;
  /** Lines of the judged text by path (Docker's output for the CLI judges). */
  readonly at: Located;
  readonly problems: readonly ConfigProblem[];
  readonly warnings: readonly string[];
  /** Directory relative paths were resolved against, in the deploying manager's file system when deploying. */
  readonly baseDir: string;
  /** Why better judges were not used, e.g. "manager-1: docker stack config: unknown shorthand flag: 'c' in -c". */
  readonly skipped: readonly string[];
  /** Names of the variables interpolation saw (none for a local lint). */
  readonly envNames?: readonly string[];
}

/** How the judge's environment is named in its description: every judge interpolates with only these. */
export function envNote(env: InterpolationEnv | undefined): string {
  const names = Object.keys(env ?? {});
  return names.length
    ? `; variables interpolated with only ${names.join(" and ")}, none from your shell`
    : "; variables interpolated with an empty environment, none from your shell";
}

export interface JudgeRequest {
  /** The exact text that would be deployed, read once (stack-text.ts): the dialect judge uses its reading. */
  readonly judged: StackText;
  /** Where relative paths resolve: the file's directory, or the upload directory on the manager. */
  readonly baseDir: string;
  /** Variables interpolation sees. Default {} (local lint); deploy passes the manager's HOME and PATH. */
  readonly env?: InterpolationEnv;
}

/** What a CLI printed, read back in Docker's dialect. */
function fromDockerOutput(
  kind: JudgeKind,
  judgeName: string,
  req: JudgeRequest,
  r: { code: number; stdout: string; stderr: string },
  skipped: readonly string[],
): Judgement {
  const judge = judgeName + envNote(req.env);
  return { ...fromDockerOutputAs(kind, judge, req, r, skipped), envNames: Object.keys(req.env ?? {}) };
}

function fromDockerOutputAs(
  kind: JudgeKind,
  judge: string,
  req: JudgeRequest,
  r: { code: number; stdout: string; stderr: string },
  skipped: readonly string[],
): Judgement {
  const warnings = r.stderr
    .split("\n")
    .map((l) => l.replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, "$1").trim())
    .filter(Boolean);
  if (r.code !== 0) {
    return {
      kind,
      judge,
      text: req.judged.text,
      at: { line: 1 },
      problems: parseDockerErrors(r.stderr || r.stdout),
      warnings: [],
      baseDir: req.baseDir,
      skipped,
    };
  }
  const read = readDockerYaml(r.stdout, { emitted: true });
  if (!isGoMap(read.data) || read.problems.length > 0) {
    return {
      kind,
      judge,
      text: req.judged.text,
      at: { line: 1 },
      problems: [
        {
          line: 1,
          message: `cannot read what ${judge} printed: ${read.problems.map((p) => p.message).join("; ") || "not a mapping"}`,
        },
      ],
      warnings,
      baseDir: req.baseDir,
      skipped,
    };
  }
  // Docker prints U+0085/U+2028/U+2029 inside values in a form YAML readers read differently: the
  // structure is still read right, the value may not be, so the reading is linted and refused.
  const odd = /[\u0085\u2028\u2029]/.exec(r.stdout);
  const problems = odd
    ? [
        {
          line: 1,
          message: `Docker's reading holds the character U+${odd[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} in a value (perhaps written as an escape such as \\u2028); YAML readers disagree on it, so it is refused: remove it`,
        },
      ]
    : [];
  return {
    kind,
    judge,
    text: req.judged.text,
    data: read.data,
    at: read.at,
    problems,
    warnings,
    baseDir: req.baseDir,
    skipped,
  };
}

/** Docker's refusal as problems; a dotted path (services.app.ports.0.published) or "line N" places it. */
export function parseDockerErrors(text: string): ConfigProblem[] {
  const lines = text
    .split("\n")
    .map((l) => l.replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, "$1").trim())
    .filter((l) => l !== "" && !/^yaml: unmarshal errors:$/.test(l) && !/level=warn/.test(l));
  return (lines.length ? lines : ["Docker refused the file without a message"]).map((message) => {
    const at = /\b((?:services|networks|volumes|secrets|configs)(?:\.[^\s:"]+)+)/.exec(message);
    const line = /\bline (\d+)\b/.exec(message);
    return {
      ...(at ? { path: at[1].split(".").filter((p) => p !== "[]") } : {}),
      ...(line ? { line: Number(line[1]) } : {}),
      message,
    };
  });
}

/** The Docker-dialect judge: always available, synchronous. */
export function dialectJudge(req: JudgeRequest, skipped: readonly string[] = []): Judgement {
  const r = dialectStackConfig(req.judged, { baseDir: req.baseDir, env: req.env ?? {} });
  const judge = `hcloud-swarm's Docker-dialect reader (what Docker CLI 28's compose loader reads; no Docker CLI with docker stack config was found)${envNote(req.env)}`;
  return {
    kind: "dialect",
    judge,
    text: req.judged.text,
    ...(r.problems.length === 0 && r.data ? { data: r.data } : {}),
    at: r.at,
    problems: r.problems,
    warnings: r.warnings,
    baseDir: req.baseDir,
    skipped,
    envNames: Object.keys(req.env ?? {}),
  };
}

/** Runs a local executable with exactly `env` (nothing inherited) and `input` on stdin. */
function execFile(
  file: string,
  args: readonly string[],
  opts: { cwd: string; env: InterpolationEnv; input: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: { ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), JUDGE_TIMEOUT_MS);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: err.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 128,
        stdout,
        stderr: signal ? `${stderr}killed by ${signal} after ${JUDGE_TIMEOUT_MS / 1000} s` : stderr,
      });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input);
  });
}

/** Every `docker` on a PATH, in order (as `which -a docker`). */
export function dockersOnPath(searchPath: string | undefined): string[] {
  const found: string[] = [];
  for (const dir of (searchPath ?? "").split(":").filter(Boolean)) {
    const file = path.join(dir, "docker");
    try {
      fs.accessSync(file, fs.constants.X_OK);
      const real = fs.realpathSync(file);
      if (!found.some((f) => fs.realpathSync(f) === real)) found.push(file);
    } catch {
      // not there, or not executable
    }
  }
  return found;
}

function probeAccepted(r: { code: number; stdout: string }): boolean {
  if (r.code !== 0) return false;
  const data: GoValue | undefined = readDockerYaml(r.stdout).data;
  return isGoMap(data) && isGoMap(data.services) && isGoMap(data.services["hcloud-swarm-probe"]);
}

export interface LocalJudgeOptions {
  /** Where to look for `docker`. Default: this process's PATH. */
  readonly searchPath?: string;
  /**
   * Paths under this local directory are reported under `remoteBaseDir` instead: deploy judges
   * locally what the manager will load from its upload directory. Default: none (local lint).
   */
  readonly remoteBaseDir?: string;
}

/** `docker stack config` of the first local Docker CLI that has it; undefined (with the reasons) when none does. */
export async function localJudge(
  req: JudgeRequest,
  opts: LocalJudgeOptions = {},
  skipped: string[] = [],
): Promise<Judgement | undefined> {
  const candidates = dockersOnPath(opts.searchPath ?? process.env.PATH);
  if (candidates.length === 0) skipped.push("this machine: no docker on the PATH");
  const workDir = opts.remoteBaseDir ? fs.mkdtempSync(path.join(os.tmpdir(), "hsw-judge-")) : req.baseDir;
  try {
    for (const docker of candidates) {
      const cli = await localCli(docker, workDir);
      if (!cli.ok) {
        skipped.push(`this machine: ${docker} stack config: ${cli.reason}`);
        continue;
      }
      const judge = `docker stack config of this machine's Docker CLI ${cli.version} (${docker})`;
      const r = await execFile(docker, ["stack", "config", "-c", "-"], {
        cwd: workDir,
        env: req.env ?? {},
        input: req.judged.text,
      });
      const j = fromDockerOutput("local", judge, req, r, skipped);
      return opts.remoteBaseDir && j.data ? { ...j, data: rebase(j.data, workDir, opts.remoteBaseDir) as GoMap } : j;
    }
    return undefined;
  } finally {
    if (opts.remoteBaseDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

type LocalCli = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

/**
 * Whether a local Docker CLI has `docker stack config` (run on a known file) and its version,
 * found once per binary and process: linting many files, or a deploy per stack, probes once. The
 * cache lives on globalThis (docs/design/dynamic-providers.md, rule 6) and is keyed by the file's identity.
 */
async function localCli(docker: string, cwd: string): Promise<LocalCli> {
  const g = globalThis as unknown as Record<string, Record<string, LocalCli> | undefined>;
  const cache = (g.__hcloudSwarmDockerClis ??= {});
  const st = fs.statSync(docker);
  const key = `${fs.realpathSync(docker)}:${st.size}:${st.mtimeMs}`;
  if (cache[key]) return cache[key];
  const probe = await execFile(docker, ["stack", "config", "-c", "-"], { cwd, env: {}, input: PROBE_FILE });
  if (!probeAccepted(probe))
    return (cache[key] = {
      ok: false,
      reason: (probe.stderr || probe.stdout).trim().split("\n")[0] || `exit ${probe.code}`,
    });
  const version = await execFile(docker, ["version", "--format", "{{.Client.Version}}"], { cwd, env: {}, input: "" });
  return (cache[key] = { ok: true, version: version.stdout.trim() || "(version unknown)" });
}

/** Rewrites strings that are paths under `from` to the same paths under `to`. */
function rebase(v: GoValue, from: string, to: string): GoValue {
  if (typeof v === "string") return v === from ? to : v.startsWith(`${from}/`) ? to + v.slice(from.length) : v;
  if (Array.isArray(v)) return v.map((x) => rebase(x, from, to));
  if (isGoMap(v)) {
    for (const k of Object.keys(v)) v[k] = rebase(v[k], from, to);
  }
  return v;
}

/** The manager's view: its upload directory, HOME and PATH, and its Docker CLI. */
export interface ManagerContext {
  readonly node: string;
  /** Absolute upload directory, where relative paths of the stack resolve. */
  readonly baseDir: string;
  /** HOME and PATH of the deploy user: the only variables judges and `docker stack deploy` see. */
  readonly env: InterpolationEnv;
  /** `command -v docker` and its client version, for messages. */
  readonly docker: string;
}

/** Prefix that gives a remote docker command exactly the judge environment. */
export const REMOTE_ENV = 'env -i HOME="$HOME" PATH="$PATH"';

/** Creates the upload directory and reads what the judges need to know about the manager. */
export async function managerContext(s: SshSession, uploadDir: string): Promise<ManagerContext> {
  const r = await s.run(
    `mkdir -p -m 0700 ${shellQuote(uploadDir)} && cd ${shellQuote(uploadDir)} && pwd && printf '%s\\n' "$HOME" "$PATH" && { command -v docker || echo "(no docker)"; } && { ${REMOTE_ENV} docker version --format '{{.Client.Version}}' 2>/dev/null || true; }`,
  );
  const [baseDir = "", home = "", pathVar = "", docker = "", version = ""] = r.stdout.split("\n");
  return {
    node: s.node,
    baseDir,
    env: { HOME: home, PATH: pathVar },
    docker: `${docker}${version ? `, Docker CLI ${version}` : ""}`,
  };
}

/** `docker stack config` on the manager; undefined (with the reason) when its CLI lacks it. */
export async function managerJudge(
  s: SshSession,
  m: ManagerContext,
  judged: StackText,
  skipped: string[],
): Promise<Judgement | undefined> {
  const cmd = (stdinName: string) =>
    `cd ${shellQuote(m.baseDir)} && ${REMOTE_ENV} docker stack config -c - # ${stdinName}`;
  const req = { judged, baseDir: m.baseDir, env: m.env };
  const judge = `docker stack config on ${m.node} (${m.docker})`;
  const r = await s.run(cmd("stack file on stdin"), {
    stdin: judged.text,
    allowFailure: true,
    timeoutMs: JUDGE_TIMEOUT_MS,
  });
  if (r.code === 0) return fromDockerOutput("manager", judge, req, r, skipped);
  const probe = await s.run(cmd("capability probe"), {
    stdin: PROBE_FILE,
    allowFailure: true,
    timeoutMs: JUDGE_TIMEOUT_MS,
  });
  if (probeAccepted(probe)) return fromDockerOutput("manager", judge, req, r, skipped);
  skipped.push(
    `${m.node}: docker stack config: ${(probe.stderr || probe.stdout).trim().split("\n")[0] || `exit ${probe.code}`}`,
  );
  return undefined;
}

/** Deploy's judge: the manager's CLI, else this machine's, else the dialect reader. */
export async function judgeForDeploy(
  s: SshSession,
  m: ManagerContext,
  judged: StackText,
  opts: { readonly searchPath?: string } = {},
): Promise<Judgement> {
  const skipped: string[] = [];
  const req = { judged, baseDir: m.baseDir, env: m.env };
  return (
    (await managerJudge(s, m, judged, skipped)) ??
    (await localJudge(
      req,
      { remoteBaseDir: m.baseDir, ...(opts.searchPath !== undefined ? { searchPath: opts.searchPath } : {}) },
      skipped,
    )) ??
    dialectJudge(req, skipped)
  );
}

/** Local lint's judge: this machine's CLI, else the dialect reader. */
export async function judgeLocally(req: JudgeRequest, opts: { readonly searchPath?: string } = {}): Promise<Judgement> {
  const skipped: string[] = [];
  return (
    (await localJudge(req, opts.searchPath !== undefined ? { searchPath: opts.searchPath } : {}, skipped)) ??
    dialectJudge(req, skipped)
  );
}
