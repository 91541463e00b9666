/**
 * The backup archive on disk: AES-256-GCM from Node's crypto (authenticated, so a changed byte is
 * caught), with a clear header that lets a wrong key or a cut-off file be told apart from tampering
 * before anything is decrypted:
 *
 *   "HSWBKP01" | key id (8) | IV (12) | ciphertext length (8, big-endian) | ciphertext | GCM tag (16)
 *
 * The header is the GCM additional data, so it cannot be altered either. The plaintext is
 * manifest length (4, big-endian) | manifest JSON | tar.gz of the swarm directory.
 */
import * as crypto from "crypto";

const MAGIC = Buffer.from("HSWBKP01");
const HEADER_BYTES = MAGIC.length + 8 + 12 + 8;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** A short, non-secret fingerprint of a key: tells "wrong key" from "damaged archive". */
export function keyId(key: Buffer): Buffer {
  return crypto.createHash("sha256").update("hcloud-swarm backup key id\0").update(key).digest().subarray(0, 8);
}

export function sealArchive(key: Buffer, manifestJson: string, data: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new Error(`a backup key is ${KEY_BYTES} bytes, got ${key.length}`);
  const manifest = Buffer.from(manifestJson, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(manifest.length);
  const plain = Buffer.concat([len, manifest, data]);
  const iv = crypto.randomBytes(12);
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(plain.length));
  const header = Buffer.concat([MAGIC, keyId(key), iv, size]);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

export interface OpenedArchive {
  readonly manifestJson: string;
  readonly data: Buffer;
}

/** Decrypts an archive; every refusal says which of wrong file, cut-off file, wrong key or tampering it is. */
export function openArchive(key: Buffer, archive: Buffer, source: string): OpenedArchive {
  if (archive.length < MAGIC.length || !archive.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(
      `${source} is not an hcloud-swarm backup (it does not start with ${MAGIC.toString()}); pass the file \`hcloud-swarm backup\` printed`,
    );
  }
  if (archive.length < HEADER_BYTES)
    throw new Error(
      `${source} is truncated: ${archive.length} bytes, not even the ${HEADER_BYTES}-byte header; copy the archive again`,
    );
  const header = archive.subarray(0, HEADER_BYTES);
  const id = header.subarray(MAGIC.length, MAGIC.length + 8);
  const iv = header.subarray(MAGIC.length + 8, MAGIC.length + 20);
  const size = header.readBigUInt64BE(MAGIC.length + 20);
  const expected = BigInt(HEADER_BYTES) + size + BigInt(TAG_BYTES);
  if (BigInt(archive.length) < expected)
    throw new Error(
      `${source} is truncated: ${archive.length} of ${expected} bytes; copy the archive again (nothing was changed on any node)`,
    );
  if (BigInt(archive.length) > expected)
    throw new Error(
      `${source} has ${BigInt(archive.length) - expected} bytes more than its header announces; it is damaged or not one archive (nothing was changed on any node)`,
    );
  if (!id.equals(keyId(key))) {
    throw new Error(
      `${source} was encrypted with another key (key id ${id.toString("hex")}, the key file holds ${keyId(key).toString("hex")}); pass the key file used at backup time with --key-file (nothing was changed on any node)`,
    );
  }
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(header);
  decipher.setAuthTag(archive.subarray(archive.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([
      decipher.update(archive.subarray(HEADER_BYTES, archive.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new Error(
      `${source} failed authentication: it was altered or damaged after it was written (the key is the right one); use another backup (nothing was changed on any node)`,
    );
  }
  const mlen = plain.readUInt32BE(0);
  return { manifestJson: plain.subarray(4, 4 + mlen).toString("utf8"), data: plain.subarray(4 + mlen) };
}
