/**
 * The scheduled backup's unit text, judged by systemd's own verifier (systemd-analyze verify) when
 * this host has it, and its script by the shell's parser; the options' refusals name the flag.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawnSync } from "child_process";
import { scheduleFiles, scheduleProblems, SCRIPT_PATH, SKIPPED_EXIT, UNIT } from "../../../recovery/schedule";

const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

describe("backup --schedule", () => {
  const o = { cluster: "demo", keep: 5, onCalendar: "*-*-* 03:00:00" };

  it("writes a timer and a oneshot service that systemd-analyze verify accepts", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-schedule-"));
    try {
      const f = scheduleFiles(o);
      const script = path.join(dir, "backup-local.sh");
      fs.writeFileSync(script, f.script, { mode: 0o700 });
      // The verifier checks that ExecStart is executable: point it at the script as written here.
      fs.writeFileSync(path.join(dir, `${UNIT}.service`), f.service.replace(SCRIPT_PATH, script));
      fs.writeFileSync(path.join(dir, `${UNIT}.timer`), f.timer);
      expect(f.service).toMatch(new RegExp(`^ExecStart=${SCRIPT_PATH}$`, "m"));
      expect(f.service).toMatch(new RegExp(`^SuccessExitStatus=${SKIPPED_EXIT}$`, "m"));
      expect(f.timer).toMatch(/^OnCalendar=\*-\*-\* 03:00:00$/m);
      expect(f.script).toMatch(/tail -n \+6 \| xargs -r rm -f/);
      execFileSync("sh", ["-n", script]);
      if (!analyze) {
        console.log("systemd-analyze is not on this host: the unit text was not verified by systemd");
        return;
      }
      const r = spawnSync(
        "systemd-analyze",
        ["verify", "--man=no", path.join(dir, `${UNIT}.service`), path.join(dir, `${UNIT}.timer`)],
        { encoding: "utf8" },
      );
      // Messages about other units of the host are not this file's; everything naming ours is.
      const ours = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes(UNIT) || l.includes(dir));
      expect({ status: r.status, ours }).toEqual({ status: 0, ours: [] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("systemd-analyze verify catches a broken unit (the check can fail)", () => {
    if (!analyze) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-schedule-"));
    try {
      fs.writeFileSync(
        path.join(dir, `${UNIT}.timer`),
        scheduleFiles(o).timer.replace("OnCalendar=", "OnCalendar=nonsense "),
      );
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", path.join(dir, `${UNIT}.timer`)], {
        encoding: "utf8",
      });
      expect(`${r.stdout}${r.stderr}`).toMatch(/OnCalendar|calendar/i);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses options systemd or a file name would not take, naming the flag", () => {
    expect(scheduleProblems({ cluster: "demo", keep: 0, onCalendar: "daily; rm -rf /" })).toEqual([
      "--keep 0 must be a whole number from 1 to 1000",
      '--on-calendar "daily; rm -rf /" is not a systemd calendar expression such as daily or "*-*-* 03:00:00"',
    ]);
    expect(scheduleProblems({ cluster: "../x", keep: 3, onCalendar: "daily" })).toEqual([
      'the cluster name "../x" cannot name a file',
    ]);
  });
});
