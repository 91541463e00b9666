// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Ed25519 SSH key pairs in OpenSSH formats, made with Node's own crypto (no ssh-keygen needed).
 *
 * The private key is written as "openssh-key-v1" (-----BEGIN OPENSSH PRIVATE KEY-----) because
 * ssh2 (under node-ssh) rejects PKCS8 PEM, and cloud-init's `ssh_keys:` hands it to sshd as is.
 *
 * Everything here must survive Pulumi's closure serialization (the key-pair dynamic provider
 * captures these functions), so module-level values are plain strings and numbers only.
 */
import * as crypto from "crypto";

export interface SshKeyPair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----…", unencrypted. A secret. */
  readonly privateKey: string;
  /** "ssh-ed25519 AAAA… comment", one line, as in authorized_keys or ssh_host_ed25519_key.pub. */
  readonly publicKey: string;
  /** "SHA256:…", as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
}

/** DER prefix of a PKCS8 Ed25519 private key; the 32-byte seed follows it (RFC 8410). */
const PKCS8_ED25519_PREFIX_HEX = "302e020100300506032b657004220420";
const KEY_TYPE = "ssh-ed25519";
/** The unencrypted ("none" cipher) private section is padded to this block size. */
const CIPHER_BLOCK = 8;
const PEM_LINE = 70;

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** The wire-format public key blob: string "ssh-ed25519", string key. */
function publicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
}

/** `ssh-keygen -lf` style fingerprint of a raw public key blob: unpadded base64 of its SHA-256. */
export function blobFingerprint(blob: Buffer): string {
  return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** Fingerprint of a public key line ("ssh-ed25519 AAAA… comment"); any key type. */
export function publicKeyFingerprint(publicKeyLine: string): string {
  const parts = publicKeyLine.trim().split(/\s+/);
  if (parts.length < 2 || !/^[A-Za-z0-9+/]+={0,3}$/.test(parts[1])) {
    throw new Error(`not an OpenSSH public key line: expected "<type> <base64> [comment]"`);
  }
  return blobFingerprint(Buffer.from(parts[1], "base64"));
}

/**
 * Builds the key pair for a given 32-byte seed. Deterministic: the same seed and comment give the
 * same bytes (the check integers are derived from the seed instead of being random).
 */
export function sshKeyPairFromSeed(seed: Buffer, comment: string): SshKeyPair {
  if (seed.length !== 32) throw new Error(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
  if (/[\r\n]/.test(comment)) throw new Error("an SSH key comment must be a single line");
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([Buffer.from(PKCS8_ED25519_PREFIX_HEX, "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = crypto.createPublicKey(privateKey).export({ format: "jwk" });
  const pub = Buffer.from(String(jwk.x), "base64url");
  const blob = publicBlob(pub);

  const check = crypto.createHash("sha256").update(seed).digest().readUInt32BE(0);
  let section = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString(KEY_TYPE),
    sshString(pub),
    // OpenSSH stores the 64-byte "secret key" of ref10: seed followed by the public key.
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padding: number[] = [];
  for (let i = 1; (section.length + padding.length) % CIPHER_BLOCK !== 0; i++) padding.push(i);
  section = Buffer.concat([section, Buffer.from(padding)]);

  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "binary"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(blob),
    sshString(section),
  ]);
  const b64 = body.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += PEM_LINE) lines.push(b64.slice(i, i + PEM_LINE));
  return {
    privateKey: ["-----BEGIN OPENSSH PRIVATE KEY-----", ...lines, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n"),
    publicKey: `${KEY_TYPE} ${blob.toString("base64")}${comment ? " " + comment : ""}`,
    fingerprint: blobFingerprint(blob),
  };
}

/** A fresh random Ed25519 key pair. */
export function generateSshKeyPair(comment: string): SshKeyPair {
  return sshKeyPairFromSeed(crypto.randomBytes(32), comment);
}
