/**
 * `local down` leaves the machine as it was, and `local up` recovers from a crashed run. Both look
 * at the host itself (namespaces, links, rules, cgroups, mounts, processes), not at the bed's own state.
 */
import * as fs from "fs";
import * as path from "path";
import { hostHierarchies } from "../../local/ns/cgroups";
import { listLinks, listNetns } from "../../local/ns/network";
import { isBedLink, isBedNetns } from "../../local/ns/plan";
import { run } from "../../local/common/host-command";
import { downBedFixture, LOCAL_IMAGE, startBedFixture, BedFixture } from "../support/bed-fixture";

const NAME = "local-bed-teardown";

interface Footprint {
  readonly netns: string[];
  readonly links: string[];
  readonly rules: string[];
  readonly cgroups: string[];
  readonly mounts: string[];
  readonly etcNetns: string[];
}

async function footprint(k: number, dir: string): Promise<Footprint> {
  const mark = new RegExp(`hsw${k}(?![0-9])`);
  const rules = (await run("iptables", ["-w", "-S"])).stdout.split("\n").filter((l) => mark.test(l));
  let etcNetns: string[] = [];
  try {
    etcNetns = fs.readdirSync("/etc/netns").filter((n) => isBedNetns(n, k));
  } catch {
    // No /etc/netns at all: nothing of ours.
  }
  return {
    netns: listNetns().filter((n) => isBedNetns(n, k)),
    links: listLinks().filter((l) => isBedLink(l, k)),
    rules,
    cgroups: hostHierarchies()
      .map((h) => path.join(h.mountpoint, `hsw${k}`))
      .filter((d) => fs.existsSync(d)),
    mounts: fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.includes(dir)),
    etcNetns,
  };
}

const EMPTY: Footprint = { netns: [], links: [], rules: [], cgroups: [], mounts: [], etcNetns: [] };

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function bedNumber(bed: BedFixture): number {
  return Number(bed.gateway.split(".")[2]);
}

function allPids(bed: BedFixture): number[] {
  return bed.inventory.nodes.flatMap((n) => [...bed.processes(n.name).all]);
}

describe("local test bed teardown", () => {
  afterAll(() => downBedFixture(NAME), 120_000);

  it("leaves no namespace, process, mount, bridge, cgroup or iptables rule behind", async () => {
    const bed = await startBedFixture({ name: NAME, nodes: 2, managers: 1 });
    const k = bedNumber(bed);
    expect((await bed.exec("worker-1", `docker run -d ${LOCAL_IMAGE} sleep 600`)).code).toBe(0);
    const outsider = await bed.outsider();
    await outsider.exec("sleep 600 >/dev/null 2>&1 &");
    const pids = allPids(bed);
    expect(pids.length).toBeGreaterThanOrEqual(8); // 2 × (dockerd, containerd, sshd) + shim + container
    const before = await footprint(k, bed.dir);
    expect(before.netns.length).toBe(3);
    expect(before.links.length).toBeGreaterThanOrEqual(4);
    expect(before.rules.length).toBeGreaterThanOrEqual(3);
    expect(before.cgroups.length).toBeGreaterThan(0);
    expect(before.mounts.length).toBeGreaterThan(0);

    await bed.down();

    expect(await footprint(k, bed.dir)).toEqual(EMPTY);
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(bed.dir, "state.json"))).toBe(false);
    expect(fs.existsSync(path.join(bed.dir, "inventory.json"))).toBe(false);
  });

  it("comes up again after a crashed run whose daemons were SIGKILLed and whose state was lost", async () => {
    const first = await startBedFixture({ name: NAME, nodes: 2, managers: 1 });
    const oldK = bedNumber(first);
    const oldPids = allPids(first);
    for (const pid of oldPids) process.kill(pid, "SIGKILL");
    fs.rmSync(path.join(first.dir, "state.json"));
    fs.rmSync(path.join(first.dir, "inventory.json"));
    expect((await footprint(oldK, first.dir)).netns.length).toBe(2);

    const second = await startBedFixture({ name: NAME, nodes: 2, managers: 1 });
    const newK = bedNumber(second);
    // The new bed may reuse the number; if it did not, nothing of the old one may remain.
    if (newK !== oldK) expect({ ...(await footprint(oldK, first.dir)), mounts: [] }).toEqual(EMPTY);
    for (const n of second.inventory.nodes) {
      const r = await second.ssh(n.name, "docker info --format '{{.Name}}'");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(n.name);
    }
    await second.down();
    expect(await footprint(newK, second.dir)).toEqual(EMPTY);
    expect(await footprint(oldK, second.dir)).toEqual(EMPTY);
  });
});
