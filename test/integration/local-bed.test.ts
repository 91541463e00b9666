/**
 * The local test bed itself: nodes reachable over real SSH with pinned host keys, each with its own
 * hostname and engine, and the image loaded everywhere.
 */
import * as fs from "fs";
import * as path from "path";
import { validateInventory } from "../../inventory/inventory";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

const bed = useBedFixture({ name: "bed-basic", nodes: 3, managers: 1 });

describe("local test bed with 3 nodes", () => {
  it("writes an inventory that bootstrap's validator accepts, with the first node as manager", () => {
    const inv = validateInventory(JSON.parse(fs.readFileSync(bed().inventoryPath, "utf8")));
    expect(inv.nodes.map((n) => [n.name, n.role])).toEqual([
      ["manager-1", "manager"],
      ["worker-1", "worker"],
      ["worker-2", "worker"],
    ]);
    for (const n of inv.nodes) {
      expect(n.host).toMatch(/^10\.213\.\d+\.\d+$/);
      expect(n.advertiseAddress).toBe(n.host);
      expect(n.hostKey).toMatch(/^ssh-ed25519 /);
      expect(path.isAbsolute(n.privateKeyPath ?? "")).toBe(true);
    }
    expect(new Set(inv.nodes.map((n) => n.hostKey)).size).toBe(3);
    expect(inv.swarm?.defaultAddrPool).toBe("10.214.0.0/16");
  });

  it("lets the inventory key log in over SSH with the pinned host key, and docker info shows the node's own hostname and engine", async () => {
    for (const n of bed().inventory.nodes) {
      const r = await bed().ssh(
        n.name,
        "hostname; docker info --format '{{.Name}} {{.ServerVersion}} {{.Swarm.LocalNodeState}}'",
      );
      expect(r.stderr).not.toMatch(/warning|denied/i);
      expect(r.code).toBe(0);
      const [hostname, info] = r.stdout.trim().split("\n");
      expect(hostname).toBe(n.name);
      const [name, version, swarm] = info.split(" ");
      expect(name).toBe(n.name);
      expect(version).toMatch(/^\d+\.\d+\.\d+/);
      expect(swarm).toBe("inactive");
    }
  });

  it("refuses the SSH connection when the inventory pins another host key", async () => {
    const inv = bed().inventory;
    const wrong = path.join(bed().dir, "wrong_known_hosts");
    // worker-1's address with manager-1's key: a real key, just not this host's.
    fs.writeFileSync(wrong, `${inv.nodes[1].host} ${inv.nodes[0].hostKey}\n`);
    const r = await bed().ssh("worker-1", "true", wrong);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i);
    const right = await bed().ssh("worker-1", "true");
    expect(right.code).toBe(0);
  });

  it("refuses password and keyboard-interactive logins", async () => {
    const n = bed().node("manager-1");
    const { run } = await import("../../local/common/host-command");
    const r = await run(
      "ssh",
      [
        "-o",
        `UserKnownHostsFile=${bed().knownHostsPath}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "ConnectTimeout=5",
        `root@${n.host}`,
        "true",
      ],
      { allowFail: true },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it("has the bed image on every node, and its containers stop at once", async () => {
    for (const n of bed().inventory.nodes) {
      const r = await bed().exec(n.name, `docker image inspect ${LOCAL_IMAGE} --format '{{.Config.StopSignal}}'`);
      expect(r.stdout.trim()).toBe("SIGKILL");
    }
    const started = await bed().exec("worker-1", `docker run -d --name sleeper ${LOCAL_IMAGE} sleep 600`);
    expect(started.code).toBe(0);
    const t = Date.now();
    const stopped = await bed().exec("worker-1", "docker stop -t 30 sleeper && docker rm sleeper");
    expect(stopped.code).toBe(0);
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it("gives every node its own dockerd, so a container on one node is invisible on the others", async () => {
    expect((await bed().exec("worker-2", `docker run -d --name only-here ${LOCAL_IMAGE} sleep 600`)).code).toBe(0);
    expect((await bed().exec("worker-2", "docker ps --format '{{.Names}}'")).stdout).toContain("only-here");
    expect((await bed().exec("worker-1", "docker ps -a --format '{{.Names}}'")).stdout).not.toContain("only-here");
  });
});
