import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadInventory, parseInventory, validateInventory } from "../../inventory/inventory";
import { ValidationError } from "../../common/problems";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeButWellFormedBase64KeyMaterialForTests00";

function node(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "manager-1",
    role: "manager",
    host: "10.213.1.11",
    hostKey: HOST_KEY,
    advertiseAddress: "10.213.1.11",
    ...overrides,
  };
}

function problemsOf(value: unknown): readonly string[] {
  try {
    validateInventory(value, "inv");
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  return [];
}

describe("inventory", () => {
  it("fills the SSH defaults: port 22, user root, no labels", () => {
    const inv = validateInventory({ nodes: [node()] });
    expect(inv.nodes[0]).toMatchObject({ port: 22, user: "root", labels: {} });
  });

  it("keeps optional addresses, key path and swarm settings", () => {
    const inv = validateInventory({
      cluster: "prod",
      swarm: { defaultAddrPool: "10.128.0.0/16", overlayMtu: 1450 },
      nodes: [
        node({
          privateKeyPath: "/root/.ssh/id",
          publicAddress: "192.0.2.10",
          privateAddress: "10.0.1.2",
          labels: { edge: "true" },
        }),
      ],
    });
    expect(inv.cluster).toBe("prod");
    expect(inv.swarm).toEqual({ defaultAddrPool: "10.128.0.0/16", overlayMtu: 1450 });
    expect(inv.nodes[0]).toMatchObject({
      privateKeyPath: "/root/.ssh/id",
      publicAddress: "192.0.2.10",
      labels: { edge: "true" },
    });
  });

  it("reports every problem at once, each naming the node and key", () => {
    const problems = problemsOf({
      nodes: [
        node({ role: "boss", port: 0, hostKey: "not-a-key" }),
        node({ name: "worker-1", role: "worker", advertiseAddress: "nowhere", privateKeyPath: "relative/key" }),
        node({ name: "worker-1", role: "worker" }),
      ],
    });
    expect(problems).toEqual([
      `nodes[0] (manager-1).role must be "manager" or "worker", got "boss"`,
      "nodes[0] (manager-1).port must be a whole number from 1 to 65535, got 0",
      `nodes[0] (manager-1).hostKey must be the node's host public key, "ssh-ed25519 AAAA…" (as in /etc/ssh/ssh_host_ed25519_key.pub); there is no trust-on-first-use`,
      `nodes[1] (worker-1).privateKeyPath must be an absolute path to an OpenSSH private key, got "relative/key"`,
      `nodes[1] (worker-1).advertiseAddress must be the IP address swarm traffic uses, got "nowhere"`,
      "nodes[2] (worker-1).name is used twice; node names must be unique",
      `nodes must include at least one node with "role": "manager"`,
    ]);
  });

  it("rejects bad swarm settings with the key and an example", () => {
    expect(problemsOf({ swarm: { defaultAddrPool: "10.0.0.0", overlayMtu: 100 }, nodes: [node()] })).toEqual([
      `swarm.defaultAddrPool must be an IPv4 CIDR such as "10.128.0.0/16", got "10.0.0.0"`,
      "swarm.overlayMtu must be the underlay MTU, 1450 on a Hetzner private network or 1500, got 100",
    ]);
  });

  it("refuses labels a placement constraint could not name, reserved bookkeeping labels, and shell-hostile values", () => {
    const labels = {
      "wordpress data": "true",
      "hcloud-swarm.pin.wordpress-data": "wordpress",
      tier: "a'b; rm -rf /",
      n: 3,
      "ok.label_1": "true",
    };
    expect(problemsOf({ nodes: [node({ labels })] })).toEqual([
      expect.stringMatching(
        /^nodes\[0\] \(manager-1\)\.labels: label name "wordpress data" must be letters, digits, "\.", "_" and "-" .*node\.labels\.<name>/,
      ),
      expect.stringMatching(/^nodes\[0\] \(manager-1\)\.labels: label "hcloud-swarm\.pin\.wordpress-data" is reserved/),
      expect.stringMatching(/^nodes\[0\] \(manager-1\)\.labels\.tier value "a'b; rm -rf \/" must be letters, digits/),
      `nodes[0] (manager-1).labels.n must be a string such as "true", got 3`,
    ]);
    expect(problemsOf({ nodes: [node({ labels: ["edge"] })] })).toEqual([
      expect.stringMatching(/^nodes\[0\] \(manager-1\)\.labels must be an object of label names to string values/),
    ]);
  });

  it("refuses a document without a node list", () => {
    expect(problemsOf({ hosts: [] })).toEqual([
      `"nodes" must be a list of nodes: {"nodes": [{"name": …, "role": …, …}]}`,
    ]);
  });

  it("names the file when the JSON does not parse", () => {
    expect(() => parseInventory("{nodes: [", "inventory x.json")).toThrow(/^inventory x\.json is not valid JSON: /);
  });

  it("loads a file and names it in validation errors", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "inv-")), "inventory.json");
    fs.writeFileSync(file, JSON.stringify({ nodes: [node({ host: "bad host!" })] }));
    expect(() => loadInventory(file)).toThrow(
      `inventory ${file} has 1 problem:\n  - nodes[0] (manager-1).host must be an IP address or host name, got "bad host!"`,
    );
    expect(() => loadInventory(file + ".missing")).toThrow(`cannot read inventory ${file}.missing: ENOENT`);
  });
});
