/**
 * The unlock keys the CLI keeps: one file per cluster, mode 0600, beside the backup key
 * (.hcloud-swarm/unlock-keys/<cluster>.key), one key per line, newest first. A new set of keys is
 * written to a temporary file and renamed over the old one, so at every moment the file holds
 * either the old keys or the new ones, never nothing: a crash in the middle of a rotation cannot
 * lose the only key.
 */
import * as fs from "fs";
import * as path from "path";
import { readSecretFile } from "./key-file";
import { UNLOCK_KEY_SHAPE } from "../swarm/autolock-plan";
import type { UnlockKeyStore } from "../swarm/autolock";

/** Default unlock key file of a cluster: .hcloud-swarm/unlock-keys/<cluster>.key, beside backup-keys/. */
export function defaultUnlockKeyFile(cluster: string): string {
  return path.join(".hcloud-swarm", "unlock-keys", `${cluster}.key`);
}

/** The keys in `file`, newest first; [] when the file does not exist. Refuses a file others can read, or one that holds no keys. */
export function readUnlockKeys(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const text = readSecretFile(file, "unlock key file", "pass the file holding the swarm's unlock key with --key-file");
  const lines = text.split("\n").map((l) => l.trim());
  const bad = lines.map((l, i) => (l !== "" && !UNLOCK_KEY_SHAPE.test(l) ? i + 1 : 0)).filter((i) => i > 0);
  if (bad.length > 0)
    throw new Error(
      `${file} line ${bad.join(", ")}: not a swarm unlock key (expected one "SWMKEY-1-…" per line, as \`docker swarm unlock-key -q\` prints it)`,
    );
  return lines.filter((l) => l !== "");
}

/** Writes the keys (newest first) atomically: a temporary 0600 file, flushed, then renamed over `file`. */
export function writeUnlockKeys(file: string, keys: readonly string[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeSync(fd, keys.map((k) => `${k}\n`).join(""));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** The CLI's store: the keys of `file`, kept back into it. */
export function fileKeyStore(file: string): UnlockKeyStore {
  let known = readUnlockKeys(file);
  return {
    get known() {
      return known;
    },
    keep(keys) {
      writeUnlockKeys(file, keys);
      known = [...keys];
    },
    where: file,
  };
}
