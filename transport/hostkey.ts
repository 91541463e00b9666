// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Host key pinning. ssh2 hands `hostVerifier` the raw key blob the server presented; the inventory
 * holds the same key in OpenSSH public-key form ("ssh-ed25519 AAAA… comment"). Comparing the
 * decoded blob byte for byte is exact, and there is deliberately no trust-on-first-use path.
 */
import * as crypto from "crypto";

export interface PinnedHostKey {
  /** Key type as in the public key line, e.g. "ssh-ed25519". */
  readonly type: string;
  /** The raw public key blob (the base64 field decoded). */
  readonly blob: Buffer;
}

/** Parses "ssh-ed25519 AAAA… [comment]" into its type and blob; throws naming the node when malformed. */
export function parseHostKey(line: string, node: string): PinnedHostKey {
  const [type, b64] = line.trim().split(/\s+/);
  const blob = Buffer.from(b64 ?? "", "base64");
  // The blob starts with the key type as an SSH string; checking it catches truncated or mixed-up keys.
  const inner = blob.length > 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1") : "";
  if (!type || inner !== type) {
    throw new Error(
      `hostKey of ${node} is not a valid OpenSSH public key ("${type ?? ""} …"); copy it from /etc/ssh/ssh_host_ed25519_key.pub on the node`,
    );
  }
  return { type, blob };
}

/** The fingerprint `ssh-keygen -lf` prints: "SHA256:" + unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/**
 * Host key algorithms to offer so the server presents the pinned key and not another of its host
 * keys (servers usually have ed25519, ecdsa and rsa keys; without this the negotiated one could
 * differ from the pinned one and be refused although the host is genuine).
 */
export function hostKeyAlgorithms(type: string): string[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}
