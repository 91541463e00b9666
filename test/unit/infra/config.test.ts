import { ValidationError } from "../../../common/problems";
import { DEFAULTS, validateConfig } from "../../../infra/config";

const BASE = { serverType: "cx23" };

function problemsOf(raw: Record<string, unknown>, stack = "dev"): readonly string[] {
  try {
    validateConfig(raw, stack);
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error("config was accepted");
}

describe("validateConfig defaults", () => {
  it("fills every documented default from a config with only a server type", () => {
    expect(validateConfig(BASE, "dev")).toEqual({
      clusterName: "dev",
      managers: 1,
      workers: 2,
      managerServerType: "cx23",
      workerServerType: "cx23",
      locations: ["nbg1"],
      image: "ubuntu-24.04",
      distro: "ubuntu",
      privateNetwork: true,
      networkCidr: "10.0.0.0/16",
      networkZone: "eu-central",
      swarmAddressPool: "10.128.0.0/16",
      sshAllowedCidrs: ["0.0.0.0/0", "::/0"],
      privateAllowedCidrs: [],
      adminSshKeys: [],
      dockerVersion: DEFAULTS.dockerVersion,
      nodeLabels: { managers: {}, workers: {}, nodes: {} },
      dockerOnImage: false,
      keepDisk: true,
      autolock: true,
      maxUnavailable: 1,
    });
  });

  it("accepts Pulumi's string values and lets role types override serverType", () => {
    const c = validateConfig(
      {
        serverType: "cx23",
        managerServerType: "cx33",
        managers: "3",
        workers: "0",
        privateNetwork: "false",
        locations: '["fsn1","hel1"]',
        image: "debian-12",
      },
      "Prod_EU",
    );
    expect([c.managers, c.workers, c.privateNetwork, c.managerServerType, c.workerServerType]).toEqual([
      3,
      0,
      false,
      "cx33",
      "cx23",
    ]);
    expect([c.locations, c.distro, c.clusterName]).toEqual([["fsn1", "hel1"], "debian", "prod-eu"]);
  });
});

describe("validateConfig refuses bad config", () => {
  it("names an unknown key and suggests the one meant", () => {
    expect(problemsOf({ ...BASE, worker: 3 })).toEqual([
      "hcloud-swarm:worker is not a known key; did you mean hcloud-swarm:workers? Remove it with: pulumi config rm hcloud-swarm:worker",
    ]);
  });

  it("refuses even and out-of-range manager counts", () => {
    for (const managers of [2, 0, 9, 1.5, "three"]) {
      expect(problemsOf({ ...BASE, managers })).toEqual([
        `hcloud-swarm:managers must be 1, 3, 5 or 7 (an odd count keeps a Raft majority), got ${JSON.stringify(managers)}; e.g. pulumi config set hcloud-swarm:managers 3`,
      ]);
    }
  });

  it("refuses negative, fractional and too many workers", () => {
    for (const workers of [-1, 91, 2.5, true]) {
      expect(problemsOf({ ...BASE, workers })).toEqual([
        `hcloud-swarm:workers must be a whole number from 0 to 90, got ${JSON.stringify(workers)}; e.g. pulumi config set hcloud-swarm:workers 3`,
      ]);
    }
  });

  it("requires a server type, and a worker type when there are workers", () => {
    expect(problemsOf({})).toEqual([
      "hcloud-swarm:serverType is not set; set it with: pulumi config set hcloud-swarm:serverType cx23 (or set hcloud-swarm:managerServerType and hcloud-swarm:workerServerType)",
    ]);
    expect(problemsOf({ managerServerType: "cx23" })).toEqual([
      "hcloud-swarm:workerServerType is not set and there is no hcloud-swarm:serverType to fall back on; set one of them, e.g. pulumi config set hcloud-swarm:workerServerType cx23",
    ]);
    expect(validateConfig({ managerServerType: "cx23", workers: 0 }, "dev").managerServerType).toBe("cx23");
    expect(problemsOf({ serverType: "CX 23" })).toEqual([
      `hcloud-swarm:serverType must be a Hetzner server type name such as "cx23" or "cax11" (see hcloud server-type list), got "CX 23"`,
    ]);
  });

  it("refuses wrong types for lists and booleans", () => {
    expect(problemsOf({ ...BASE, locations: "nbg1", privateNetwork: "yes" })).toEqual([
      `hcloud-swarm:privateNetwork must be true or false, got "yes"`,
      `hcloud-swarm:locations must be a list of strings, got "nbg1"; set it with: pulumi config set --path 'hcloud-swarm:locations[0]' <value>`,
    ]);
  });

  it("refuses an empty location list, repeated and malformed locations", () => {
    expect(problemsOf({ ...BASE, locations: [] })).toEqual([
      `hcloud-swarm:locations must list at least one location, e.g. ["nbg1"]`,
    ]);
    expect(problemsOf({ ...BASE, locations: ["nbg1", "NBG 1", "nbg1"] })).toEqual([
      `hcloud-swarm:locations[1] must be a Hetzner location name such as "nbg1", "fsn1" or "hel1", got "NBG 1"`,
      `hcloud-swarm:locations[2] repeats "nbg1"; list each location once`,
    ]);
  });

  it("refuses locations of several network zones for a private network, and unknown zones", () => {
    expect(problemsOf({ ...BASE, locations: ["nbg1", "ash"] })).toEqual([
      `hcloud-swarm:locations ["nbg1","ash"] span several network zones (eu-central, us-east); a private network lives in one zone, so pick locations of one zone or set hcloud-swarm:privateNetwork false`,
    ]);
    expect(validateConfig({ ...BASE, locations: ["nbg1", "ash"], privateNetwork: false }, "dev").locations).toEqual([
      "nbg1",
      "ash",
    ]);
    expect(problemsOf({ ...BASE, locations: ["xyz1"] })).toEqual([
      "hcloud-swarm:networkZone is not set and the network zone of xyz1 is not known here; set it, e.g. pulumi config set hcloud-swarm:networkZone eu-central",
    ]);
    expect(validateConfig({ ...BASE, locations: ["xyz1"], networkZone: "eu-central" }, "dev").networkZone).toBe(
      "eu-central",
    );
  });

  it("refuses malformed and public CIDRs, naming the key", () => {
    expect(problemsOf({ ...BASE, networkCidr: "10.0.0.1/16", swarmAddressPool: "10.300.0.0/16" })).toEqual([
      `hcloud-swarm:networkCidr must be an IPv4 CIDR such as "10.0.0.0/16": "10.0.0.1/16" has host bits set; did you mean 10.0.0.0/16?`,
      `hcloud-swarm:swarmAddressPool must be an IPv4 CIDR such as "10.128.0.0/16": "10.300.0.0/16" has no valid IP address before the "/"`,
    ]);
    expect(problemsOf({ ...BASE, networkCidr: "8.8.0.0/16", swarmAddressPool: "10.128.0.0/25" })).toEqual([
      `hcloud-swarm:networkCidr must be a private IPv4 range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) from /8 to /23 (the nodes get its first /24), got "8.8.0.0/16"`,
      `hcloud-swarm:swarmAddressPool must be a private IPv4 range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) from /8 to /24 (swarm carves it into /24 overlay networks), got "10.128.0.0/25"`,
    ]);
    expect(problemsOf({ ...BASE, sshAllowedCidrs: ["203.0.113.7", "2001:db8::/129"] })).toEqual([
      `hcloud-swarm:sshAllowedCidrs[0] must be a CIDR such as "203.0.113.7/32" or "2001:db8::/48": "203.0.113.7" is not in CIDR notation (address/prefix)`,
      `hcloud-swarm:sshAllowedCidrs[1] must be a CIDR such as "203.0.113.7/32" or "2001:db8::/48": "2001:db8::/129" has a prefix longer than /128`,
    ]);
  });

  it("refuses a swarm pool that overlaps the network or Docker's ingress range", () => {
    expect(problemsOf({ ...BASE, networkCidr: "10.0.0.0/8", swarmAddressPool: "10.0.0.0/16" })).toEqual([
      `hcloud-swarm:networkCidr 10.0.0.0/8 overlaps 10.255.0.0/16, which Docker always gives the swarm's ingress network; pick a range outside it, e.g. "10.0.0.0/16"`,
      "hcloud-swarm:swarmAddressPool 10.0.0.0/16 overlaps hcloud-swarm:networkCidr 10.0.0.0/8; overlay networks would shadow node addresses. Pick disjoint ranges, e.g. 10.0.0.0/16 and 10.128.0.0/16",
    ]);
    expect(problemsOf({ ...BASE, swarmAddressPool: "10.255.0.0/20" })).toEqual([
      `hcloud-swarm:swarmAddressPool 10.255.0.0/20 overlaps 10.255.0.0/16, which Docker always gives the swarm's ingress network; pick a range outside it, e.g. "10.128.0.0/16"`,
    ]);
    // Without a private network there is nothing for the pool to collide with.
    expect(
      validateConfig({ ...BASE, privateNetwork: false, swarmAddressPool: "10.0.0.0/16" }, "dev").swarmAddressPool,
    ).toBe("10.0.0.0/16");
  });

  it("refuses an empty SSH source list and malformed admin keys", () => {
    expect(
      problemsOf({ ...BASE, sshAllowedCidrs: [], adminSshKeys: ["ssh-ed25519 AAAAC3Nza me@laptop", "hello"] }),
    ).toEqual([
      `hcloud-swarm:sshAllowedCidrs must list at least one range: bootstrap reaches the nodes over SSH. Use your own address, e.g. ["203.0.113.7/32"]`,
      `hcloud-swarm:adminSshKeys[1] must be one OpenSSH public key line, "ssh-ed25519 AAAA… you@host" (the contents of ~/.ssh/id_ed25519.pub)`,
    ]);
  });

  it("refuses image IDs, non-Debian images, malformed and vulnerable Docker versions", () => {
    expect(problemsOf({ ...BASE, image: "12345", dockerVersion: "latest" })).toEqual([
      `hcloud-swarm:image must be an Ubuntu or Debian image name such as "ubuntu-24.04" or "debian-12" (Docker CE comes from Docker's apt repository; an image ID would force replacement), got "12345"`,
      `hcloud-swarm:dockerVersion must be a Docker CE release such as "${DEFAULTS.dockerVersion}", got "latest"`,
    ]);
    expect(problemsOf({ ...BASE, dockerVersion: "23.0.2" })).toEqual([
      `hcloud-swarm:dockerVersion 23.0.2 lacks the fixes for CVE-2023-28840/28841/28842 (encrypted overlays sending clear text), which came with 23.0.3 (and 20.10.24 in the 20.10 line); use ${DEFAULTS.dockerVersion}`,
    ]);
    expect(problemsOf({ ...BASE, dockerVersion: "20.10.23" })).toHaveLength(1);
    expect(validateConfig({ ...BASE, dockerVersion: "20.10.24" }, "dev").dockerVersion).toBe("20.10.24");
    expect(validateConfig({ ...BASE, dockerVersion: "24.0.0" }, "dev").dockerVersion).toBe("24.0.0");
  });

  it("needs a cluster name when the stack name cannot be one", () => {
    expect(problemsOf(BASE, "---")).toEqual([
      `hcloud-swarm:clusterName is not set and the stack name "---" is no usable default; set it, e.g. pulumi config set hcloud-swarm:clusterName swarm`,
    ]);
    expect(problemsOf({ ...BASE, clusterName: "x".repeat(41) })).toEqual([
      "hcloud-swarm:clusterName must be at most 40 characters so server names stay valid hostnames",
    ]);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({ managers: 2, workers: -1, locations: [], dockerVersion: "1", nope: 1 });
    expect(problems.map((p) => p.split(" ")[0])).toEqual([
      "hcloud-swarm:nope",
      "hcloud-swarm:managers",
      "hcloud-swarm:workers",
      "hcloud-swarm:serverType",
      "hcloud-swarm:locations",
      "hcloud-swarm:dockerVersion",
    ]);
  });
});

describe("validateConfig: Docker already on the image", () => {
  it("is off by default, accepts Pulumi's string form, and refuses a non-boolean by name", () => {
    expect(validateConfig(BASE, "dev").dockerOnImage).toBe(false);
    expect(validateConfig({ ...BASE, dockerOnImage: "true" }, "dev").dockerOnImage).toBe(true);
    expect(problemsOf({ ...BASE, dockerOnImage: "yes" })).toEqual([
      `hcloud-swarm:dockerOnImage must be true or false, got "yes"`,
    ]);
  });

  it("refuses dockerVersion next to it, since nothing would be installed", () => {
    expect(problemsOf({ ...BASE, dockerOnImage: true, dockerVersion: "28.5.1" })).toEqual([
      "hcloud-swarm:dockerVersion is set but hcloud-swarm:dockerOnImage is true: Docker comes from the image and nothing is installed, so the version would be ignored. Remove one: pulumi config rm hcloud-swarm:dockerVersion",
    ]);
  });
});

describe("validateConfig enforces Hetzner's limits", () => {
  it("refuses more swarm peers than a firewall's 500 effective rules allow in public-only mode", () => {
    expect(problemsOf({ ...BASE, privateNetwork: false, managers: 3, workers: 60 })).toEqual([
      "hcloud-swarm:workers 60 is too many for public-only mode: firewall dev-swarm opens the swarm ports to each node's /32 and /128, 504 effective rules, over Hetzner's 500. Use at most 59 workers, or set hcloud-swarm:privateNetwork true",
    ]);
    expect(validateConfig({ ...BASE, privateNetwork: false, managers: 3, workers: 59 }, "dev").workers).toBe(59);
    expect(validateConfig({ ...BASE, managers: 3, workers: 90 }, "dev").workers).toBe(90);
  });

  it("refuses more SSH source ranges than the base firewall can hold", () => {
    const many = Array.from({ length: 499 }, (_, i) => `198.51.${Math.floor(i / 256)}.${i % 256}/32`);
    expect(problemsOf({ ...BASE, sshAllowedCidrs: many })).toEqual([
      "hcloud-swarm:sshAllowedCidrs lists 499 ranges; firewall dev-base would have 501 effective rules, over Hetzner's 500. Merge them into fewer, wider ranges",
    ]);
  });

  it("refuses admin keys that push the user data over 32 KiB", () => {
    const rsa = `ssh-rsa ${"A".repeat(540)} admin@host`;
    const problems = problemsOf({ ...BASE, adminSshKeys: Array.from({ length: 60 }, () => rsa) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^hcloud-swarm:adminSshKeys makes the cloud-init user data \d+ bytes, over Hetzner's 32768; list fewer keys/,
    );
    expect(
      validateConfig({ ...BASE, adminSshKeys: Array.from({ length: 20 }, () => rsa) }, "dev").adminSshKeys,
    ).toHaveLength(20);
  });
});

describe("privateAllowedCidrs opens the private interface to named non-members", () => {
  it("accepts canonical ranges of both families and exports them in the inventory's firewall settings", () => {
    const c = validateConfig({ ...BASE, privateAllowedCidrs: '["10.0.1.0/24","fd00::/64"]' }, "dev");
    expect(c.privateAllowedCidrs).toEqual(["10.0.1.0/24", "fd00::/64"]);
  });

  it("refuses what the nodes' firewall script would refuse, naming each entry, and a range with no private network", () => {
    expect(
      problemsOf({
        ...BASE,
        privateAllowedCidrs: ["10.0.01.0/24", "10.0.1.0", "fe80::1%eth0/64"],
        privateNetwork: false,
      }),
    ).toEqual([
      `hcloud-swarm:privateAllowedCidrs[0] must be a CIDR such as "10.0.1.0/24" or "fd00::/64" (address/prefix, no leading zeros), got "10.0.01.0/24"`,
      `hcloud-swarm:privateAllowedCidrs[1] must be a CIDR such as "10.0.1.0/24" or "fd00::/64" (address/prefix, no leading zeros), got "10.0.1.0"`,
      `hcloud-swarm:privateAllowedCidrs[2] must be a CIDR such as "10.0.1.0/24" or "fd00::/64" (address/prefix, no leading zeros), got "fe80::1%eth0/64"`,
      "hcloud-swarm:privateAllowedCidrs opens the nodes' private interface, but hcloud-swarm:privateNetwork is false, so there is none. Remove it (pulumi config rm hcloud-swarm:privateAllowedCidrs) or set hcloud-swarm:privateNetwork true",
    ]);
  });
});

describe("validateConfig: keepDisk", () => {
  it("keeps disks by default, accepts Pulumi's string form, and refuses a non-boolean by name", () => {
    expect(validateConfig(BASE, "dev").keepDisk).toBe(true);
    expect(validateConfig({ ...BASE, keepDisk: "false" }, "dev").keepDisk).toBe(false);
    expect(problemsOf({ ...BASE, keepDisk: "maybe" })).toEqual([
      `hcloud-swarm:keepDisk must be true or false, got "maybe"`,
    ]);
  });
});
