import { CLOUD_INIT_MARK, cloudInitVerdict, describeCloudInit } from "../../transport/cloud-init";

/** The script's output around `cloud-init status --long` text, as waitForNodeReady receives it (plus the probe's line). */
const output = (rc: number, waited: 0 | 1, status: string, probe = "20.10.24") =>
  [
    `${CLOUD_INIT_MARK} rc=${rc} waited=${waited}`,
    ...status.split("\n").map((l) => `${CLOUD_INIT_MARK}| ${l}`),
    probe,
  ].join("\n");

// Printed by Debian 12's cloud-init 22.4.2 (unpacked aside, run against a private /run).
const NOT_RUN_SYSVINIT =
  "status: not run\nboot_status_code: enabled-by-sysvinit\ndetail:\nCloud-init enabled on sysvinit";
const NOT_RUN_GENERATOR =
  "status: not run\nboot_status_code: enabled-by-generator\ndetail:\nCloud-init enabled by systemd cloud-init-generator";
const DISABLED =
  "status: disabled\nboot_status_code: disabled-by-generator\ndetail:\nCloud-init disabled by cloud-init-generator";

describe("reading cloud-init's status instead of waiting blindly", () => {
  it("does not wait for a cloud-init that is installed but never ran, and says so", () => {
    const v = cloudInitVerdict(output(0, 0, NOT_RUN_SYSVINIT));
    expect(v).toEqual({ kind: "not-run", detail: "enabled-by-sysvinit; Cloud-init enabled on sysvinit" });
    expect(describeCloudInit("worker-1", v as NonNullable<typeof v>)).toBe(
      "[worker-1] cloud-init is installed but has not run in this boot, and no cloud-init process or job is pending (enabled-by-sysvinit; Cloud-init enabled on sysvinit); not waiting for it",
    );
    expect(cloudInitVerdict(output(0, 0, NOT_RUN_GENERATOR))?.kind).toBe("not-run");
  });

  it("does not wait for a disabled cloud-init, and names what disabled it", () => {
    const v = cloudInitVerdict(output(0, 0, DISABLED));
    expect(v).toEqual({
      kind: "disabled",
      detail: "disabled-by-generator; Cloud-init disabled by cloud-init-generator",
    });
    expect(describeCloudInit("manager-1", v as NonNullable<typeof v>)).toMatch(
      /^\[manager-1\] cloud-init is installed but disabled \(disabled-by-generator; .*\); not waiting for it$/,
    );
  });

  it("tells a host without cloud-init from one whose output lacks the script's marks", () => {
    expect(cloudInitVerdict(`${CLOUD_INIT_MARK} absent\n20.10.24`)).toEqual({ kind: "absent" });
    expect(cloudInitVerdict("sh: 1: Syntax error\n")).toBeUndefined();
  });

  it("does not mistake a probe line or status text elsewhere in the output for cloud-init's", () => {
    expect(cloudInitVerdict(`${CLOUD_INIT_MARK} absent\nstatus: error`)).toEqual({ kind: "absent" });
  });

  it("quotes the setup step that failed, and only that step's own name", () => {
    const err =
      "status: error\nboot_status_code: enabled-by-generator\ndetail:\n('scripts-user', RuntimeError('Runparts: 1 failures in 1 attempted commands'))";
    const v = cloudInitVerdict([output(1, 0, err), `${CLOUD_INIT_MARK} step: kernel-modules`].join("\n"));
    expect(v?.kind).toBe("error");
    expect(v && "detail" in v ? v.detail : "").toMatch(
      /^setup step "kernel-modules" failed; enabled-by-generator; \('scripts-user'/,
    );
    // Control: without a recorded step the detail is cloud-init's own.
    const plain = cloudInitVerdict(output(1, 0, err));
    expect(plain && "detail" in plain ? plain.detail : "").toMatch(/^enabled-by-generator; /);
  });

  it("still refuses a node whose setup failed after a reboot made cloud-init report done", () => {
    // runcmd runs once per instance; the reboot's cloud-init ends "done" while the step file remains.
    const done =
      "status: done\nboot_status_code: enabled-by-generator\ndetail:\nDataSourceNoCloud [seed=/dev/vdb][dsmode=net]";
    const v = cloudInitVerdict([output(0, 0, done), `${CLOUD_INIT_MARK} step: kernel-modules`].join("\n"));
    expect(v).toEqual({
      kind: "error",
      detail: expect.stringMatching(
        /^setup step "kernel-modules" failed at the first boot \(this boot's cloud-init reports "done"/,
      ),
    });
    // Control: the same status without a step file is a finished node.
    expect(cloudInitVerdict(output(0, 0, done))?.kind).toBe("done");
  });
});
