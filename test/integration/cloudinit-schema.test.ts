/**
 * Every variant of the program's user data passes cloud-init's own schema check (Debian 12's
 * cloud-init 22.4, unpacked aside). Newer cloud-init releases turn schema errors into a "degraded"
 * boot, and bootstrap's `cloud-init status --wait` would then report every node.
 */
import { generateSshKeyPair } from "../../common/sshkeys";
import { renderUserData, UserDataInput } from "../../infra/cloudinit";
import { cloudInitSchema } from "../support/cloud-init-schema";

const hostKey = generateSshKeyPair("root@dev-manager-1");
const admins = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA me@laptop", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ you@desk"];

const variants: Array<[string, UserDataInput]> = [];
for (const distro of ["ubuntu", "debian"] as const) {
  for (const dockerOnImage of [false, true]) {
    for (const adminSshKeys of [[], admins]) {
      variants.push([
        `${distro}, ${dockerOnImage ? "Docker on the image" : "Docker CE installed"}, ${adminSshKeys.length} admin keys`,
        { distro, dockerVersion: "28.5.1", dockerOnImage, hostKey, adminSshKeys },
      ]);
    }
  }
}

describe("the program's user data against cloud-init's schema", () => {
  it.each(variants)("%s is valid cloud-config", async (_name, input) => {
    const r = await cloudInitSchema(renderUserData(input));
    expect(r.output).toMatch(/Valid cloud-config/);
    expect(r.valid).toBe(true);
  });

  it("the check itself refuses what cloud-init refuses (the empty key-type list the program used to write)", async () => {
    const broken = renderUserData(variants[0][1]).replace(/ssh_genkeytypes:\n(\s+- .*\n)+/, "ssh_genkeytypes: []\n");
    expect(broken).toContain("ssh_genkeytypes: []");
    const r = await cloudInitSchema(broken);
    expect(r.valid).toBe(false);
    expect(r.output).toMatch(/ssh_genkeytypes: \[\] is too short/);
  });
});
