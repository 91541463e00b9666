/**
 * Hosts where cloud-init is installed but never runs, or is disabled, must not stall bootstrap.
 * Debian's real cloud-init is put on single nodes' PATH (unpacked aside, never on the host's);
 * first it is shown that its own `status --wait` would block there, then bootstrap forms the swarm
 * and says what it found on each node.
 */
import { spawnSync } from "child_process";
import { useBedFixture } from "../support/bed-fixture";
import { expectSuccess, members, runCli } from "./bootstrap-helpers";

const bed = useBedFixture({ name: "bootstrap-cloud-init", nodes: 3, managers: 1 });

describe("bootstrap on hosts where cloud-init is installed but not running", () => {
  afterAll(async () => {
    for (const n of ["manager-1", "worker-1", "worker-2"])
      await bed()
        .cloudInit(n, "absent")
        .catch(() => undefined);
  });

  it("puts the real cloud-init on the chosen nodes only, where its own --wait would block", async () => {
    await bed().cloudInit("manager-1", "not-run");
    await bed().cloudInit("worker-1", "not-run");
    await bed().cloudInit("worker-2", "disabled");
    // Not on the host, and not on a node that was not given it.
    expect(spawnSync("sh", ["-c", "command -v cloud-init"]).status).not.toBe(0);
    expect((await bed().ssh("manager-1", "cloud-init status --long")).stdout).toMatch(/^status: not run$/m);
    expect((await bed().ssh("worker-2", "cloud-init status --long")).stdout).toMatch(/^status: disabled$/m);
    // What used to stall bootstrap: still waiting after 5 s (timeout's exit 124), and it would wait forever.
    expect((await bed().ssh("worker-1", "timeout 5 cloud-init status --wait >/dev/null; echo $?")).stdout.trim()).toBe(
      "124",
    );
  });

  it("forms the swarm without waiting for them, saying what it found on each node", async () => {
    const run = await runCli(bed().inventoryPath);
    expectSuccess(run);
    expect(run.output).toContain(
      "[manager-1] cloud-init is installed but has not run in this boot, and no cloud-init process or job is pending (enabled-by-sysvinit; Cloud-init enabled on sysvinit); not waiting for it",
    );
    expect(run.output).toContain("[worker-1] cloud-init is installed but has not run in this boot");
    expect(run.output).toContain(
      "[worker-2] cloud-init is installed but disabled (disabled-by-generator; Cloud-init disabled by cloud-init-generator); not waiting for it",
    );
    const ms = await members(bed(), "manager-1");
    expect(ms.map((m) => [m.hostname, m.status]).sort()).toEqual([
      ["manager-1", "ready"],
      ["worker-1", "ready"],
      ["worker-2", "ready"],
    ]);
  });
});
