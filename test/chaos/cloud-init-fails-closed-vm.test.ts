/**
 * On a real Debian VM (`npm run test:chaos`; one TCG VM boots in minutes, too slow for CI): user data
 * rendered by the program, with its kernel-module check made to fail (a module no kernel has), ends
 * cloud-init in `error`; the steps after it never ran; and bootstrap refuses the node, naming it and
 * the step. Control: the firewall step before it did run (the unit is active).
 */
import * as fs from "fs";
import { renderUserData } from "../../infra/cloudinit";
import { DEFAULTS } from "../../infra/config";
import { generateSshKeyPair } from "../../common/sshkeys";
import { downVmBed, ensureClientKey, openVmBed, vmInventory, writeInventory } from "../../local";
import { connect } from "../../transport/ssh";
import { runCli } from "../integration/bootstrap-helpers";
import { testbedDir } from "../support/testbed";

/** One TCG VM on a busy 2-core machine: boot and cloud-init took 2–4 min; bootstrap waits for cloud-init itself. */
jest.setTimeout(30 * 60_000);
const MISSING_MODULE = "hcloud_swarm_no_such_module";

describe("cloud-init that stops at the first failed step, on a real VM", () => {
  const dir = testbedDir("cloud-init-fails-vm");
  afterAll(async () => {
    await downVmBed(dir).catch(() => undefined);
  });

  it("a failed kernel-module check ends cloud-init in error, and bootstrap refuses the node quoting the step", async () => {
    fs.mkdirSync(dir, { recursive: true });
    const bed = await openVmBed({ dir });
    for (const v of bed.list()) await bed.remove(v.name);
    const client = await ensureClientKey(bed.dir);
    const hostKey = generateSshKeyPair("root@manager-1");
    const good = renderUserData({
      distro: "debian",
      dockerVersion: DEFAULTS.dockerVersion,
      dockerOnImage: true,
      hostKey,
      adminSshKeys: [],
    });
    const broken = good.replace("for m in esp4 xt_policy;", `for m in esp4 xt_policy ${MISSING_MODULE};`);
    expect(broken).not.toBe(good);
    const vm = await bed.boot({ name: "manager-1", userData: broken, sshKeys: [client.publicKey] });
    const inv = vmInventory(
      [
        {
          name: "manager-1",
          role: "manager",
          publicIp: vm.publicIpv4,
          privateIp: vm.privateIp,
          hostKey: hostKey.publicKey,
        },
      ],
      client.privateKeyPath,
    );
    const file = writeInventory(bed.dir, inv);
    const run = await runCli(file);
    expect(run.result).toBeUndefined();
    expect(run.error?.message).toMatch(/cloud-init failed on manager-1 \(setup step "kernel-modules" failed/);
    const s = await connect(inv.nodes[0], fs.readFileSync(client.privateKeyPath, "utf8"));
    try {
      const status = await s.run(
        "cloud-init status; cat /var/lib/hcloud-swarm/setup-failed-step; systemctl is-active hcloud-swarm-firewall",
        { allowFailure: true },
      );
      expect(status.stdout).toMatch(/status: error/);
      expect(status.stdout).toMatch(/^kernel-modules$/m);
      expect(status.stdout).toMatch(/^active$/m);
    } finally {
      s.close();
    }
  });
});
