/**
 * Each stack text is read once (stacks/reading/stack-text.ts): `stack lint` and `stack render`, run
 * as a user runs them, parse each text into a Document at most once and read it in Docker's dialect
 * at most once. The readers are counted as they are called, per text; the figures are in
 * docs/lab/2026-12-08-s21model.md. The Docker-dialect judge is forced (no docker on PATH), because
 * that judge is the one that reads the text it judges: with a Docker CLI it would prove less.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildProgram } from "../../cli/main";
import * as dialect from "../../stacks/reading/dialect";
import * as source from "../../stacks/reading/source";

jest.setTimeout(60_000);

/** Runs the CLI in-process and counts, per text, the Document parses and the dialect reads. */
async function counted(
  args: string[],
): Promise<{ code: number; parses: Map<string, number>; reads: Map<string, number> }> {
  const parses = new Map<string, number>();
  const reads = new Map<string, number>();
  const bump = (m: Map<string, number>, text: string) => m.set(text, (m.get(text) ?? 0) + 1);
  const realParse = source.parseStack;
  const realRead = dialect.readDockerYaml;
  const p = jest.spyOn(source, "parseStack").mockImplementation((text, file, stack) => {
    bump(parses, text);
    return realParse(text, file, stack);
  });
  const r = jest.spyOn(dialect, "readDockerYaml").mockImplementation((text, opts) => {
    bump(reads, text);
    return realRead(text, opts);
  });
  const quiet = [
    jest.spyOn(console, "log").mockImplementation(() => undefined),
    jest.spyOn(console, "error").mockImplementation(() => undefined),
    jest.spyOn(process.stdout, "write").mockImplementation(() => true),
  ];
  const pathBefore = process.env.PATH;
  // No docker on the PATH: the Docker-dialect judge runs, the path that used to read the text again.
  process.env.PATH = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-no-docker-"));
  process.exitCode = 0;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "hcloud-swarm", ...args]);
    return { code: Number(process.exitCode ?? 0), parses, reads };
  } finally {
    fs.rmSync(process.env.PATH, { recursive: true, force: true });
    process.env.PATH = pathBefore;
    process.exitCode = 0;
    for (const q of quiet) q.mockRestore();
    p.mockRestore();
    r.mockRestore();
  }
}

const most = (m: Map<string, number>): number => Math.max(0, ...m.values());

describe("a stack text is read once", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-read-once-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "shop.yml");
  const text = [
    'version: "3.8"',
    "services:",
    "  app:",
    "    image: nginx:1.27",
    "    networks: [front]",
    "networks:",
    "  front:",
    "    driver: overlay",
    "    driver_opts: {encrypted: ''}",
    "",
  ].join("\n");
  fs.writeFileSync(file, text);

  it("stack lint: the file is parsed once and read in Docker's dialect once", async () => {
    const r = await counted(["stack", "lint", file]);
    expect(r.code).toBe(0);
    expect(r.parses.get(text)).toBe(1);
    expect(r.reads.get(text)).toBe(1);
    expect([...r.parses.keys(), ...r.reads.keys()].every((t) => t === text)).toBe(true);
  });

  it("stack render: the template and its rendering are each parsed and read at most once", async () => {
    const r = await counted(["stack", "render", file]);
    expect(r.code).toBe(0);
    expect(r.parses.get(text)).toBe(1);
    expect(r.reads.get(text)).toBe(1);
    // The rendering is a second text: the dialect judge reads it, once, and nothing parses it again.
    const rendering = [...r.reads.keys()].filter((t) => t !== text);
    expect(rendering).toHaveLength(1);
    expect(r.reads.get(rendering[0])).toBe(1);
    expect(most(r.parses)).toBe(1);
    expect(most(r.reads)).toBe(1);
  });

  it("a lint refusal still comes from that one reading", async () => {
    const plain = path.join(dir, "plain.yml");
    const plainText = text.replace("    driver_opts: {encrypted: ''}\n", "");
    fs.writeFileSync(plain, plainText);
    const r = await counted(["stack", "lint", plain]);
    expect(r.code).toBe(1);
    expect(r.parses.get(plainText)).toBe(1);
    expect(r.reads.get(plainText)).toBe(1);
  });
});
