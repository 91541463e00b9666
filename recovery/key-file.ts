/**
 * The backup key: 32 random bytes, generated once, kept in a 0600 file the user holds. It never
 * leaves this machine: archives are encrypted and decrypted here, not on the nodes.
 * Under `pulumi up` the SwarmKeys resource generates one as the secret output backupKey, in this
 * file's format (./backup-key-format).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { KEY_BYTES } from "./archive";
import { BACKUP_KEY_PREFIX } from "./backup-key-format";

const PREFIX = BACKUP_KEY_PREFIX;

/** Default key file: .hcloud-swarm/backup-keys/<cluster>.key, beside the stacks' secrets. */
export function defaultKeyFile(cluster: string): string {
  return path.join(".hcloud-swarm", "backup-keys", `${cluster}.key`);
}

/** Reads a file holding a secret, refusing one that others can read. */
export function readSecretFile(file: string, what: string, hint: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new Error(
      `cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; ${hint}`,
    );
  }
  if ((st.mode & 0o077) !== 0)
    throw new Error(
      `the ${what} ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``,
    );
  return fs.readFileSync(file, "utf8").trim();
}

/** Reads a key file, refusing one that others can read and one that is not a key. */
export function readKeyFile(file: string): Buffer {
  const text = readSecretFile(file, "backup key", "pass the key file used at backup time with --key-file");
  const key = text.startsWith(PREFIX) ? Buffer.from(text.slice(PREFIX.length), "base64") : Buffer.alloc(0);
  if (key.length !== KEY_BYTES)
    throw new Error(
      `${file} is not an hcloud-swarm backup key (expected one line "${PREFIX}<base64 of ${KEY_BYTES} bytes>")`,
    );
  return key;
}

/** The key in `file`, generating it (mode 0600, never overwriting) when the file does not exist. */
export function ensureKeyFile(file: string): { key: Buffer; created: boolean } {
  if (fs.existsSync(file)) return { key: readKeyFile(file), created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(KEY_BYTES);
  fs.writeFileSync(file, `${PREFIX}${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return { key, created: true };
}
