/**
 * A node whose firewall unit failed at boot keeps dockerd down (docker.service Requires= it):
 * bootstrap and verify must name the unit, not time out on "docker does not answer". The script is
 * run by the real /bin/sh here (this host has no systemd, so it must add nothing); on a real systemd
 * guest it is exercised by the VM chaos test (test/chaos/cloud-init-fails-closed-vm.test.ts).
 */
import { spawnSync } from "child_process";
import { FIREWALL_UNIT } from "../../hostfw/script";
import { judgeHost, parseProbe } from "../../hostfw/probe";
import {
  FAILED_UNIT_MARK,
  failedUnitsError,
  parseFailedUnits,
  probeWithFailedUnits,
  withoutFailedUnits,
} from "../../transport/failed-units";

const sh = (script: string) => spawnSync("/bin/sh", ["-c", script], { encoding: "utf8" });

describe("naming the unit that keeps dockerd down", () => {
  it("keeps the probe's own output and exit status, with or without a failure", () => {
    const ok = sh(probeWithFailedUnits("echo 20.10.24"));
    expect([ok.status, ok.stdout]).toEqual([0, "20.10.24\n"]);
    const bad = sh(probeWithFailedUnits("echo 'Cannot connect to the Docker daemon' >&2; exit 1"));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/Cannot connect/);
    // No /run/systemd/system on this host: nothing to name, so the caller keeps waiting as before.
    expect(parseFailedUnits(bad.stdout)).toEqual([]);
    expect(sh(`${probeWithFailedUnits("false")}`).stdout).not.toContain(FAILED_UNIT_MARK);
  });

  it("reads the failed unit and its last journal lines, and names both the node and the unit", () => {
    const out = [
      "something the probe printed",
      `${FAILED_UNIT_MARK} ${FIREWALL_UNIT}`,
      `${FAILED_UNIT_MARK}| hcloud-swarm-firewall: iptables-restore refused the rule set`,
      `${FAILED_UNIT_MARK}| Failed to start ${FIREWALL_UNIT}.`,
    ].join("\n");
    const failed = parseFailedUnits(out);
    expect(failed).toEqual([
      {
        unit: FIREWALL_UNIT,
        journal: ["hcloud-swarm-firewall: iptables-restore refused the rule set", `Failed to start ${FIREWALL_UNIT}.`],
      },
    ]);
    const msg = failedUnitsError("worker-1", failed);
    expect(msg).toMatch(
      new RegExp(
        `^dockerd cannot run on worker-1: ${FIREWALL_UNIT.replace(".", "\\.")} failed \\(systemctl is-failed\\)`,
      ),
    );
    expect(msg).toContain("refused the rule set");
    expect(msg).toContain(`systemctl start ${FIREWALL_UNIT} docker.service`);
    expect(withoutFailedUnits(out)).toBe("something the probe printed");
  });

  it("says nothing when no unit failed, so a slow dockerd is still waited for", () => {
    expect(failedUnitsError("worker-1", parseFailedUnits("Cannot connect to the Docker daemon\n"))).toBeUndefined();
  });

  it("verify names a failed unit as the reason dockerd cannot run, and an inactive one as before", () => {
    const probe = (state: string) =>
      parseProbe(["== hcloud-swarm-probe systemd", "yes", "== hcloud-swarm-probe unit", "enabled", state].join("\n"));
    const unit = (state: string) => judgeHost(probe(state), { members: [] }).find((c) => c.what === "firewall unit");
    expect(unit("failed")).toEqual({
      status: "fail",
      what: "firewall unit",
      detail: expect.stringMatching(
        /failed \(systemctl is-failed\), so dockerd, which Requires= it, cannot run on this node/,
      ),
    });
    expect(unit("inactive")?.detail).toMatch(/is enabled\/inactive: see journalctl/);
    expect(unit("active")?.status).toBe("pass");
  });
});
