/**
 * Conditions on the namespace bed, judged by what the nodes really do: pings counted by busybox,
 * CPU time counted by the kernel, SSH handshakes that do or do not complete. The conditions are
 * set through the same code as `hcloud-swarm local shape`, and the CLI is run once as a user would.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import * as fs from "fs";
import { waitFor } from "../../common/time";
import { probeNetem } from "../../local/ns/kernel";
import { useBedFixture } from "../support/bed-fixture";

const bed = useBedFixture({ name: "local-bed-shape", nodes: 3, managers: 1 });
const BIN = path.resolve(__dirname, "../../bin/hcloud-swarm.js");
/** Enough pings that a 20% loss lands within 8–35% with overwhelming probability (σ ≈ 2%). */
const PINGS = 400;
/** A command over SSH starts within seconds even on a loaded host; longer means the bed is broken. */
const SESSION_START_MS = 30_000;

/** A process's state letter from /proc ("T" = stopped). */
function procState(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0];
}

/** Percent of `PINGS` echo requests from the node (or the host, node undefined) to `ip` that got no reply. */
async function pingLoss(from: string | undefined, ip: string): Promise<number> {
  const cmd = `busybox ping -q -c ${PINGS} -i 0.005 -W 2 ${ip} | sed -n 's/.* \\([0-9]*\\) packets received.*/\\1/p'`;
  const r = from ? await bed().exec(from, cmd) : spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  const received = Number(r.stdout.trim());
  if (r.stdout.trim() === "" || Number.isNaN(received))
    throw new Error(`no ping summary from ${from ?? "the host"}: ${r.stdout} ${r.stderr}`);
  return ((PINGS - received) / PINGS) * 100;
}

describe("conditions on the namespace bed (local shape)", () => {
  it("drops a share of the packets arriving at one node from the other nodes, never the host's", async () => {
    const w2 = bed().node("worker-2").host;
    expect(await bed().shape("worker-2", { lossPercent: 20, lossDirection: "in" })).toEqual([
      { node: "worker-2", detail: "loss in 20% (was 0%)" },
    ]);
    expect((await bed().readShape("worker-2")).lossInPercent).toBe(20);
    const between = await pingLoss("worker-1", w2);
    expect(between).toBeGreaterThan(8);
    expect(between).toBeLessThan(35);
    expect(await pingLoss(undefined, w2)).toBe(0);
    // Idempotent: asking again changes nothing.
    expect(await bed().shape("worker-2", { lossPercent: 20, lossDirection: "in" })).toEqual([]);
  });

  it("drops only what leaves the node with direction out, and lifts it with 0", async () => {
    const w1 = bed().node("worker-1").host;
    await bed().shape("worker-2", { lossPercent: 0 });
    await bed().shape("worker-1", { lossPercent: 20, lossDirection: "out" });
    // worker-2 → worker-1: the requests arrive, worker-1's replies are dropped on the way out.
    const replies = await pingLoss("worker-2", w1);
    expect(replies).toBeGreaterThan(8);
    expect(replies).toBeLessThan(35);
    expect(await bed().shape("worker-1", { lossPercent: 0 })).toEqual([
      { node: "worker-1", detail: "loss out 0% (was 20%)" },
    ]);
    expect(await pingLoss("worker-2", w1)).toBe(0);
    expect((await bed().exec("worker-1", "iptables -S | grep -c HSW-LOSS")).stdout.trim()).toBe("0");
  });

  it("caps a node's CPU: a busy loop in it gets at most its share of a core", async () => {
    await bed().shape("worker-1", { cpuPercent: 20 });
    expect((await bed().readShape("worker-1")).cpuPercent).toBe(20);
    // `times` prints the CPU time of the shell's children: 2 s of wall time at 20% is 0.4 s.
    const r = await bed().exec("worker-1", "timeout 2 sh -c 'while :; do :; done'; times");
    const [user, sys] = r.stdout
      .trim()
      .split("\n")[1]
      .split(/\s+/)
      .map((t) => Number(/(\d+)m([\d.]+)s/.exec(t)?.[1]) * 60 + Number(/(\d+)m([\d.]+)s/.exec(t)?.[2]));
    expect(user + sys).toBeGreaterThan(0);
    expect(user + sys).toBeLessThan(0.6);
    await bed().shape("worker-1", { cpuPercent: null });
    expect((await bed().readShape("worker-1")).cpuPercent).toBeUndefined();
  });

  it("freezes a node like a stalled VM: no SSH handshake, then thaws it and SSH answers again", async () => {
    expect(await bed().shape("worker-1", { frozen: true })).toEqual([{ node: "worker-1", detail: "frozen" }]);
    const frozen = await bed().ssh("worker-1", "true");
    expect(frozen.code).not.toBe(0);
    expect(frozen.stderr).toMatch(/timed out|Connection timed out/i);
    await expect(bed().shape("worker-1", { sshStalled: true })).rejects.toThrow(/worker-1 is frozen: thaw it/);
    expect(await bed().shape("worker-1", { frozen: false })).toEqual([{ node: "worker-1", detail: "thawed" }]);
    expect((await bed().ssh("worker-1", "echo back")).stdout.trim()).toBe("back");
  });

  it("stalls sshd: open sessions hang and new ones get no handshake until it resumes", async () => {
    const marker = "/tmp/hsw-stall-probe";
    const seen = async (what: string) => (await bed().exec("worker-2", `test -e ${marker}.${what}`)).code === 0;
    await bed().exec("worker-2", `rm -f ${marker}.started ${marker}.done`);
    const session = bed().ssh("worker-2", `touch ${marker}.started; sleep 1; touch ${marker}.done; echo finished`);
    let ended = false;
    void session.then(() => (ended = true));
    // The session is open and its command running before sshd stalls: a fact, not a fixed pause.
    expect(await waitFor(() => seen("started"), SESSION_START_MS)).toBe(true);
    const acts = await bed().shape("worker-2", { sshStalled: true });
    expect(acts.map((a) => a.detail)[0]).toMatch(/^sshd stalled \([1-9]\d* open session\(s\) stalled too\)$/);
    expect((await bed().readShape("worker-2")).sshStalled).toBe(true);
    const fresh = await bed().ssh("worker-2", "true");
    expect(fresh.code).not.toBe(0);
    // The command has finished on the node, but its session's sshd is stopped, so the output is
    // held back: the session has not ended (checked after the event loop had its turn).
    expect(await waitFor(() => seen("done"), SESSION_START_MS)).toBe(true);
    const sessions = bed().processes("worker-2").sshSessions;
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.map(procState)).toEqual(sessions.map(() => "T"));
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    await bed().shape("worker-2", { sshStalled: false });
    expect((await session).stdout.trim()).toBe("finished");
    expect(ended).toBe(true);
    expect((await bed().ssh("worker-2", "echo ok")).stdout.trim()).toBe("ok");
  });

  it("powers off a frozen node (teardown thaws first) and brings it back", async () => {
    await bed().shape("worker-1", { frozen: true, cpuPercent: 20 });
    await bed().powerOff("worker-1");
    expect(bed().processes("worker-1").all).toEqual([]);
    await bed().clearShape();
    await bed().powerOn("worker-1");
    expect((await bed().ssh("worker-1", "docker info --format '{{.ServerVersion}}'")).code).toBe(0);
  });

  it("says latency is unavailable instead of faking it, and the CLI shows what is in force", async () => {
    const netem = await probeNetem();
    await expect(bed().shape("worker-1", { delayMs: 25, jitterMs: 5 })).rejects.toThrow(
      netem.available ? /does not add latency/ : /cannot add latency: this kernel has no netem/,
    );
    await bed().shape("manager-1", { cpuPercent: 50, lossPercent: 1, lossDirection: "both" });
    const r = spawnSync("node", [BIN, "local", "shape", "--dir", bed().dir], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^manager-1\s+1%\s+1%\s+50% of a core\s+no\s+ok\s+/m);
    expect(r.stdout).toMatch(/^worker-1\s+0%\s+0%\s+uncapped\s+no\s+ok\s+/m);
    const bad = spawnSync(
      "node",
      [BIN, "local", "shape", "all", "--loss", "2%; reboot", "--cpu", "0", "--dir", bed().dir],
      { encoding: "utf8" },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`--loss must be a percentage from 0 to 100 (e.g. --loss 2%), got "2%; reboot"`);
    expect(bad.stderr).toContain(`--cpu must be a percentage`);
    await bed().clearShape();
  });
});
