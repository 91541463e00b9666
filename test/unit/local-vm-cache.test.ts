import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { waitFor } from "../../common/time";
import {
  imagesToPrune,
  KEEP_RECENT_IMAGES,
  LAST_USED_FILE,
  PRUNE_GRACE_MS,
  pruneCache,
} from "../../local/vm/guest-disk-cache";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vm-cache-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOUR = 3_600_000;
const hash = (n: number) => n.toString(16).padStart(16, "0");

describe("which guest images are pruned", () => {
  const now = 1_000 * HOUR;
  const img = (n: number, hoursAgo: number) => ({ hash: hash(n), lastUsed: now - hoursAgo * HOUR, bytes: 1 });

  it("keeps the most recently used few and removes the older ones", () => {
    const images = [img(1, 50), img(2, 40), img(3, 30), img(4, 20), img(5, 10)];
    expect(KEEP_RECENT_IMAGES).toBe(3);
    expect(imagesToPrune(images, new Set(), now).map((i) => i.hash)).toEqual([hash(1), hash(2)]);
  });

  it("never removes an image in use, nor one used within the grace period, however old the others", () => {
    const images = [img(1, 50), img(2, 40), img(3, 0.5), img(4, 20), img(5, 10), img(6, 9)];
    expect(PRUNE_GRACE_MS).toBe(HOUR);
    // 3 is the newest (kept anyway); 1 is in use; with keep=1, 2, 4 and 5 go, 6 is kept only if within grace.
    expect(imagesToPrune(images, new Set([hash(1)]), now, 1).map((i) => i.hash)).toEqual([
      hash(2),
      hash(4),
      hash(5),
      hash(6),
    ]);
    expect(imagesToPrune(images, new Set([hash(1)]), now, 1, 9.5 * HOUR).map((i) => i.hash)).toEqual([
      hash(2),
      hash(4),
      hash(5),
    ]);
  });
});

describe("pruning a cache directory", () => {
  it("removes unused old images and leftovers of dead processes, and keeps what a live process boots from", async () => {
    const cache = path.join(tmp, "cache");
    const old = (Date.now() - 10 * PRUNE_GRACE_MS) / 1000;
    for (let n = 1; n <= 6; n++) {
      const dir = path.join(cache, hash(n));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "recipe.json"), "{}\n");
      fs.writeFileSync(path.join(dir, "vmlinuz"), "kernel");
      fs.writeFileSync(path.join(dir, LAST_USED_FILE), "x\n");
      fs.utimesSync(path.join(dir, LAST_USED_FILE), old - n * 60, old - n * 60); // 1 is the most recently used
    }
    fs.mkdirSync(path.join(cache, `${hash(9)}.build-${spawnSync("/bin/true").pid}`));
    fs.mkdirSync(path.join(cache, `tar-${spawnSync("/bin/true").pid}-abc`));
    fs.writeFileSync(path.join(cache, `accel-00000000-0000-0000-0000-000000000000-${hash(1)}.json`), "{}");
    const bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    fs.writeFileSync(path.join(cache, `accel-${bootId}-${hash(1)}.json`), "{}");
    fs.writeFileSync(path.join(cache, `accel-${bootId}-${hash(6)}.json`), "{}");
    // A live process whose command line names image 6's kernel, as a VM's qemu does (-kernel …/vmlinuz).
    const kernel = path.join(cache, hash(6), "vmlinuz");
    const user = spawn("tail", ["-f", kernel], { stdio: "ignore" });
    const building = spawn("sleep", ["30"], { stdio: "ignore" });
    fs.mkdirSync(path.join(cache, `${hash(8)}.build-${building.pid}`));
    try {
      expect(await waitFor(() => fs.readFileSync(`/proc/${user.pid}/cmdline`, "utf8").includes(kernel), 5_000)).toBe(
        true,
      );
      const removed = pruneCache(cache, hash(5));
      const left = fs.readdirSync(cache).sort();
      // Kept: 1–3 (most recent), 5 (being opened), 6 (in use), the live build, this boot's probe of image 1.
      expect(left).toEqual(
        [
          hash(1),
          hash(2),
          hash(3),
          hash(5),
          hash(6),
          `${hash(8)}.build-${building.pid}`,
          `accel-${bootId}-${hash(1)}.json`,
          `accel-${bootId}-${hash(6)}.json`,
        ].sort(),
      );
      expect(removed.join("\n")).toMatch(new RegExp(`guest image ${hash(4)} \\(0\\.0 GiB, last used `));
      expect(removed.join("\n")).toMatch(/\.build-\d+ \(left by process \d+, which is gone\)/);
      expect(removed).toHaveLength(4);
    } finally {
      user.kill();
      building.kill();
    }
  });
});
