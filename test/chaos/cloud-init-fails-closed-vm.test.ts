/**
 * On real Debian VMs (`npm run test:chaos`; TCG VMs boot in minutes, too slow for CI), two nodes
 * booted together from user data rendered by the program:
 * - manager-1's kernel-module check is made to fail (a module no kernel has): cloud-init ends in
 *   `error`, the steps after it never ran, and bootstrap refuses the node naming it and the step.
 *   Control: the firewall step before it did run (the unit is active). After a reboot (cloud-init
 *   then reports this boot's status, and runcmd runs once per instance) bootstrap still refuses it.
 * - manager-2 boots healthy (control: firewall unit and dockerd active); then its firewall unit is
 *   made to fail at the next boot. dockerd must not start (docker.service Requires= the unit), and
 *   bootstrap and verify's host check must name the failed unit, not just "not ready".
 */
import * as fs from "fs";
import { renderUserData } from "../../infra/cloudinit";
import { DEFAULTS } from "../../infra/config";
import { generateSshKeyPair } from "../../common/sshkeys";
import { waitFor } from "../../common/time";
import { judgeHost, parseProbe, PROBE_SCRIPT } from "../../hostfw/probe";
import { FIREWALL_SCRIPT_PATH, FIREWALL_UNIT } from "../../hostfw/script";
import type { Inventory } from "../../inventory/inventory";
import {
  downVmBed,
  ensureClientKey,
  openVmBed,
  type VmBed,
  vmInventory,
  waitUntilReady,
  writeInventory,
} from "../../local";
import { connect, type SshTarget } from "../../transport/ssh";
import { runCli } from "../integration/bootstrap-helpers";
import { bedFixtureDir } from "../support/bed-fixture";

/** Two TCG VMs on a busy 2-core machine: boot and cloud-init took 4–6 min, each reboot 2–4 min. */
jest.setTimeout(40 * 60_000);
/** A reboot under TCG on a loaded machine: 2–4 min seen; past 15 min the guest is stuck. */
const REBOOT_TIMEOUT_MS = 15 * 60_000;
/** Between reconnect attempts while a guest reboots: one SSH handshake each. */
const REBOOT_POLL_MS = 5_000;
const MISSING_MODULE = "hcloud_swarm_no_such_module";

const dir = bedFixtureDir("cloud-init-fails-vm");
let bed: VmBed;
let key: string;
const inv = new Map<string, Inventory>();
const files = new Map<string, string>();

/** One command on a node, its stdout (failures allowed: the caller judges the output). */
async function sh(node: SshTarget, command: string): Promise<string> {
  const s = await connect(node, key);
  try {
    return (await s.run(command, { allowFailure: true })).stdout;
  } finally {
    s.close();
  }
}

/** `systemctl reboot`, then waits until SSH answers from a new boot (another boot_id). */
async function reboot(node: SshTarget): Promise<void> {
  const before = (await sh(node, "cat /proc/sys/kernel/random/boot_id")).trim();
  await sh(node, "systemctl reboot").catch(() => undefined);
  const back = await waitFor(
    async () => (await sh(node, "cat /proc/sys/kernel/random/boot_id").catch(() => before)).trim() !== before,
    REBOOT_TIMEOUT_MS,
    REBOOT_POLL_MS,
  );
  if (!back)
    throw new Error(
      `${node.name} did not come back from a reboot within ${REBOOT_TIMEOUT_MS / 60_000} min:\n${bed.consoleTail(node.name)}`,
    );
}

beforeAll(async () => {
  fs.mkdirSync(dir, { recursive: true });
  bed = await openVmBed({ dir });
  for (const v of bed.list()) await bed.remove(v.name);
  const client = await ensureClientKey(bed.dir);
  key = fs.readFileSync(client.privateKeyPath, "utf8");
  await Promise.all(
    ["manager-1", "manager-2"].map(async (name) => {
      const hostKey = generateSshKeyPair(`root@${name}`);
      const good = renderUserData({
        distro: "debian",
        dockerVersion: DEFAULTS.dockerVersion,
        dockerOnImage: true,
        hostKey,
        adminSshKeys: [],
      });
      const userData =
        name === "manager-1"
          ? good.replace("for m in esp4 xt_policy;", `for m in esp4 xt_policy ${MISSING_MODULE};`)
          : good;
      if (userData === good && name === "manager-1")
        throw new Error("the module check was not found in the rendered user data");
      const at = Date.now();
      const vm = await bed.boot({ name, userData, sshKeys: [client.publicKey] });
      const i = vmInventory(
        [{ name, role: "manager", publicIp: vm.publicIpv4, privateIp: vm.privateIp, hostKey: hostKey.publicKey }],
        client.privateKeyPath,
      );
      inv.set(name, i);
      fs.mkdirSync(`${bed.dir}/${name}`, { recursive: true });
      files.set(name, writeInventory(`${bed.dir}/${name}`, i));
      // The healthy node must be fully up before it is broken; the broken one is bootstrap's to wait for.
      if (name === "manager-2") {
        await waitUntilReady({
          target: i.nodes[0],
          privateKey: key,
          startedAt: at,
          consoleTail: () => bed.consoleTail(name),
          running: () => bed.list().find((v) => v.name === name)?.running ?? false,
        });
      }
    }),
  );
}, 40 * 60_000);

afterAll(async () => {
  await downVmBed(dir).catch(() => undefined);
  // The per-node inventories written beside the bed (the bed's own files go with downVmBed).
  for (const name of files.keys()) fs.rmSync(`${dir}/${name}`, { recursive: true, force: true });
});

describe("cloud-init that stops at the first failed step, on a real VM", () => {
  it("a failed kernel-module check ends cloud-init in error, and bootstrap refuses the node quoting the step", async () => {
    const run = await runCli(files.get("manager-1") as string);
    expect(run.result).toBeUndefined();
    expect(run.error?.message).toMatch(/cloud-init failed on manager-1 \(setup step "kernel-modules" failed/);
    const status = await sh(
      inv.get("manager-1")!.nodes[0],
      "cloud-init status; cat /var/lib/hcloud-swarm/setup-failed-step; systemctl is-active hcloud-swarm-firewall",
    );
    expect(status).toMatch(/status: error/);
    expect(status).toMatch(/^kernel-modules$/m);
    expect(status).toMatch(/^active$/m);
  });

  it("after a reboot, bootstrap still refuses the node whose setup failed", async () => {
    const node = inv.get("manager-1")!.nodes[0];
    await reboot(node);
    const status = await sh(node, "cloud-init status --wait >/dev/null 2>&1; cloud-init status");
    console.log(`manager-1 after a reboot: ${status.trim()}`);
    const run = await runCli(files.get("manager-1") as string);
    expect(run.result).toBeUndefined();
    expect(run.error?.message).toMatch(/cloud-init failed on manager-1 \(setup step "kernel-modules" failed/);
  });
});

describe("a node whose firewall unit failed at boot, on a real VM", () => {
  it("keeps dockerd down, and bootstrap and verify name the unit", async () => {
    const node = inv.get("manager-2")!.nodes[0];
    // Control: healthy before the fault.
    expect((await sh(node, `systemctl is-active ${FIREWALL_UNIT} docker.service`)).split("\n").slice(0, 2)).toEqual([
      "active",
      "active",
    ]);
    // The fault: the unit's program cannot run at the next boot (ExecStart fails, 203/EXEC).
    await sh(node, `chmod a-x ${FIREWALL_SCRIPT_PATH}`);
    await reboot(node);
    const states = await sh(
      node,
      `sleep 20; systemctl is-failed ${FIREWALL_UNIT}; systemctl is-active docker.service; timeout 20 docker info >/dev/null 2>&1 && echo docker-answers || echo docker-down`,
    );
    console.log(`manager-2 after the reboot: ${states.replace(/\n/g, " ")}`);
    expect(states).toMatch(/^failed$/m);
    expect(states).toMatch(/^docker-down$/m);
    const run = await runCli(files.get("manager-2") as string);
    expect(run.result).toBeUndefined();
    console.log(`bootstrap: ${run.error?.message}`);
    expect(run.error?.message).toMatch(
      new RegExp(
        `dockerd cannot run on manager-2: ${FIREWALL_UNIT.replace(/\./g, "\\.")} failed \\(systemctl is-failed\\)`,
      ),
    );
    // The cause is quoted, not only systemd's "Start request repeated too quickly" (docker.socket retries).
    expect(run.error?.message).toMatch(/its log ends: .*(Permission denied|203\/EXEC)/);
    // verify's host check, on the node's own probe output.
    const checks = judgeHost(parseProbe(await sh(node, PROBE_SCRIPT)), { members: [] });
    const unit = checks.find((c) => c.what === "firewall unit");
    console.log(`verify host check: ${JSON.stringify(unit)}`);
    expect(unit).toEqual({
      status: "fail",
      what: "firewall unit",
      detail: expect.stringMatching(/failed \(systemctl is-failed\), so dockerd, which Requires= it, cannot run/),
    });
  });
});
