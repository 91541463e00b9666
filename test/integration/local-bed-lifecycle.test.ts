/**
 * The failure primitives other suites build on: a late sshd, dropped SSH connections, a stopped
 * dockerd, a power cut, and a node added to a running bed. Each is observed from outside, over SSH.
 */
import { spawn } from "child_process";
import { loadInventory, validateInventory } from "../../inventory/inventory";
import { waitFor } from "../../common/time";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

const bed = useBedFixture({ name: "local-bed-lifecycle", nodes: 2, managers: 1 });

describe("local test bed node lifecycle", () => {
  it("starts sshd late when asked, refusing connections until then", async () => {
    await bed().stopSshd("worker-1");
    expect((await bed().ssh("worker-1", "true")).stderr).toMatch(/refused/i);
    const t = Date.now();
    await bed().startSshd("worker-1", { delayMs: 3_000 });
    expect((await bed().ssh("worker-1", "true")).code).not.toBe(0);
    expect(await waitFor(async () => (await bed().ssh("worker-1", "true")).code === 0, 15_000, 200)).toBe(true);
    expect(Date.now() - t).toBeGreaterThanOrEqual(3_000);
  });

  it("drops open SSH connections mid-run while new ones still work", async () => {
    const n = bed().node("manager-1");
    const client = spawn(
      "ssh",
      [
        "-i",
        bed().privateKeyPath,
        "-o",
        `UserKnownHostsFile=${bed().knownHostsPath}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        `root@${n.host}`,
        "sleep 120",
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => client.on("exit", (code) => resolve(code)));
    expect(await waitFor(() => bed().processes("manager-1").sshSessions.length > 0, 10_000)).toBe(true);
    const t = Date.now();
    expect(await bed().dropSshSessions("manager-1")).toBeGreaterThan(0);
    expect(await exited).toBe(255);
    expect(Date.now() - t).toBeLessThan(10_000);
    expect((await bed().ssh("manager-1", "true")).code).toBe(0);
  });

  it("stops and starts dockerd while sshd stays up", async () => {
    await bed().stopDocker("worker-1");
    const down = await bed().ssh("worker-1", "docker info --format '{{.Name}}'");
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/Cannot connect to the Docker daemon/);
    await bed().startDocker("worker-1");
    expect((await bed().ssh("worker-1", "docker info --format '{{.Name}}'")).stdout.trim()).toBe("worker-1");
  });

  it("survives a power cut with its docker data, like a server that reboots", async () => {
    expect((await bed().exec("manager-1", `docker create --name survivor ${LOCAL_IMAGE} true`)).code).toBe(0);
    await bed().powerOff("manager-1");
    expect(bed().processes("manager-1").all).toEqual([]);
    expect((await bed().ssh("manager-1", "true")).code).not.toBe(0);
    await bed().powerOn("manager-1");
    const r = await bed().ssh("manager-1", "docker ps -a --format '{{.Names}}'");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("survivor");
  });

  it("adds a worker to the running bed and to the inventory", async () => {
    const added = await bed().addNode("worker");
    expect(added.name).toBe("worker-2");
    const onDisk = validateInventory(loadInventory(bed().inventoryPath));
    expect(onDisk.nodes.map((n) => n.name)).toEqual(["manager-1", "worker-1", "worker-2"]);
    const r = await bed().ssh("worker-2", `hostname; docker image inspect ${LOCAL_IMAGE} --format ok`);
    expect(r.stdout.trim().split("\n")).toEqual(["worker-2", "ok"]);
  });
});
