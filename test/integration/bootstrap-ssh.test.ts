/**
 * transport/ssh.ts against a real OpenSSH server on loopback (its own host key, config and
 * authorized_keys in a temp dir). No docker needed: these are the SSH guarantees alone.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { connect, HostKeyMismatchError, SshSession, SshTarget, sshStats, waitForSsh } from "../../transport/ssh";
import { waitFor } from "../../common/time";

interface Sshd {
  dir: string;
  port: number;
  hostKey: string;
  otherHostKey: string;
  clientKey: string;
  start(): ChildProcess;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function makeSshd(): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-ssh-test-"));
  const keygen = (file: string) =>
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, file)]);
  keygen("host");
  keygen("other");
  keygen("client");
  fs.copyFileSync(path.join(dir, "client.pub"), path.join(dir, "authorized_keys"));
  fs.chmodSync(dir, 0o700);
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, "sshd_config"),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      `PidFile ${dir}/sshd.pid`,
    ].join("\n") + "\n",
  );
  fs.mkdirSync("/run/sshd", { recursive: true });
  const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
  return {
    dir,
    port,
    hostKey: read("host.pub").trim(),
    otherHostKey: read("other.pub").trim(),
    clientKey: read("client"),
    start: () => spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: "ignore" }),
  };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) =>
      net
        .connect(port, "127.0.0.1")
        .once("connect", function (this: net.Socket) {
          this.destroy();
          r(true);
        })
        .once("error", () => r(false)),
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not listen on ${port}`);
}

jest.setTimeout(120_000);
/** A process appears in or leaves the process table within a second even under load; 30 s means it never will. */
const KILL_SEEN_MS = 30_000;

/** Whether a process with exactly this command line runs on this machine (the test sshd's commands do). */
function isRunning(cmdline: string): boolean {
  return (
    execFileSync("sh", ["-c", `pgrep -fx '${cmdline}' || true`])
      .toString()
      .trim() !== ""
  );
}

describe("ssh module against a real sshd", () => {
  let sshd: Sshd;
  let server: ChildProcess | undefined;
  let target: SshTarget;
  let session: SshSession | undefined;

  beforeAll(async () => {
    sshd = await makeSshd();
    target = { name: "node-a", host: "127.0.0.1", port: sshd.port, user: "root", hostKey: sshd.hostKey };
  });
  afterEach(() => session?.close());
  afterAll(() => {
    server?.kill("SIGKILL");
    fs.rmSync(sshd.dir, { recursive: true, force: true });
  });

  it("waits for an sshd that starts late, with backoff", async () => {
    const startedAt = Date.now();
    setTimeout(() => (server = sshd.start()), 3000);
    const lines: string[] = [];
    session = await waitForSsh(target, sshd.clientKey, { log: (l) => lines.push(l), timeoutMs: 30_000 });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3000);
    expect(lines.join("\n")).toMatch(/node-a.*waiting for SSH/);
    const r = await session.run("echo hello; echo oops >&2");
    expect(r).toEqual({ stdout: "hello", stderr: "oops", code: 0 });
  });

  it("refuses a host presenting another key than the pinned one, without retrying", async () => {
    await waitForPort(sshd.port);
    const before = sshStats();
    const wrong = { ...target, hostKey: sshd.otherHostKey };
    await expect(waitForSsh(wrong, sshd.clientKey, { timeoutMs: 30_000 })).rejects.toThrow(HostKeyMismatchError);
    await expect(connect(wrong, sshd.clientKey)).rejects.toThrow(/host key mismatch for node-a/);
    const after = sshStats();
    expect(after.connectAttempts - before.connectAttempts).toBe(2);
    expect(after.connections - before.connections).toBe(0);
  });

  it("gives a clear timeout error and kills the remote command", async () => {
    session = await connect(target, sshd.clientKey);
    const marker = `sleep ${300 + (process.pid % 600)}`;
    await expect(session.run(marker, { timeoutMs: 2000 })).rejects.toThrow(
      /timed out after 2 s on node-a waiting for: sleep/,
    );
    // Gone from the process table (the kill is asynchronous): waited for as a fact, with a bound.
    expect(await waitFor(() => !isRunning(marker), KILL_SEEN_MS)).toBe(true);
    expect((await session.run("echo still-usable")).stdout).toBe("still-usable");
  });

  it("reports a non-zero exit with the command and its stderr, or returns it when allowed", async () => {
    session = await connect(target, sshd.clientKey);
    await expect(session.run("echo nope >&2; exit 3")).rejects.toThrow(/failed on node-a \(exit 3\): nope/);
    expect((await session.run("exit 4", { allowFailure: true })).code).toBe(4);
  });

  it("passes stdin and uploads files atomically with the requested mode", async () => {
    session = await connect(target, sshd.clientKey);
    expect((await session.run("tr a-z A-Z", { stdin: "shout" })).stdout).toBe("SHOUT");
    const remote = path.join(sshd.dir, "up", "stack.yml");
    await session.upload("services: {}\n", remote, { mode: "0600" });
    expect(fs.readFileSync(remote, "utf8")).toBe("services: {}\n");
    expect(fs.statSync(remote).mode & 0o777).toBe(0o600);
  });

  it("redacts join tokens and private keys from errors", async () => {
    session = await connect(target, sshd.clientKey);
    const token = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";
    const err = await session.run(`echo ${token} >&2; cat ${sshd.dir}/client >&2; exit 1`).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).not.toContain(token);
    expect(msg).not.toContain("1awxwuwd3z9j1z3puu7rcgdbx");
    expect(msg).not.toContain(sshd.clientKey.split("\n")[1]);
    expect(msg).toContain("SWMTKN-[REDACTED]");
  });

  it("turns a connection reset during a command into an error, not a crash", async () => {
    session = await connect(target, sshd.clientKey);
    const marker = `sleep 30.${process.pid}`;
    const running = session.run(marker, { timeoutMs: 20_000 });
    // The command runs on the node before its connection is cut: a fact, not a fixed pause.
    expect(await waitFor(() => isRunning(marker), KILL_SEEN_MS)).toBe(true);
    // Kill the per-connection sshd processes (children of the listener), not the listener itself.
    execFileSync("sh", ["-c", `pkill -KILL -P ${server?.pid}`]);
    await expect(running).rejects.toThrow(/node-a/);
    expect(session.isOpen()).toBe(false);
    await expect(session.run("true")).rejects.toThrow(/connection to node-a is closed/);
  });
});
