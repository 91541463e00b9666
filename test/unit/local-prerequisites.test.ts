import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isStaticElf, platformProblems } from "../../local/common/prerequisites";

describe("local test bed prerequisites", () => {
  it("tells a dynamically linked binary from a static one by its program interpreter", () => {
    // node itself is dynamically linked on every supported platform.
    expect(isStaticElf(process.execPath)).toBe(false);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "elf-"));
    try {
      // A minimal 64-bit ELF header with no program headers: nothing to load through an interpreter.
      const elf = Buffer.alloc(64);
      elf.writeUInt32BE(0x7f454c46, 0);
      elf[4] = 2;
      elf.writeBigUInt64LE(64n, 0x20);
      elf.writeUInt16LE(56, 0x36);
      elf.writeUInt16LE(0, 0x38);
      fs.writeFileSync(path.join(tmp, "static"), elf);
      expect(isStaticElf(path.join(tmp, "static"))).toBe(true);
      fs.writeFileSync(path.join(tmp, "script"), "#!/bin/sh\necho not elf\n");
      expect(isStaticElf(path.join(tmp, "script"))).toBe(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("explains that the bed needs Linux and root", () => {
    const problems = platformProblems();
    if (process.platform !== "linux") expect(problems[0]).toMatch(/needs Linux/);
    else if (process.getuid?.() !== 0) expect(problems[0]).toMatch(/needs root/);
    else expect(problems).toEqual([]);
  });
});
