/**
 * A bed directory's identity, shared by both kinds of bed: its canonical form (absolute, without
 * symlinks) and a short id derived from it, which the host-wide names of a bed (bridge aliases, rule
 * comments, veth aliases) carry so that leftovers are found again without DIR/state.json.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Resolves DIR to the form used for ids: absolute and without symlinks. Creates it only when asked. */
export function canonicalDir(dir: string, create = false): string {
  const abs = path.resolve(dir);
  if (create) fs.mkdirSync(abs, { recursive: true });
  return fs.existsSync(abs) ? fs.realpathSync(abs) : abs;
}

/** A stable id for a bed directory, stored in the bridge's alias and rule comments to find leftovers without state. */
export function dirIdOf(realDir: string): string {
  return createHash("sha256").update(realDir).digest("hex").slice(0, 12);
}
