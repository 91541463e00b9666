import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fingerprint, hostKeyAlgorithms, parseHostKey } from "../../transport/hostkey";
import { redact, redactedError, registerSecret } from "../../transport/redact";

describe("redaction", () => {
  it("removes swarm join tokens wherever they appear", () => {
    const t = "SWMTKN-1-49nj1cmql0jkz5s954yi3oex3nedyz0fb0xx14ie39trti4wxv-8vxv8rssmk743ojnwacrr2e7c";
    const out = redact(`docker swarm join --token ${t} 10.0.0.1:2377`);
    expect(out).not.toContain("8vxv8rssmk743ojnwacrr2e7c");
    expect(out).toBe("docker swarm join --token SWMTKN-[REDACTED] 10.0.0.1:2377");
  });

  it("removes private key blocks, even truncated ones", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    expect(redact(`before ${key} after`)).toBe("before [REDACTED PRIVATE KEY] after");
    expect(redact("x -----BEGIN RSA PRIVATE KEY-----\nMIIEow")).toBe("x [REDACTED PRIVATE KEY]");
  });

  it("removes registered secrets of any shape, and their lines", () => {
    registerSecret("hunter2-but-longer");
    registerSecret("line-one\n" + "A".repeat(64) + "\nline-three");
    expect(redact("pw=hunter2-but-longer")).toBe("pw=[REDACTED]");
    expect(redact(`echo ${"A".repeat(64)}`)).toBe("echo [REDACTED]");
  });

  it("keeps short registered strings, which would match by accident", () => {
    registerSecret("root");
    expect(redact("user root")).toBe("user root");
  });

  it("builds errors whose message is redacted and keeps the code", () => {
    const e = Object.assign(new Error("token SWMTKN-1-abc-def rejected"), { code: "EPIPE" });
    const r = redactedError(e, "join worker-1");
    expect(r.message).toBe("join worker-1: token SWMTKN-[REDACTED] rejected");
    expect((r as NodeJS.ErrnoException).code).toBe("EPIPE");
  });
});

describe("host keys", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-hostkey-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("computes the same fingerprint as ssh-keygen -lf", () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
    const line = fs.readFileSync(path.join(dir, "k.pub"), "utf8");
    const expected = execFileSync("ssh-keygen", ["-lf", path.join(dir, "k.pub")])
      .toString()
      .split(" ")[1];
    expect(fingerprint(parseHostKey(line, "n").blob)).toBe(expected);
  });

  it("rejects a key whose blob does not match its type, naming the node", () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.alloc(8)]).toString("base64");
    expect(() => parseHostKey(`ssh-ed25519 ${blob}`, "worker-2")).toThrow(
      /hostKey of worker-2 is not a valid OpenSSH public key/,
    );
    expect(() => parseHostKey("ssh-ed25519", "worker-2")).toThrow(/worker-2/);
  });

  it("offers only the pinned key type, with the SHA-2 variants for RSA", () => {
    expect(hostKeyAlgorithms("ssh-ed25519")).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms("ssh-rsa")).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  });
});
