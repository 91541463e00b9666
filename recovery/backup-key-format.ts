// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The text of a backup key, as the 0600 key file holds it and as the Pulumi secret output
 * `backupKey` carries it: one line, the prefix and 32 random bytes in base64. One format, so
 * `pulumi stack output --show-secrets backupKey > .hcloud-swarm/backup-keys/<cluster>.key` is a key file.
 */
import * as crypto from "crypto";

export const BACKUP_KEY_PREFIX = "hcloud-swarm-backup-key-v1 ";
/** AES-256-GCM's key length (recovery/archive.ts KEY_BYTES). */
export const BACKUP_KEY_BYTES = 32;

/** A new key's text, generated here and never anywhere else. */
export function newBackupKeyText(): string {
  return `${BACKUP_KEY_PREFIX}${crypto.randomBytes(BACKUP_KEY_BYTES).toString("base64")}`;
}
