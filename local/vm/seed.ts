/**
 * A VM's NoCloud seed: a small ISO labelled `cidata` holding user-data (the caller's, byte for
 * byte), meta-data and network-config (the bed's, as Hetzner's metadata service provides them).
 * The user data carries the node's private host key, so every file here is root-only.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "../common/host-command";
import { metaData, networkConfig, SeedInput } from "./plan";

/** Writes `iso` from the three documents; the plain files are removed again (the ISO holds them). */
export async function writeSeed(iso: string, userData: string, input: SeedInput): Promise<void> {
  const dir = `${iso}.d`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(path.join(dir, "user-data"), userData, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "meta-data"), metaData(input), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "network-config"), networkConfig(input), { mode: 0o600 });
    fs.rmSync(iso, { force: true });
    const fd = fs.openSync(iso, "w", 0o600);
    fs.closeSync(fd);
    await run("genisoimage", [
      "-quiet",
      "-output",
      iso,
      "-volid",
      "cidata",
      "-joliet",
      "-rock",
      path.join(dir, "user-data"),
      path.join(dir, "meta-data"),
      path.join(dir, "network-config"),
    ]);
    fs.chmodSync(iso, 0o600);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
