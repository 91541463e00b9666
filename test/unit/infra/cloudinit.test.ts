import * as YAML from "yaml";
import { generateSshKeyPair } from "../../../common/sshkeys";
import { DOCKER_APT_KEY_FINGERPRINT, renderUserData, REQUIRED_MODULES } from "../../../infra/cloudinit";

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
    expect(file(doc, "/etc/apt/preferences.d/docker-ce")).toBe("Package: docker-ce docker-ce-cli\nPin: version 5:27.5.1-*\nPin-Priority: 1001\n");
    const script = file(doc, "/usr/local/sbin/hcloud-swarm-install-docker");
    expect(script).toContain("https://download.docker.com/linux/debian/gpg");
    expect(script).toContain(DOCKER_APT_KEY_FINGERPRINT);
    expect(script).toContain("apt-get install -y -q docker-ce docker-ce-cli containerd.io");
    expect(script).toContain(`= "27.5.1"`);
    expect(script).not.toContain("get.docker.com |");
    expect(doc.runcmd).toEqual([["/usr/local/sbin/hcloud-swarm-modules"], ["/usr/local/sbin/hcloud-swarm-install-docker"]]);
  });

  it("loads the kernel modules encrypted overlays need and fails when one is missing", () => {
    const doc = parse(render());
    const conf = file(doc, "/etc/modules-load.d/hcloud-swarm.conf").split("\n");
    for (const m of ["esp4", "xt_u32", "xt_policy", "ip_vs", "br_netfilter"]) expect(conf).toContain(m);
    const script = file(doc, "/usr/local/sbin/hcloud-swarm-modules");
    expect(script).toContain(`for m in ${REQUIRED_MODULES.join(" ")}; do modprobe "$m" || {`);
    expect(script).toContain("exit $rc");
    expect(file(doc, "/etc/sysctl.d/90-hcloud-swarm.conf")).toContain("net.ipv4.ip_forward = 1");
    expect(JSON.parse(file(doc, "/etc/docker/daemon.json"))).not.toHaveProperty("live-restore");
  });

  it("appends admin keys to root's authorized_keys only when there are some", () => {
    expect(parse(render()).write_files.some((f) => f.path === "/root/.ssh/authorized_keys")).toBe(false);
    const keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB you@desk"];
    const entry = parse(render({ adminSshKeys: keys })).write_files.find((f) => f.path === "/root/.ssh/authorized_keys");
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
