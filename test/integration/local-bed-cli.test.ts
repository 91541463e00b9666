/**
 * The `hcloud-swarm local` commands as a user runs them: up prints the node table, status shows
 * both daemons answering and the kernel's verdicts, down removes the bed.
 */
import * as fs from "fs";
import * as path from "path";
import { hcloudSwarm } from "../support/cli";
import { detectKernelFeatures } from "../../local/ns/kernel";
import { listNetns } from "../../local/ns/network";
import { downBedFixture, bedFixtureDir } from "../support/bed-fixture";

const NAME = "local-bed-cli";
const DIR = bedFixtureDir(NAME);

async function cli(...args: string[]): Promise<string> {
  const r = await hcloudSwarm(args);
  if (r.code !== 0) throw new Error(`hcloud-swarm ${args.join(" ")} exited ${r.code}:\n${r.out}`);
  return r.out;
}

describe("hcloud-swarm local", () => {
  afterAll(() => downBedFixture(NAME), 120_000);

  it("brings a bed up, reports it, and takes it down again", async () => {
    const up = await cli("local", "up", "--nodes", "2", "--managers", "1", "--dir", DIR, "--no-install");
    expect(up).toMatch(/^NODE\s+ROLE\s+ADDRESS\s+NETNS$/m);
    expect(up).toMatch(/^manager-1\s+manager\s+10\.213\.\d+\.11\s+hsw\d+-manager-1$/m);
    expect(up).toMatch(/^worker-1\s+worker\s+10\.213\.\d+\.12\s+hsw\d+-worker-1$/m);
    expect(fs.existsSync(path.join(DIR, "inventory.json"))).toBe(true);
    const k = /hsw(\d+)-manager-1/.exec(up)?.[1];

    const status = await cli("local", "status", "--dir", DIR);
    expect(status).toMatch(/^manager-1\s+manager\s+\S+\s+up\s+up\s+manager-1\s+\d+\.\d+/m);
    expect(status).toMatch(/^worker-1\s+worker\s+\S+\s+up\s+up\s+worker-1\s+\d+\.\d+/m);
    expect(status).toMatch(/^\s+(ok|MISSING)\s+ESP/m);
    expect(status).toMatch(/^\s+(ok|MISSING)\s+IPVS/m);

    const down = await cli("local", "down", "--dir", DIR);
    expect(down).toContain(`removed namespace bed hsw${k} of ${DIR}`);
    expect(listNetns().filter((n) => n.startsWith(`hsw${k}-`))).toEqual([]);
    expect(await cli("local", "down", "--dir", DIR)).toContain("nothing of a test bed left");
  });

  it("probes kernel features in a scratch namespace, explains each missing one, and removes the namespace", async () => {
    const features = await detectKernelFeatures();
    expect(features.map((f) => f.name.split(" ")[0])).toEqual(["ESP", "IPVS", "VXLAN", "iptables", "overlayfs"]);
    for (const f of features.filter((x) => !x.available)) {
      expect(f.detail).not.toBe("");
      expect(f.consequence).not.toBe("");
    }
    expect(listNetns()).not.toContain(`hsw-probe-${process.pid}`);
  });
});
