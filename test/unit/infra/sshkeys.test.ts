import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateSshKeyPair, publicKeyFingerprint, sshKeyPairFromSeed } from "../../../common/sshkeys";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-sshkeys-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeKey(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe("generateSshKeyPair", () => {
  it("writes a private key that ssh-keygen reads back to the same public key", () => {
    const pair = generateSshKeyPair("deploy@hcloud-swarm");
    expect(pair.privateKey.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n")).toBe(true);
    const file = writeKey("id_a", pair.privateKey);
    const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
    // ssh-keygen -y appends the comment stored in the private key.
    expect(derived).toBe(pair.publicKey);
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+ deploy@hcloud-swarm$/);
  });

  it("reports the same SHA256 fingerprint as ssh-keygen -lf, for the private and the public file", () => {
    const pair = generateSshKeyPair("root@manager-1");
    const priv = writeKey("id_b", pair.privateKey);
    const pub = writeKey("id_b.pub", pair.publicKey + "\n");
    for (const f of [priv, pub]) {
      const out = execFileSync("ssh-keygen", ["-l", "-f", f], { encoding: "utf8" });
      expect(out.split(" ")[1]).toBe(pair.fingerprint);
    }
    expect(publicKeyFingerprint(pair.publicKey)).toBe(pair.fingerprint);
  });

  it("makes a different key every time", () => {
    const a = generateSshKeyPair("x");
    const b = generateSshKeyPair("x");
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(a.privateKey).not.toBe(b.privateKey);
  });
});

describe("sshKeyPairFromSeed", () => {
  it("is deterministic for a seed and valid for ssh-keygen with an empty comment", () => {
    const seed = Buffer.alloc(32, 7);
    const a = sshKeyPairFromSeed(seed, "");
    expect(sshKeyPairFromSeed(seed, "")).toEqual(a);
    expect(a.publicKey.split(" ")).toHaveLength(2);
    const derived = execFileSync("ssh-keygen", ["-y", "-f", writeKey("id_c", a.privateKey)], {
      encoding: "utf8",
    }).trim();
    expect(derived.split(" ").slice(0, 2).join(" ")).toBe(a.publicKey);
  });

  it("refuses a seed of the wrong length and a multi-line comment", () => {
    expect(() => sshKeyPairFromSeed(Buffer.alloc(31), "c")).toThrow("an Ed25519 seed is 32 bytes, got 31");
    expect(() => sshKeyPairFromSeed(Buffer.alloc(32), "a\nb")).toThrow("single line");
  });
});

describe("publicKeyFingerprint", () => {
  it("rejects text that is not a public key line", () => {
    expect(() => publicKeyFingerprint("hello")).toThrow("not an OpenSSH public key line");
  });
});
