import * as YAML from "yaml";
import { generateSshKeyPair } from "../../../common/sshkeys";
import { spawnSync } from "child_process";
import {
  DOCKER_APT_KEY_FINGERPRINT,
  dockerHasCveFixes,
  MATCH_MODULES,
  renderUserData,
  REQUIRED_MODULES,
} from "../../../infra/cloudinit";
import { FIREWALL_SCRIPT_PATH, FIREWALL_UNIT, firewallScript } from "../../../hostfw/script";
import { DOCKER_DROPIN_PATH, SSHD_DROPIN_PATH } from "../../../hostfw/units";
import { SETUP_PATH, setupScript, setupSteps } from "../../../infra/cloudinit-setup";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

interface CloudConfig {
  ssh_deletekeys: boolean;
  ssh_genkeytypes: string[];
  ssh_keys: { ed25519_private: string; ed25519_public: string };
  write_files: Array<{ path: string; content: string; append?: boolean; permissions?: string }>;
  runcmd: string[][];
}

const hostKey = generateSshKeyPair("root@dev-manager-1");
const render = (over: Partial<Parameters<typeof renderUserData>[0]> = {}) =>
  renderUserData({ distro: "ubuntu", dockerVersion: "28.5.1", hostKey, adminSshKeys: [], ...over });
const parse = (text: string): CloudConfig => YAML.parse(text) as CloudConfig;
const file = (doc: CloudConfig, path: string) => doc.write_files.find((f) => f.path === path)?.content ?? "";

describe("renderUserData", () => {
  it("is a #cloud-config document that installs the node's own ed25519 host key and no other", () => {
    const text = render();
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(text);
    expect(doc.ssh_keys).toEqual({ ed25519_private: hostKey.privateKey, ed25519_public: hostKey.publicKey });
    expect(doc.ssh_deletekeys).toBe(true);
    // Not [] (cloud-init's schema refuses it); with ssh_keys given nothing is generated anyway.
    expect(doc.ssh_genkeytypes).toEqual(["ed25519"]);
  });

  it("pins Docker CE from Docker's apt repository and checks the repository key", () => {
    const doc = parse(render({ dockerVersion: "27.5.1", distro: "debian" }));
    expect(file(doc, "/etc/apt/preferences.d/docker-ce")).toBe(
      "Package: docker-ce docker-ce-cli\nPin: version 5:27.5.1-*\nPin-Priority: 1001\n",
    );
    const script = file(doc, "/usr/local/sbin/hcloud-swarm-install-docker");
    expect(script).toContain("https://download.docker.com/linux/debian/gpg");
    expect(script).toContain(DOCKER_APT_KEY_FINGERPRINT);
    expect(script).toContain("apt-get install -y -q docker-ce docker-ce-cli containerd.io");
    expect(script).toContain(`= "27.5.1"`);
    expect(script).not.toContain("get.docker.com |");
    expect(doc.runcmd).toEqual([[SETUP_PATH]]);
    expect(setupSteps("/usr/local/sbin/hcloud-swarm-install-docker").map((s) => s.name)).toEqual([
      "firewall",
      "sshd",
      "kernel-modules",
      "docker",
    ]);
    expect(file(doc, SETUP_PATH)).toMatch(/^step docker \/usr\/local\/sbin\/hcloud-swarm-install-docker$/m);
  });

  it("installs the host firewall bootstrap runs, and a unit that restores it at every boot before dockerd", () => {
    const doc = parse(render());
    expect(file(doc, FIREWALL_SCRIPT_PATH)).toBe(firewallScript());
    expect(doc.write_files.find((f) => f.path === FIREWALL_SCRIPT_PATH)?.permissions).toBe("0755");
    const unit = file(doc, `/etc/systemd/system/${FIREWALL_UNIT}`);
    expect(unit).toMatch(/^Before=.*docker\.service/m);
    expect(unit).toContain(`ExecStart=${FIREWALL_SCRIPT_PATH} restore`);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    // Enabled and started by cloud-init's first setup step, before anything else runs.
    expect(
      file(doc, SETUP_PATH)
        .split("\n")
        .find((l) => l.startsWith("step ")),
    ).toBe("step firewall firewall_step");
    expect(file(doc, SETUP_PATH)).toContain(`systemctl enable --now ${FIREWALL_UNIT}`);
    // docker.service cannot start without it; sshd takes root by key only.
    expect(file(doc, DOCKER_DROPIN_PATH)).toMatch(
      new RegExp(`^Requires=${FIREWALL_UNIT}$[\\s\\S]*^After=${FIREWALL_UNIT}$`, "m"),
    );
    expect(file(doc, SSHD_DROPIN_PATH)).toMatch(/^PasswordAuthentication no$/m);
    expect(file(doc, SSHD_DROPIN_PATH)).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect((parse(render()) as unknown as { ssh_pwauth: boolean }).ssh_pwauth).toBe(false);
  });

  it("the setup program, run by a real sh, stops at the first failed step, names it and exits non-zero", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "setup-"));
    try {
      const stepFile = path.join(dir, "failed-step");
      const ran = path.join(dir, "ran");
      const steps = [
        { name: "firewall", argv: ["touch", `${ran}.firewall`] },
        { name: "kernel-modules", argv: ["false"] },
        { name: "docker", argv: ["touch", `${ran}.docker`] },
      ];
      const bad = spawnSync("/bin/sh", ["-c", setupScript(steps, stepFile)], { encoding: "utf8" });
      expect({ status: bad.status, step: fs.readFileSync(stepFile, "utf8").trim() }).toEqual({
        status: 1,
        step: "kernel-modules",
      });
      expect(bad.stderr).toContain('setup step "kernel-modules" failed');
      expect(fs.existsSync(`${ran}.firewall`)).toBe(true);
      expect(fs.existsSync(`${ran}.docker`)).toBe(false);
      // Control: with every step passing it exits 0 and leaves no failed step behind.
      const good = spawnSync("/bin/sh", ["-c", setupScript([steps[0], steps[2]], stepFile)], { encoding: "utf8" });
      expect({ status: good.status, left: fs.existsSync(stepFile), docker: fs.existsSync(`${ran}.docker`) }).toEqual({
        status: 0,
        left: false,
        docker: true,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("loads the kernel modules encrypted overlays need and fails when one is missing", () => {
    const doc = parse(render());
    const conf = file(doc, "/etc/modules-load.d/hcloud-swarm.conf").split("\n");
    for (const m of ["esp4", "xt_u32", "xt_policy", "ip_vs", "br_netfilter"]) expect(conf).toContain(m);
    const script = file(doc, "/usr/local/sbin/hcloud-swarm-modules");
    expect(script).toContain(`for m in ${REQUIRED_MODULES.join(" ")}; do modprobe "$m" || {`);
    // Docker needs only one packet-match module; requiring both would fail on kernels without xt_u32.
    expect(REQUIRED_MODULES).not.toContain("xt_u32");
    expect(conf).toEqual(expect.arrayContaining(MATCH_MODULES));
    expect(script).toMatch(/neither xt_u32 nor xt_bpf loads/);
    expect(script).toContain("exit $rc");
    expect(file(doc, "/etc/sysctl.d/90-hcloud-swarm.conf")).toContain("net.ipv4.ip_forward = 1");
    expect(JSON.parse(file(doc, "/etc/docker/daemon.json"))).not.toHaveProperty("live-restore");
  });

  it("appends admin keys to root's authorized_keys only when there are some", () => {
    expect(parse(render()).write_files.some((f) => f.path === "/root/.ssh/authorized_keys")).toBe(false);
    const keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB you@desk",
    ];
    const entry = parse(render({ adminSshKeys: keys })).write_files.find(
      (f) => f.path === "/root/.ssh/authorized_keys",
    );
    expect(entry).toMatchObject({ append: true, permissions: "0600", content: keys.join("\n") + "\n" });
  });

  it("changes only with the host key, so nodes differ by nothing else", () => {
    const other = generateSshKeyPair("root@dev-manager-1");
    const a = render();
    const b = render({ hostKey: other });
    expect(render()).toBe(a);
    expect(a).not.toBe(b);
    const withoutKeys = (text: string) => ({ ...parse(text), ssh_keys: null });
    expect(withoutKeys(b)).toEqual(withoutKeys(a));
    expect(parse(b).ssh_keys.ed25519_public).toBe(other.publicKey);
  });
});

describe("user data with Docker already on the image", () => {
  const doc = parse(render({ dockerOnImage: true }));
  const check = file(doc, "/usr/local/sbin/hcloud-swarm-check-docker");

  it("checks the engine instead of installing Docker CE, and pins nothing", () => {
    expect(file(doc, SETUP_PATH)).toMatch(/^step docker \/usr\/local\/sbin\/hcloud-swarm-check-docker$/m);
    expect(doc.write_files.map((f) => f.path)).not.toContain("/usr/local/sbin/hcloud-swarm-install-docker");
    expect(doc.write_files.map((f) => f.path)).not.toContain("/etc/apt/preferences.d/docker-ce");
    expect(check).toContain("systemctl enable --now docker");
    expect(check).not.toMatch(/apt-get|curl/);
  });

  // The script's own comparison, run by a real sh with the version where `docker version` would print it.
  const judge = (version: string): boolean => {
    const body = check
      .split("\n")
      .filter((l) => !l.startsWith("command -v docker") && !l.startsWith("systemctl "))
      .map((l) => (l.startsWith("v=$(docker version") ? 'v="$1"' : l))
      .join("\n");
    const r = spawnSync("/bin/sh", ["-c", body, "sh", version], { encoding: "utf8" });
    if (r.status !== 0 && !/lacks the fixes|cannot read/.test(r.stderr))
      throw new Error(`unexpected failure for ${version}: ${r.stderr}`);
    return r.status === 0;
  };

  it.each([
    ["20.10.24+dfsg1", true],
    ["20.10.23", false],
    ["20.10.25", true],
    ["23.0.2", false],
    ["23.0.3", true],
    ["23.1.0", true],
    ["24.0.0-rc.1", true],
    ["28.5.1", true],
    ["19.03.15", false],
    ["1.13.1", false],
    ["20.9.99", false],
    ["22.0.0", false],
    ["100.0.0", true],
  ])(
    "accepts %s only when it has the CVE-2023-28840/1/2 fixes (expected %s), as the config check does",
    (version, fixed) => {
      expect(dockerHasCveFixes(version)).toBe(fixed);
      expect(judge(version)).toBe(fixed);
    },
  );

  it.each(["", "garbage", "20.10", "20..24", "v28.5.1", "28.5.x"])("refuses the unreadable version %p", (version) => {
    expect(dockerHasCveFixes(version)).toBe(false);
    expect(judge(version)).toBe(false);
  });
});
