/**
 * The host's SSH client key for a bed (DIR/id_ed25519), shared by both kinds: the namespace bed
 * authorizes it in every node's sshd, the VM bed hands it to cloud-init through meta-data, and the
 * inventory names it as every node's privateKeyPath.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "./host-command";

/** Creates the bed's client key once (kept while DIR holds a bed); returns its path and public key. */
export async function ensureClientKey(dir: string): Promise<{ privateKeyPath: string; publicKey: string }> {
  const privateKeyPath = path.join(dir, "id_ed25519");
  if (!fs.existsSync(privateKeyPath) || !fs.existsSync(`${privateKeyPath}.pub`)) {
    fs.rmSync(privateKeyPath, { force: true });
    fs.rmSync(`${privateKeyPath}.pub`, { force: true });
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "hcloud-swarm-local", "-f", privateKeyPath]);
  }
  return { privateKeyPath, publicKey: fs.readFileSync(`${privateKeyPath}.pub`, "utf8").trim() };
}
