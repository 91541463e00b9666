/**
 * What the rehearsal's Hetzner stand-in refuses before it boots anything (rehearse/hetzner/vm-cloud.ts):
 * the requests Hetzner's API would refuse, and the ones the bed cannot model honestly. And what
 * its engine refuses: options it does not model, types without a stand-in, a tampered checkpoint.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileStore } from "../../rehearse/engine/checkpoint";
import type { KindContext } from "../../rehearse/engine/cloud";
import { MockEngine } from "../../rehearse/engine/engine";
import { secret } from "../../rehearse/engine/properties";
import { VmCloud } from "../../rehearse/hetzner/vm-cloud";

const SERVER = "hcloud:index/server:Server";
let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-cloud-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function ctx(records: Record<string, Record<string, unknown>>): KindContext {
  return { urn: "urn:x", name: "swarm-worker-1", lookup: (type, id) => records[`${type}#${id}`], log: () => undefined };
}

const known = {
  "hcloud:index/sshKey:SshKey#7": { publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI deploy" },
  "hcloud:index/network:Network#1": { ipRange: "10.0.0.0/16" },
  "hcloud:index/networkSubnet:NetworkSubnet#2": { networkId: 1, ipRange: "10.0.0.0/24" },
};

const good = {
  name: "rehearsal-worker-1",
  image: "debian-12",
  userData: "#cloud-config\n",
  sshKeys: ["7"],
  publicNets: [{ ipv4Enabled: true }],
  networks: [{ subnetId: "2", ip: "10.0.0.21" }],
};

describe("the Hetzner stand-in refuses before booting", () => {
  it("lists every reason at once: another image, too much user data, an unknown key, an address outside the subnet, no public IPv4", async () => {
    const server = new VmCloud({ bedDir: path.join(dir, "bed") }).kindOf(SERVER)!;
    const bad = {
      ...good,
      image: "ubuntu-24.04",
      userData: "#cloud-config\n" + "x".repeat(33_000),
      sshKeys: ["7", "99"],
      publicNets: [{ ipv4Enabled: false }],
      networks: [{ subnetId: "2", ip: "10.0.1.5" }],
    };
    const attempt = server.create(bad, ctx(known));
    await expect(attempt).rejects.toThrow(/server rehearsal-worker-1 refused/);
    for (const reason of [
      /image "ubuntu-24.04": the bed's VMs run Debian 12; set hcloud-swarm:image debian-12/,
      /user_data is 33014 bytes; Hetzner accepts at most 32768/,
      /ssh key 99 not found/,
      /ip 10\.0\.1\.5 is not inside subnet 10\.0\.0\.0\/24/,
      /without public IPv4 is not modelled/,
    ]) {
      await expect(server.create(bad, ctx(known))).rejects.toThrow(reason);
    }
    // Nothing was created: no bed appeared.
    expect(fs.existsSync(path.join(dir, "bed"))).toBe(false);
  });

  it("refuses changes a running VM cannot take, by name, and takes the ones Hetzner makes in place", async () => {
    const server = new VmCloud({ bedDir: path.join(dir, "bed") }).kindOf(SERVER)!;
    await expect(
      server.update!("1", { ...good, serverType: "cx23" }, { ...good, serverType: "cx33", name: "other" }, ctx(known)),
    ).rejects.toThrow(/does not model changing name, serverType of a running server/);
    await expect(
      server.update!("1", { ...good, labels: { a: "1" } }, { ...good, labels: { a: "2" } }, ctx(known)),
    ).resolves.toMatchObject({ labels: { a: "2" } });
  });

  it("refuses a subnet outside its network", async () => {
    const subnet = new VmCloud({ bedDir: path.join(dir, "bed") }).kindOf("hcloud:index/networkSubnet:NetworkSubnet")!;
    await expect(subnet.create({ networkId: 1, ipRange: "10.1.0.0/24" }, ctx(known))).rejects.toThrow(
      /10\.1\.0\.0\/24 is not inside the network's 10\.0\.0\.0\/16/,
    );
  });
});

describe("the engine stand-in refuses", () => {
  const reg = {
    urn: "urn:pulumi:s::p::hcloud:index/volume:Volume::v",
    parent: "",
    dependencies: [],
    additionalSecretOutputs: [],
    deleteBeforeReplace: false,
  };

  it("a resource type the rehearsal has no stand-in for, naming it", async () => {
    const engine = new MockEngine({
      cloud: new VmCloud({ bedDir: path.join(dir, "bed") }),
      store: new FileStore(path.join(dir, "c.json")),
      root: dir,
    });
    await expect(engine.register(reg, "hcloud:index/volume:Volume", "v", true, {})).rejects.toThrow(
      /no stand-in for hcloud:index\/volume:Volume \(v\)/,
    );
  });

  it("a checkpoint whose secrets were tampered with, naming the file", () => {
    const store = new FileStore(path.join(dir, "c.json"));
    store.save({ resources: [], outputs: { key: secret("s3cr3t-value") } });
    const text = fs.readFileSync(store.file, "utf8");
    expect(text).not.toContain("s3cr3t-value");
    const sealed = JSON.parse(text) as { outputs: { key: { ciphertext: string } } };
    const [iv, tag, body] = sealed.outputs.key.ciphertext.split(":");
    const flipped = Buffer.from(body, "base64");
    flipped[0] ^= 1;
    sealed.outputs.key.ciphertext = [iv, tag, flipped.toString("base64")].join(":");
    fs.writeFileSync(store.file, JSON.stringify(sealed));
    expect(() => store.load()).toThrow(/c\.json: a secret does not decrypt with .*c\.key/);
  });
});
