/**
 * Whether sshd listens on an address, from the host, without logging in: both beds use it to see a
 * node's sshd come up (the VM bed before cloud-init has even installed the keys). Reads the greeting
 * over plain TCP; logging in is transport/ssh.ts's business.
 */
import * as net from "net";

/** A single probe must not hang a status or readiness loop. */
const BANNER_TIMEOUT_MS = 2_000;

/** True when something on ip:port greets with an SSH banner (no authentication is attempted). */
export function sshBanner(ip: string, port = 22): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port, timeout: BANNER_TIMEOUT_MS });
    let got = "";
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.includes("\n")) done(got.startsWith("SSH-2.0-"));
    });
    sock.on("timeout", () => done(false));
    sock.on("error", () => done(false));
    sock.on("end", () => done(false));
  });
}
