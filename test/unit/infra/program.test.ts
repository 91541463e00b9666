/**
 * The real program (infra/index.ts) under Pulumi mocks, through test/support/pulumi.ts.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { validateInventory, Inventory } from "../../../inventory/inventory";
import { ValidationError } from "../../../common/problems";
import {
  forgetState,
  RecordedResource,
  resourcesOfLastRun,
  runProgram,
  runProgramDetailed,
} from "../../support/pulumi";

jest.setTimeout(60_000);

const SERVER = "hcloud:index/server:Server";
const FIREWALL = "hcloud:index/firewall:Firewall";
const KEY_PAIR = "pulumi-nodejs:dynamic/hcloud-swarm:SshKeyPair";
const SWARM_PORTS = new Set(["tcp/2377", "tcp/7946", "udp/7946", "udp/4789", "esp/"]);
const WORLD = ["0.0.0.0/0", "::/0"];

interface Rule {
  direction: string;
  protocol: string;
  port?: string;
  sourceIps: string[];
}

const ofType = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const names = (rs: RecordedResource[], type: string) =>
  ofType(rs, type)
    .map((r) => r.name)
    .sort();
const byName = (rs: RecordedResource[], name: string) => {
  const r = rs.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
const countByType = (rs: RecordedResource[]) =>
  rs.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.type]: (acc[r.type] ?? 0) + 1 }), {});
const rulesOf = (fw: RecordedResource) => fw.inputs.rules as Rule[];

describe("the Pulumi program", () => {
  // Each test is a stack of its own: day two refuses what these configs change between them
  // (privateNetwork, networkCidr), as it would for one real stack.
  beforeEach(() => forgetState());
  it("creates network, placement groups, firewalls, keys and servers for the default config", async () => {
    const rs = await runProgram({ serverType: "cx23" });
    expect(countByType(rs)).toEqual({
      "hcloud-swarm:index:SwarmCluster": 1,
      "hcloud:index/network:Network": 1,
      "hcloud:index/networkSubnet:NetworkSubnet": 1,
      "hcloud:index/placementGroup:PlacementGroup": 2,
      [FIREWALL]: 2,
      [KEY_PAIR]: 4,
      "hcloud:index/sshKey:SshKey": 1,
      [SERVER]: 3,
      "pulumi-nodejs:dynamic/hcloud-swarm:SwarmKeys": 1,
      "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode": 3,
    });
    expect(names(rs, SERVER)).toEqual(["swarm-manager-1", "swarm-worker-1", "swarm-worker-2"]);
    expect(
      ofType(rs, SERVER)
        .map((s) => s.inputs.name)
        .sort(),
    ).toEqual(["dev-manager-1", "dev-worker-1", "dev-worker-2"]);
    expect(names(rs, FIREWALL)).toEqual(["swarm-fw-base", "swarm-fw-edge"]);
    expect(byName(rs, "swarm-subnet").inputs).toMatchObject({
      ipRange: "10.0.0.0/24",
      networkZone: "eu-central",
      type: "cloud",
    });
  });

  it("creates 3 managers and 12 workers in public-only mode over two locations, with split placement groups", async () => {
    const rs = await runProgram({
      serverType: "cx23",
      managers: 3,
      workers: 12,
      privateNetwork: false,
      locations: ["fsn1", "hel1"],
      clusterName: "prod",
    });
    expect(names(rs, SERVER)).toEqual([
      "swarm-manager-1",
      "swarm-manager-2",
      "swarm-manager-3",
      ...Array.from({ length: 12 }, (_, i) => `swarm-worker-${i + 1}`).sort(),
    ]);
    expect(ofType(rs, "hcloud:index/network:Network")).toHaveLength(0);
    expect(names(rs, "hcloud:index/placementGroup:PlacementGroup")).toEqual([
      "swarm-pg-manager-fsn1-1",
      "swarm-pg-manager-hel1-1",
      "swarm-pg-worker-fsn1-1",
      "swarm-pg-worker-hel1-1",
    ]);
    expect(names(rs, FIREWALL)).toEqual([
      "swarm-fw-base",
      "swarm-fw-edge",
      "swarm-fw-swarm",
      "swarm-fw-swarm-managers",
    ]);
    expect(byName(rs, "swarm-worker-12").inputs).toMatchObject({
      name: "prod-worker-12",
      location: "hel1",
      serverType: "cx23",
    });
    expect(byName(rs, "swarm-worker-12").inputs.networks).toBeUndefined();
  });

  it("wires each server to its key, firewalls, placement group and private address", async () => {
    const rs = await runProgram({ serverType: "cx23", managerServerType: "cx33", workers: 1 });
    const id = (name: string) => String(byName(rs, name).state.id);
    const manager = byName(rs, "swarm-manager-1").inputs;
    const worker = byName(rs, "swarm-worker-1").inputs;
    expect(manager).toMatchObject({
      serverType: "cx33",
      image: "ubuntu-24.04",
      location: "nbg1",
      labels: { cluster: "dev", role: "manager", "managed-by": "hcloud-swarm" },
      publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
      networks: [{ ip: "10.0.0.11", aliasIps: [] }],
    });
    expect(worker).toMatchObject({
      serverType: "cx23",
      labels: { role: "worker" },
      networks: [{ ip: "10.0.0.21", aliasIps: [] }],
    });
    // Hetzner ids are numeric strings; the server args want numbers (subnetId and sshKeys excepted).
    expect(id("swarm-fw-base")).toMatch(/^\d+$/);
    expect(manager.firewallIds).toEqual([Number(id("swarm-fw-base")), Number(id("swarm-fw-edge"))]);
    expect(worker.firewallIds).toEqual([Number(id("swarm-fw-base"))]);
    expect(manager.placementGroupId).toBe(Number(id("swarm-pg-manager-nbg1-1")));
    expect(worker.placementGroupId).toBe(Number(id("swarm-pg-worker-nbg1-1")));
    expect(manager.sshKeys).toEqual([id("swarm-deploy")]);
    expect(worker.sshKeys).toEqual([id("swarm-deploy")]);
    expect((manager.networks as Array<{ subnetId: string }>)[0].subnetId).toBe(id("swarm-subnet"));
    expect(byName(rs, "swarm-subnet").inputs.networkId).toBe(Number(id("swarm-network")));
    expect(byName(rs, "swarm-deploy").inputs.publicKey).toBe(byName(rs, "swarm-deploy-key").state.publicKey);
  });

  it("never opens a swarm port or ESP to the world, in public-only and private modes", async () => {
    for (const privateNetwork of [true, false]) {
      forgetState();
      const run = await runProgramDetailed({
        serverType: "cx23",
        managers: 3,
        workers: 4,
        privateNetwork,
        sshAllowedCidrs: WORLD,
      });
      const swarmRules = ofType(run.resources, FIREWALL)
        .flatMap(rulesOf)
        .filter((r) => SWARM_PORTS.has(`${r.protocol}/${r.port ?? ""}`));
      const servers = ofType(run.resources, SERVER);
      if (privateNetwork) {
        expect(swarmRules).toEqual([]);
      } else {
        const nodeSources = servers.flatMap((s) => [`${s.state.ipv4Address}/32`, `${s.state.ipv6Address}/128`]).sort();
        expect(swarmRules).toHaveLength(SWARM_PORTS.size);
        for (const r of swarmRules) expect([...r.sourceIps].sort()).toEqual(nodeSources);
      }
      for (const r of swarmRules) for (const w of WORLD) expect(r.sourceIps).not.toContain(w);
      // SSH stays reachable as configured, so the check above is not vacuous about world sources.
      expect(rulesOf(byName(run.resources, "swarm-fw-base")).find((r) => r.port === "22")?.sourceIps).toEqual(WORLD);
    }
  });

  it("keeps the inputs of every existing resource when workers grows from 2 to 3 (private network)", async () => {
    const before = await runProgram({ serverType: "cx23", workers: 2 });
    const after = await runProgram({ serverType: "cx23", workers: 3 });
    // SwarmKeys alone changes, on purpose: the new member's ID is what makes it rotate the join tokens.
    for (const r of before.filter((x) => x.name !== "swarm-swarm-keys"))
      expect({ name: r.name, inputs: byName(after, r.name).inputs }).toEqual({ name: r.name, inputs: r.inputs });
    expect(byName(after, "swarm-swarm-keys").inputs.members).toEqual([
      ...(byName(before, "swarm-swarm-keys").inputs.members as string[]),
      "swarm-worker-3-swarm-id",
    ]);
    const added = after.filter((r) => !before.some((b) => b.name === r.name && b.type === r.type)).map((r) => r.name);
    expect(added.sort()).toEqual(["swarm-worker-3", "swarm-worker-3-host-key", "swarm-worker-3-swarm"]);
  });

  it("in public-only mode changes only the swarm firewalls, by adding the new worker's addresses", async () => {
    const before = await runProgram({ serverType: "cx23", workers: 2, privateNetwork: false });
    const after = await runProgram({ serverType: "cx23", workers: 3, privateNetwork: false });
    const changed = before
      .filter((r) => JSON.stringify(byName(after, r.name).inputs) !== JSON.stringify(r.inputs))
      .map((r) => r.name);
    // And SwarmKeys, whose members gain the new one (the join tokens are rotated after it joined).
    expect(changed.sort()).toEqual(["swarm-fw-swarm", "swarm-fw-swarm-managers", "swarm-swarm-keys"]);
    const w3 = byName(after, "swarm-worker-3").state;
    for (const name of changed.filter((n) => n.startsWith("swarm-fw-"))) {
      const old = rulesOf(byName(before, name));
      const now = rulesOf(byName(after, name));
      now.forEach((rule, i) =>
        expect(rule.sourceIps).toEqual([...old[i].sourceIps, `${w3.ipv4Address}/32`, `${w3.ipv6Address}/128`]),
      );
    }
  });

  it("keeps generated keys across runs (no replacement) and makes new ones for a new stack", async () => {
    const first = await runProgramDetailed({ serverType: "cx23", workers: 1 });
    const second = await runProgramDetailed({ serverType: "cx23", workers: 1 });
    expect(second.outputs.sshPrivateKey).toBe(first.outputs.sshPrivateKey);
    expect(byName(second.resources, "swarm-worker-1").inputs.userData).toBe(
      byName(first.resources, "swarm-worker-1").inputs.userData,
    );
    forgetState();
    const fresh = await runProgramDetailed({ serverType: "cx23", workers: 1 });
    expect(fresh.outputs.sshPrivateKey).not.toBe(first.outputs.sshPrivateKey);
  });

  it("boots servers that check the image's Docker instead of installing it when dockerOnImage is set (found by npm run rehearse)", async () => {
    const rs = await runProgram({ serverType: "cx23", image: "debian-12", dockerOnImage: true, workers: 1 });
    for (const s of ofType(rs, SERVER)) {
      const userData = String(s.inputs.userData);
      expect(userData).toContain("dockerOnImage");
      expect(userData).not.toContain("download.docker.com");
    }
    // Both together are still refused, as the user wrote them.
    await expect(runProgram({ serverType: "cx23", dockerOnImage: true, dockerVersion: "28.5.1" })).rejects.toThrow(
      /dockerVersion is set but hcloud-swarm:dockerOnImage is true/,
    );
  });

  it("refuses bad config with messages naming the keys, before creating any resource", async () => {
    const bad = runProgram({
      serverType: "cx23",
      managers: 2,
      workers: -1,
      networkCidr: "10.0.0.0/33",
      locations: [],
      typo: 1,
    });
    // The program runs in its own module registry, so the error is that registry's ValidationError.
    const err = (await bad.catch((e: unknown) => e)) as ValidationError;
    expect(err.name).toBe("ValidationError");
    expect(err.problems.map((p) => p.split(" ")[0])).toEqual([
      "hcloud-swarm:typo",
      "hcloud-swarm:managers",
      "hcloud-swarm:workers",
      "hcloud-swarm:locations",
      "hcloud-swarm:networkCidr",
    ]);
    expect(resourcesOfLastRun()).toEqual([]);
  });

  it("keeps the SSH private key and the user data secret, and the inventory free of secrets", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", workers: 2 });
    // The deploy key, autolock's unlock key and the backup key: each secret, nothing else.
    expect(run.secretOutputs).toEqual(["backupKey", "sshPrivateKey", "unlockKey"]);
    for (const s of ofType(run.resources, SERVER))
      expect(run.secretInputs[`${SERVER}::${s.name}`]).toEqual(["userData"]);
    for (const k of ofType(run.resources, KEY_PAIR))
      expect(run.additionalSecretOutputs[`${KEY_PAIR}::${k.name}`]).toEqual(["privateKey"]);
    expect(String(run.outputs.sshPrivateKey)).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const exported = JSON.stringify({ ...run.outputs, sshPrivateKey: undefined });
    expect(exported).not.toContain("PRIVATE KEY");
  });

  it("exports an inventory bootstrap accepts, with each node's real host key pinned", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-infra-"));
    try {
      for (const privateNetwork of [true, false]) {
        forgetState();
        const run = await runProgramDetailed({ serverType: "cx23", managers: 3, workers: 1, privateNetwork });
        const inv = validateInventory(run.outputs.inventory, "inventory output") as Inventory;
        expect(inv.swarm).toEqual({
          defaultAddrPool: "10.128.0.0/16",
          defaultAddrPoolMaskLength: 24,
          overlayMtu: privateNetwork ? 1450 : 1500,
          autolock: true,
        });
        expect(inv.nodes.map((n) => [n.name, n.role])).toEqual([
          ["manager-1", "manager"],
          ["manager-2", "manager"],
          ["manager-3", "manager"],
          ["worker-1", "worker"],
        ]);
        for (const n of inv.nodes) {
          const server = byName(run.resources, `swarm-${n.name}`);
          expect([n.host, n.publicAddress, n.user, n.port]).toEqual([
            server.state.ipv4Address,
            server.state.ipv4Address,
            "root",
            22,
          ]);
          expect(n.advertiseAddress).toBe(privateNetwork ? n.privateAddress : n.host);
          // The host key in the inventory is the one the server's cloud-init installs.
          const doc = YAML.parse(String(server.inputs.userData)) as { ssh_keys: { ed25519_private: string } };
          const file = path.join(dir, `${n.name}-${privateNetwork}`);
          fs.writeFileSync(file, doc.ssh_keys.ed25519_private, { mode: 0o600 });
          const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
          expect(derived.split(" ").slice(0, 2).join(" ")).toBe(n.hostKey);
        }
        const first = inv.nodes[0];
        expect(run.outputs.dockerContext).toBe(`docker context create dev --docker host=ssh://root@${first.host}`);
        expect(run.outputs.managers).toEqual(
          inv.nodes
            .filter((n) => n.role === "manager")
            .map((n) => ({ name: n.name, publicAddress: n.publicAddress, privateAddress: n.privateAddress })),
        );
        expect(String(run.outputs.knownHostsFile).split("\n")[0]).toBe(`${first.host} ${first.hostKey}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("carries privateAllowedCidrs to the inventory and every membership, and leaves both untouched when unset", async () => {
    const opened = await runProgramDetailed({
      serverType: "cx23",
      managers: 1,
      workers: 1,
      privateAllowedCidrs: ["10.0.1.0/24"],
    });
    expect((opened.outputs.inventory as Inventory).firewall).toEqual({ privateAllowedCidrs: ["10.0.1.0/24"] });
    const memberships = opened.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode");
    expect(memberships.map((m) => m.inputs.firewall)).toEqual([
      { privateAllowedCidrs: ["10.0.1.0/24"] },
      { privateAllowedCidrs: ["10.0.1.0/24"] },
    ]);
    // What earlier releases created: no firewall key anywhere, so their state sees no change.
    const plain = await runProgramDetailed({ serverType: "cx23", managers: 1, workers: 1 });
    expect(Object.keys(plain.outputs.inventory as Inventory)).not.toContain("firewall");
    for (const m of plain.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode"))
      expect(Object.keys(m.inputs)).not.toContain("firewall");
  });
});
