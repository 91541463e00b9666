import * as YAML from "yaml";
import { hostTscKhz, KERNEL_APPEND, qemuArgs } from "../../local/vm/qemu";
import {
  bootProblems,
  hostAddressInNetwork,
  instanceIdOf,
  macs,
  metaData,
  networkConfig,
  nextSlot,
  pickPrivateIp,
  privateNetwork,
  publicAddress,
  tapNames,
  validVmName,
  vmBedNames,
} from "../../local/vm/plan";

const names = vmBedNames(7);
const seed = {
  name: "worker-2",
  instanceId: "hsv7-worker-2-abc",
  publicIp: publicAddress(7, 3),
  privateIp: "10.0.0.22",
  privatePrefix: 16,
  macs: macs(7, 3),
  names,
  sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA deploy"],
};

describe("VM bed plan", () => {
  it("gives each bed its own namespace and public /25, with the host's uplink outside the VMs' range", () => {
    expect(names).toMatchObject({
      netns: "hsv7",
      hostVeth: "hsv7",
      publicSubnet: "10.215.7.0/25",
      publicGateway: "10.215.7.1",
      hostAddress: "10.215.7.253",
      nsAddress: "10.215.7.254",
    });
    expect(publicAddress(7, 1)).toBe("10.215.7.11");
    expect(publicAddress(7, 100)).toBe("10.215.7.110");
    expect(() => publicAddress(7, 101)).toThrow(/slot must be 1–100/);
    expect(() => vmBedNames(0)).toThrow(/1–254/);
    expect(() => vmBedNames(255)).toThrow(/1–254/);
  });

  it("keeps tap names within the kernel's 15 characters and MACs distinct per VM and NIC", () => {
    const t = tapNames(100);
    expect(Math.max(t.pub.length, t.priv.length)).toBeLessThanOrEqual(15);
    const all = [1, 2, 100].flatMap((s) => Object.values(macs(254, s)));
    expect(new Set(all).size).toBe(all.length);
    for (const m of all) expect(m).toMatch(/^52:54:[0-9a-f]{2}(:[0-9a-f]{2}){3}$/);
  });

  it("hands out the lowest free slot and refuses a full bed", () => {
    expect(nextSlot([])).toBe(1);
    expect(nextSlot([1, 2, 4])).toBe(3);
    expect(() => nextSlot(Array.from({ length: 100 }, (_, i) => i + 1))).toThrow(/100 VMs/);
  });

  it("takes a wanted private address only inside the network, free, and not its network, gateway or broadcast address", () => {
    expect(pickPrivateIp("10.0.0.0/16", [], "10.0.0.11")).toBe("10.0.0.11");
    expect(pickPrivateIp("10.0.0.0/16", ["10.0.0.2"])).toBe("10.0.0.3");
    expect(() => pickPrivateIp("10.0.0.0/16", ["10.0.0.11"], "10.0.0.11")).toThrow(/already used/);
    expect(() => pickPrivateIp("10.0.0.0/16", [], "10.1.0.11")).toThrow(/outside the private network 10.0.0.0\/16/);
    for (const bad of ["10.0.0.0", "10.0.0.1", "10.0.255.255"])
      expect(() => pickPrivateIp("10.0.0.0/16", [], bad)).toThrow(/network, broadcast or gateway/);
    expect(() => pickPrivateIp("10.0.0.0/16", [], "not-an-ip")).toThrow(/not an IPv4 address/);
    expect(() => pickPrivateIp("10.0.0.0/24", [], "::1")).toThrow();
    expect(hostAddressInNetwork("10.0.0.0/16", 11)).toBe("10.0.0.11");
  });

  it("checks the private network's shape and VM names like the program and the inventory do", () => {
    expect(privateNetwork("10.0.0.0/16")).toEqual({ cidr: "10.0.0.0/16", prefix: 16 });
    for (const bad of ["10.0.0.0/25", "10.0.0.0/7", "fd00::/64", "10.0.0.0", "banana"])
      expect(() => privateNetwork(bad)).toThrow(/private network must be an IPv4 CIDR/);
    expect(validVmName("manager-1")).toBeUndefined();
    for (const bad of ["Manager-1", "-x", "a_b", "x".repeat(64), "a;reboot", ""])
      expect(validVmName(bad)).toMatch(/lowercase DNS label/);
  });

  it("writes meta-data and network config that YAML 1.1 (cloud-init's PyYAML) reads as strings, MACs included", () => {
    const net = YAML.parse(networkConfig(seed), { version: "1.1" }) as {
      ethernets: Record<
        string,
        { match: { macaddress: unknown }; addresses: string[]; mtu: number; routes?: unknown[] }
      >;
    };
    expect(net.ethernets.public).toEqual({
      match: { macaddress: seed.macs.pub },
      addresses: ["10.215.7.13/25"],
      routes: [{ to: "0.0.0.0/0", via: "10.215.7.1" }],
      mtu: 1500,
    });
    expect(net.ethernets.private).toEqual({
      match: { macaddress: seed.macs.priv },
      addresses: ["10.0.0.22/16"],
      mtu: 1450,
    });
    // A MAC of digits only is a base-60 integer in YAML 1.1 unless quoted; this is the case that broke cloud-init.
    const digits = networkConfig({ ...seed, macs: { pub: "52:54:01:01:00:01", priv: "52:54:01:01:00:02" } });
    expect(
      (YAML.parse(digits, { version: "1.1" }) as { ethernets: { public: { match: { macaddress: unknown } } } })
        .ethernets.public.match.macaddress,
    ).toBe("52:54:01:01:00:01");
    const meta = YAML.parse(metaData(seed), { version: "1.1" }) as Record<string, unknown>;
    expect(meta).toEqual({
      "instance-id": "hsv7-worker-2-abc",
      "local-hostname": "worker-2",
      "public-keys": seed.sshKeys,
    });
    expect(YAML.parse(metaData({ ...seed, sshKeys: [] }))).not.toHaveProperty("public-keys");
  });

  it("refuses hostile boot requests, every problem at once: a name that is no label, user data Hetzner would refuse, keys that smuggle a second line", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA deploy";
    expect(bootProblems({ name: "worker-1", userData: "#cloud-config\n", sshKeys: [key] })).toEqual([]);
    const problems = bootProblems({
      name: "w;reboot",
      userData: "#cloud-config\n" + "x".repeat(32 * 1024),
      sshKeys: [`${key}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB intruder`, "ssh-ed25519 AAAA\u0000", "not a key"],
    });
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/lowercase DNS label/);
    expect(problems[1]).toMatch(/at most 32768/);
    expect(problems.slice(2).every((p) => /one OpenSSH public key line/.test(p))).toBe(true);
  });

  it("gives a VM booted again under the same name a new instance id, so cloud-init runs afresh", () => {
    expect(instanceIdOf(7, "worker-2", "2026-01-01T00:00:00Z")).not.toBe(
      instanceIdOf(7, "worker-2", "2026-01-01T00:00:01Z"),
    );
    expect(instanceIdOf(7, "worker-2", "t")).toMatch(/^hsv7-worker-2-[0-9a-f]{8}$/);
  });

  it("builds a qemu command line with a bounded TCG translation cache, a direct kernel boot and the two NICs", () => {
    const spec = {
      processName: "hsv7-worker-2",
      accel: "tcg" as const,
      kernel: "/c/vmlinuz",
      initrd: "/c/initrd.img",
      disk: "/d/disk.qcow2",
      seed: "/d/seed.iso",
      console: "/d/console.log",
      pidFile: "/d/qemu.pid",
      taps: tapNames(3),
      macs: seed.macs,
    };
    const args = qemuArgs(spec);
    const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
    expect(after("-accel")).toEqual(["tcg,thread=multi,tb-size=256"]);
    expect(after("-m")).toEqual(["1024"]);
    expect(after("-kernel")).toEqual(["/c/vmlinuz"]);
    expect(after("-append")).toEqual([KERNEL_APPEND]);
    expect(after("-netdev")).toEqual([
      "tap,id=pub,ifname=v3pub,script=no,downscript=no",
      "tap,id=priv,ifname=v3priv,script=no,downscript=no",
    ]);
    expect(after("-device")).toContain(`virtio-net-pci,netdev=priv,mac=${seed.macs.priv}`);
    expect(after("-drive")).toEqual([
      "file=/d/disk.qcow2,if=virtio,format=qcow2",
      "file=/d/seed.iso,if=virtio,format=raw,readonly=on",
    ]);
    expect(after("-name")).toEqual(["hsv7-worker-2,process=hsv7-worker-2"]);
    expect(args).toContain("-daemonize");
    expect(qemuArgs({ ...spec, accel: "kvm" }).join(" ")).toContain("-accel kvm -cpu host");
  });

  it("tells a TCG guest the host's TSC rate, so a starved boot cannot mis-measure its clock", () => {
    const spec = {
      processName: "hsv7-worker-2",
      accel: "tcg" as const,
      kernel: "/c/vmlinuz",
      initrd: "/c/initrd.img",
      disk: "/d/disk.qcow2",
      seed: "/d/seed.iso",
      console: "/d/console.log",
      pidFile: "/d/qemu.pid",
      taps: tapNames(3),
      macs: seed.macs,
      tscKhz: 2596134,
    };
    const append = (a: string[]) => a[a.indexOf("-append") + 1];
    expect(append(qemuArgs(spec))).toBe(`${KERNEL_APPEND} tsc_early_khz=2596134`);
    expect(append(qemuArgs({ ...spec, accel: "kvm" }))).toBe(KERNEL_APPEND);
    const cpuinfo = "processor\t: 0\ncpu MHz\t\t: 2596.134\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n";
    expect(hostTscKhz(cpuinfo)).toBe(2596134);
    expect(hostTscKhz(cpuinfo.replace(" constant_tsc", ""))).toBeUndefined();
    expect(hostTscKhz("flags : constant_tsc\n")).toBeUndefined();
  });
});
