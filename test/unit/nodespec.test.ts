/** The node spec (nodespec/): validation, hash, the managed authorized_keys block, daemon.json merge, the reconcile plan. */
import {
  ADMIN_BLOCK_BEGIN,
  ADMIN_BLOCK_END,
  mergedDaemonJson,
  nodeSpecProblems,
  packageCarries,
  specHash,
  specLabel,
  withAdminBlock,
} from "../../nodespec/spec";
import { NodeState, planReconcile, recordChange } from "../../nodespec/plan";
import { parseInventory } from "../../inventory/inventory";

const K1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 alice";
const K2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2 bob";
const DEPLOY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd deploy";

const host = (o: Partial<NodeState> = {}): NodeState => ({
  systemd: true,
  pkg: { name: "docker-ce", version: "5:28.5.1-1~debian.12~bookworm" },
  engine: "28.5.1",
  daemonJson: '{\n  "log-driver": "json-file"\n}\n',
  authorizedKeys: `${DEPLOY}\n`,
  modulesConf: undefined,
  modules: ["esp4", "xt_policy", "xt_u32"],
  ...o,
});

describe("node spec", () => {
  it("reports every bad key at once, naming it", () => {
    expect(
      nodeSpecProblems({
        dockerVersion: "latest",
        adminSshKeys: ["ssh-ed25519 AAAA\nssh-rsa BBBB", 3],
        daemonJson: { "live-restore": true },
        extra: 1,
      }),
    ).toEqual([
      "nodeSpec.extra is not a key of the node spec (dockerVersion, adminSshKeys, daemonJson)",
      'nodeSpec.dockerVersion must be a Docker release such as "28.5.1", got "latest"',
      expect.stringMatching(/^nodeSpec.adminSshKeys\[0\] must be one public key line/),
      expect.stringMatching(/^nodeSpec.adminSshKeys\[1\] must be one public key line/),
      'nodeSpec.daemonJson."live-restore" cannot be true: Docker refuses it in swarm mode',
    ]);
    expect(() =>
      parseInventory(JSON.stringify({ nodeSpec: { dockerVersion: 28 }, rolling: { maxUnavailable: 0 }, nodes: [] })),
    ).toThrow(
      /nodeSpec.dockerVersion must be a Docker release[\s\S]*rolling.maxUnavailable must be a whole number of workers, at least 1, got 0/,
    );
  });

  it("hashes the spec whatever the key order; a changed key changes the label", () => {
    const a = specHash({ daemonJson: { a: 1, b: { c: 2, d: 3 } }, adminSshKeys: [K1] });
    expect(specHash({ adminSshKeys: [K1], daemonJson: { b: { d: 3, c: 2 }, a: 1 } })).toBe(a);
    expect(specLabel({ adminSshKeys: [K1, K2] })).not.toBe(specLabel({ adminSshKeys: [K1] }));
    expect(specLabel({})).toMatch(/^1-[0-9a-f]{16}$/);
  });

  it("keeps lines outside the managed block; adopts cloud-init's unmarked copies once; removing a key removes it", () => {
    const first = withAdminBlock(`${DEPLOY}\n${K1}\n`, [K1, K2]);
    expect(first).toBe(`${DEPLOY}\n${ADMIN_BLOCK_BEGIN}\n${K1}\n${K2}\n${ADMIN_BLOCK_END}\n`);
    expect(withAdminBlock(first, [K1, K2])).toBe(first);
    const fewer = withAdminBlock(`${first}# a user's own line\n`, [K2]);
    expect(fewer).toBe(`${DEPLOY}\n# a user's own line\n${ADMIN_BLOCK_BEGIN}\n${K2}\n${ADMIN_BLOCK_END}\n`);
    expect(withAdminBlock(fewer, [])).toBe(`${DEPLOY}\n# a user's own line\n`);
    // Hostile: a key line that imitates the end marker inside the spec is refused by validation.
    expect(nodeSpecProblems({ adminSshKeys: [ADMIN_BLOCK_END] })).toHaveLength(1);
  });

  it("merges daemon.json keys over the node's own (a bed's cgroup-parent stays)", () => {
    const merged = JSON.parse(
      mergedDaemonJson('{"cgroup-parent": "/bed/n1", "log-driver": "local"}', { "log-driver": "json-file" }),
    ) as Record<string, unknown>;
    expect(merged).toEqual({ "cgroup-parent": "/bed/n1", "log-driver": "json-file" });
    expect(() => mergedDaemonJson("[1]", {})).toThrow(/not a JSON object/);
  });

  it("matches package versions to a release: Docker CE's epoch and revision, Debian's +dfsg; never a prefix of another release", () => {
    expect(packageCarries("5:28.5.1-1~debian.12~bookworm", "28.5.1")).toBe(true);
    expect(packageCarries("20.10.24+dfsg1-1+deb12u1", "20.10.24")).toBe(true);
    expect(packageCarries("5:28.5.10-1~debian.12~bookworm", "28.5.1")).toBe(false);
    expect(packageCarries("20.10.25+hsw1-1", "20.10.24")).toBe(false);
  });

  it("plans in-place changes apart from rolling ones, and records the spec only when nothing rolls", () => {
    const spec = { dockerVersion: "28.5.2", adminSshKeys: [K1], daemonJson: { "log-driver": "json-file" } };
    const p = planReconcile(host(), spec);
    expect(p.changes.map((c) => [c.item, c.rolling])).toEqual([
      ["admin-keys", false],
      ["kernel-modules", false],
      ["docker", true],
    ]);
    expect(planReconcile(host(), spec, "28.5.1").changes.map((c) => c.item)).toEqual(["admin-keys", "kernel-modules"]);
    expect(recordChange(host(), spec)?.content).toBe(`version 1\nhash ${specHash(spec)}\n`);
    expect(recordChange(host({ specFile: `version 1\nhash ${specHash(spec)}\n` }), spec)).toBeUndefined();
  });

  it("without systemd (the namespace bed) the engine and the kernel are the host machine's: notes, never actions", () => {
    const p = planReconcile(host({ systemd: false, modules: ["xt_policy", "xt_u32"] }), { dockerVersion: "28.5.2" });
    expect(p.changes).toEqual([]);
    expect(p.notes).toEqual([
      expect.stringMatching(/kernel modules are the host machine's .* not loaded: esp4 \(this kernel lacks ESP\)/),
      expect.stringMatching(
        /the Docker Engine is not run by systemd from a package here .* cannot be changed to 28.5.2/,
      ),
    ]);
  });
});
