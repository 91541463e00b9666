import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { withLock } from "../../local/vm/lock";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vm-lock-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("the VM bed's lock file", () => {
  it("runs holders one after another, within one process", async () => {
    const file = path.join(tmp, "a.lock");
    const events: string[] = [];
    const holder = (name: string) =>
      withLock(file, 10_000, "test", async () => {
        events.push(`${name} in`);
        await new Promise((r) => setImmediate(r));
        events.push(`${name} out`);
      });
    await Promise.all([holder("1"), holder("2"), holder("3")]);
    expect(events).toEqual(["1 in", "1 out", "2 in", "2 out", "3 in", "3 out"]);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("takes over a lock whose owner died (a crashed build), and waits for a live one", async () => {
    const file = path.join(tmp, "b.lock");
    const dead = spawnSync("/bin/true").pid as number;
    fs.writeFileSync(file, `${dead}\n`);
    await expect(withLock(file, 5_000, "test", async () => "ran")).resolves.toBe("ran");

    const live = spawn("/bin/sleep", ["30"]);
    try {
      fs.writeFileSync(file, `${live.pid}\n`);
      await expect(withLock(file, 300, "building image x", async () => "ran")).rejects.toThrow(
        /building image x: still locked by another process .* owner pid \d+/,
      );
    } finally {
      live.kill();
      fs.rmSync(file, { force: true });
    }
  });

  it("releases the lock when the holder throws", async () => {
    const file = path.join(tmp, "c.lock");
    await expect(withLock(file, 1_000, "test", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(fs.existsSync(file)).toBe(false);
    await expect(withLock(file, 1_000, "test", async () => 1)).resolves.toBe(1);
  });
});
