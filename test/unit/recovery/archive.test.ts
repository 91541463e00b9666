import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openArchive, sealArchive } from "../../../recovery/archive";
import { ensureKeyFile, readKeyFile } from "../../../recovery/key-file";

const key = crypto.randomBytes(32);
const data = crypto.randomBytes(5000);
const sealed = sealArchive(key, '{"cluster":"c"}', data);

describe("backup archive", () => {
  it("round-trips the manifest and the data, and hides both", () => {
    const opened = openArchive(key, sealed, "a.hswb");
    expect(opened.manifestJson).toBe('{"cluster":"c"}');
    expect(opened.data.equals(data)).toBe(true);
    expect(sealed.includes(Buffer.from('"cluster"'))).toBe(false);
    expect(sealed.includes(data.subarray(100, 132))).toBe(false);
  });

  it("names a wrong key as a wrong key", () => {
    expect(() => openArchive(crypto.randomBytes(32), sealed, "a.hswb")).toThrow(
      /encrypted with another key .*--key-file/,
    );
  });

  it("names a cut-off archive as truncated, at every length", () => {
    for (const n of [10, 40, sealed.length - 17, sealed.length - 1])
      expect(() => openArchive(key, sealed.subarray(0, n), "a.hswb")).toThrow(/truncated/);
  });

  it("catches a flipped bit in the body, the header's length or the tag", () => {
    for (const at of [60, sealed.length - 1, 20]) {
      const bad = Buffer.from(sealed);
      bad[at] ^= 1;
      expect(() => openArchive(key, bad, "a.hswb")).toThrow(/failed authentication|another key|truncated|bytes more/);
    }
    const grown = Buffer.concat([sealed, Buffer.from("x")]);
    expect(() => openArchive(key, grown, "a.hswb")).toThrow(/1 bytes more than its header announces/);
  });

  it("refuses a file that is not an archive", () => {
    expect(() => openArchive(key, Buffer.from("PK\x03\x04zipfile"), "x.zip")).toThrow(/not an hcloud-swarm backup/);
  });
});

describe("backup key file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-key-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is generated once, mode 0600, and read back the same", () => {
    const file = path.join(dir, "k", "c.key");
    const a = ensureKeyFile(file);
    expect(a.created).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const b = ensureKeyFile(file);
    expect(b.created).toBe(false);
    expect(b.key.equals(a.key)).toBe(true);
  });

  it("refuses a key file others can read, and one that is not a key", () => {
    const file = path.join(dir, "open.key");
    fs.copyFileSync(path.join(dir, "k", "c.key"), file);
    fs.chmodSync(file, 0o644);
    expect(() => readKeyFile(file)).toThrow(/readable by others \(mode 644\).*chmod 600/);
    fs.writeFileSync(path.join(dir, "junk.key"), "hello\n", { mode: 0o600 });
    expect(() => readKeyFile(path.join(dir, "junk.key"))).toThrow(/is not an hcloud-swarm backup key/);
  });
});
