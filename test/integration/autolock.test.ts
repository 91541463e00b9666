/**
 * Autolock, unlock and rotation through the CLI on one namespace bed (3 managers, 1 worker), in
 * sequence: bootstrap turns autolock on and keeps the key; a join rotates the tokens it used (the old
 * one is refused by a real join); a restarted manager stays locked, verify names it, bootstrap opens
 * it; with every manager restarted, bootstrap without the key names each, unlock refuses a wrong key
 * and opens them with the kept one; rotate --unlock-key keeps the new key
 * and a restart opens with it; a backup of the locked swarm needs its key, and restore refuses a wrong one.
 */
import * as fs from "fs";
import * as path from "path";
import { useBedFixture } from "../support/bed-fixture";
import { hcloudSwarm } from "../support/cli";

jest.setTimeout(300_000);
const bed = useBedFixture({ name: "autolock", nodes: 4, managers: 3 });
const work = () => path.join(bed().dir, "autolock-test");
const keyFile = () => path.join(work(), "unlock.key");
const managersOnly = () => path.join(work(), "managers.json");

async function sh(node: string, script: string): Promise<string> {
  const r = await bed().exec(node, script);
  if (r.code !== 0) throw new Error(`${script} on ${node} failed: ${r.stderr}`);
  return r.stdout.trim();
}
const state = (node: string) => sh(node, "docker info --format '{{.Swarm.LocalNodeState}}'");
const liveKey = () => sh("manager-1", "docker swarm unlock-key -q");
/** The user's journey: bootstrap with autolock on and the key kept in the test's own file. */
const bootstrap = (inventory: string, ...extra: string[]) =>
  hcloudSwarm(["bootstrap", "--inventory", inventory, "--autolock", "--unlock-key-file", keyFile(), ...extra]);
/** A manager restarts: every process of it stops and starts again, its disk kept. */
async function restart(node: string): Promise<void> {
  await bed().powerOff(node);
  await bed().powerOn(node);
}
function writeKeys(name: string, keys: readonly string[]): string {
  const f = path.join(work(), name);
  fs.writeFileSync(f, keys.map((k) => `${k}\n`).join(""), { mode: 0o600 });
  return f;
}

describe("autolock, unlock and rotation on the namespace bed", () => {
  beforeAll(() => {
    fs.rmSync(work(), { recursive: true, force: true });
    fs.mkdirSync(work(), { recursive: true });
    const inv = bed().inventory;
    fs.writeFileSync(managersOnly(), JSON.stringify({ ...inv, nodes: inv.nodes.filter((n) => n.role === "manager") }));
  });

  it("turns autolock on in place, keeps the key in a 0600 file, prints it nowhere; a second run changes nothing", async () => {
    const run = await bootstrap(managersOnly());
    if (run.code !== 0) throw new Error(run.out);
    expect(run.out).toMatch(/manager-1 +autolock +autolock turned on/);
    expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
    const key = await liveKey();
    expect(fs.readFileSync(keyFile(), "utf8")).toBe(`${key}\n`);
    expect(run.out).not.toContain(key);
    expect(run.out).not.toMatch(/SWMKEY-1-[A-Za-z0-9+/=]{8}/);
    const again = await bootstrap(managersOnly());
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/no changes: the swarm already matches the inventory/);
  });

  it("rotates the join token a run used after its join: the old token is refused by a real join; --no-rotate-join-tokens keeps it", async () => {
    const old = await sh("manager-1", "docker swarm join-token -q worker");
    const managerToken = await sh("manager-1", "docker swarm join-token -q manager");
    const run = await bootstrap(bed().inventoryPath);
    if (run.code !== 0) throw new Error(run.out);
    expect(run.out).toMatch(/worker-1 +join +joined as worker/);
    expect(run.out).toMatch(/join tokens rotated after the joins \(worker\)/);
    const now = await sh("manager-1", "docker swarm join-token -q worker");
    expect(now).not.toBe(old);
    // Only the role that was used: the manager token is as it was.
    expect(await sh("manager-1", "docker swarm join-token -q manager")).toBe(managerToken);
    for (const t of [old, now]) expect(run.out).not.toContain(t);

    // A real join with the old token, by a node that left: refused by the managers.
    const addr = bed().inventory.nodes.find((n) => n.name === "manager-1")?.advertiseAddress;
    await sh("worker-1", "docker swarm leave --force");
    const join = await bed().exec("worker-1", `docker swarm join --token ${old} ${addr}:2377`);
    expect(join.code).not.toBe(0);
    expect(join.stderr).toMatch(/A valid join token is necessary to join this cluster/);
    expect(await state("worker-1")).toBe("inactive");

    // Until the leader has seen worker-1 go, it lists it as ready and a run has nothing to join (seen on a loaded bed).
    await sh(
      "manager-1",
      `for i in $(seq 1 120); do s=$(docker node ls --filter name=worker-1 --format '{{.Status}}'); [ "$s" = Ready ] || exit 0; sleep 0.5; done; exit 1`,
    );
    const keep = await bootstrap(bed().inventoryPath, "--no-rotate-join-tokens");
    if (keep.code !== 0) throw new Error(keep.out);
    expect(keep.out).toMatch(/worker-1 +join +joined as worker/);
    expect(keep.out).not.toMatch(/join tokens rotated/);
    expect(await sh("manager-1", "docker swarm join-token -q worker")).toBe(now);
  });

  it("a restarted manager stays locked: verify names it (text and --json), bootstrap unlocks it with the kept key", async () => {
    await restart("manager-2");
    expect(await state("manager-2")).toBe("locked");
    const text = await hcloudSwarm(["verify", "--inventory", bed().inventoryPath]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(
      /FAIL +node manager-2: swarm unlocked: manager-2 is a locked swarm manager .*hcloud-swarm unlock --inventory FILE/,
    );
    const json = await hcloudSwarm(["verify", "--inventory", bed().inventoryPath, "--json"]);
    const doc = JSON.parse(json.stdout) as { checks: { status: string; subject: string; what: string }[] };
    expect(doc.checks.filter((c) => c.what === "swarm unlocked")).toEqual([
      expect.objectContaining({ status: "fail", subject: "node manager-2" }),
    ]);

    const run = await bootstrap(bed().inventoryPath);
    if (run.code !== 0) throw new Error(run.out);
    expect(run.out).toMatch(/manager-2 +unlock +was locked \(autolock\); unlocked with the key kept in /);
    expect(await state("manager-2")).toBe("active");
  });

  it("after every manager restarted: bootstrap without the key names each locked manager; unlock refuses a wrong key and opens all with the kept one", async () => {
    const managers = ["manager-1", "manager-2", "manager-3"];
    for (const m of managers) await bed().powerOff(m);
    for (const m of managers) await bed().powerOn(m);
    for (const m of managers) expect(await state(m)).toBe("locked");

    const noKey = await hcloudSwarm([
      "bootstrap",
      "--inventory",
      bed().inventoryPath,
      "--unlock-key-file",
      path.join(work(), "absent.key"),
    ]);
    expect(noKey.code).toBe(1);
    for (const m of managers)
      expect(noKey.out).toMatch(new RegExp(`${m} is a locked swarm manager .*hcloud-swarm unlock --inventory FILE`));
    expect(fs.existsSync(path.join(work(), "absent.key"))).toBe(false);

    const wrongFile = writeKeys("wrong.key", ["SWMKEY-1-ap9CUmzQDB2AfqeV31ELMGNAIoPn+wM5R8y5Mi8KqOY"]);
    const wrong = await hcloudSwarm(["unlock", "--inventory", bed().inventoryPath, "--key-file", wrongFile]);
    expect(wrong.code).toBe(1);
    for (const m of managers)
      expect(wrong.out).toMatch(
        new RegExp(`${m} is a locked swarm manager .*none of the 1 unlock key\\(s\\) kept in \\S*wrong.key opens it`),
      );
    expect(wrong.out).toMatch(/unlocked none; 0 of 3 managers open/);
    for (const m of managers) expect(await state(m)).toBe("locked");

    const ok = await hcloudSwarm(["unlock", "--inventory", bed().inventoryPath, "--key-file", keyFile()]);
    if (ok.code !== 0) throw new Error(ok.out);
    expect(ok.out).toMatch(/unlocked manager-1, manager-2, manager-3; 3 of 3 managers open/);
    for (const m of managers) expect(await state(m)).toBe("active");
    const settled = await bootstrap(bed().inventoryPath);
    if (settled.code !== 0) throw new Error(settled.out);
  });

  it("rotate --unlock-key keeps the new key first and the old after it; a restarted manager opens with the new key", async () => {
    const before = await liveKey();
    const run = await hcloudSwarm([
      "rotate",
      "--inventory",
      bed().inventoryPath,
      "--unlock-key",
      "--unlock-key-file",
      keyFile(),
    ]);
    if (run.code !== 0) throw new Error(run.out);
    const after = await liveKey();
    expect(after).not.toBe(before);
    expect(fs.readFileSync(keyFile(), "utf8")).toBe(`${after}\n${before}\n`);
    expect(run.out).not.toContain(after);
    expect(run.out).not.toContain(before);

    await restart("manager-2");
    expect(await state("manager-2")).toBe("locked");
    const onlyNew = writeKeys("new-only.key", [after]);
    const ok = await hcloudSwarm(["unlock", "--inventory", bed().inventoryPath, "--key-file", onlyNew]);
    if (ok.code !== 0) throw new Error(ok.out);
    expect(ok.out).toMatch(/unlocked manager-2/);
    expect(await state("manager-2")).toBe("active");
  });

  it("backs up the locked swarm (refused without its key, the restarted manager unlocked with it); restore refuses a wrong unlock key naming the problem", async () => {
    const backupKey = path.join(work(), "backup.key");
    const refused = await hcloudSwarm([
      "backup",
      "--inventory",
      bed().inventoryPath,
      "--out",
      path.join(work(), "out"),
      "--key-file",
      backupKey,
      "--unlock-key-file",
      path.join(work(), "wrong.key"),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      /the swarm is autolocked and no key in \S*wrong.key is its current unlock key: manager-\d would restart locked.*nothing was stopped/,
    );
    const backup = await hcloudSwarm([
      "backup",
      "--inventory",
      bed().inventoryPath,
      "--out",
      path.join(work(), "out"),
      "--key-file",
      backupKey,
      "--unlock-key-file",
      keyFile(),
    ]);
    if (backup.code !== 0) throw new Error(backup.out);
    expect(backup.out).toMatch(/restarted locked \(autolock\); unlocked with the key kept in /);
    const archive = backup.out.trim().split("\n").pop() as string;
    const clusterId = await sh("manager-1", "docker info --format '{{.Swarm.Cluster.ID}}'");
    const restore = (unlockKeyFile: string) =>
      hcloudSwarm([
        "restore",
        "--inventory",
        bed().inventoryPath,
        "--from",
        archive,
        "--key-file",
        backupKey,
        "--unlock-key-file",
        unlockKeyFile,
        "--yes",
        "--force",
      ]);
    const wrong = await restore(
      writeKeys("wrong-restore.key", ["SWMKEY-1-ap9CUmzQDB2AfqeV31ELMGNAIoPn+wM5R8y5Mi8KqOY"]),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(
      /the unlock key\(s\) in \S*wrong-restore.key do not open the restored swarm on manager-\d \(docker: invalid key\)/,
    );

    // Not asserted: the restore with the right key. On this Docker (20.10.24) `docker swarm unlock` of the
    // restored state does not return (it waits for a Raft quorum the lone restored manager cannot have);
    // docs/lab/2026-12-08-s20lock.md. The refusal of a wrong key above is what this test holds.
    expect(clusterId).not.toBe("");
  });
});
