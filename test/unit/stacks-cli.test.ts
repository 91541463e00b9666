/**
 * The `stack` commands as a user runs them, in-process through the real commander program.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildProgram } from "../../cli/main";

// `stack lint` runs Docker's CLI (docker stack config), on a machine shared with other work.
jest.setTimeout(60_000);

async function cli(args: string[]): Promise<{ out: string; code: number }> {
  const lines: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  const err = jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  const write = jest
    .spyOn(process.stdout, "write")
    .mockImplementation((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0);
  process.exitCode = 0;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "hcloud-swarm", ...args]);
    return { out: lines.join("\n"), code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = 0;
    log.mockRestore();
    err.mockRestore();
    write.mockRestore();
  }
}

describe("hcloud-swarm stack (CLI)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-stack-cli-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("lint exits 1 and names file, line, stack and network for a plain overlay", async () => {
    const file = path.join(dir, "blog.yml");
    fs.writeFileSync(
      file,
      "version: '3.8'\nservices:\n  app:\n    image: x\n    networks: [back]\nnetworks:\n  back: {}\n",
    );
    const r = await cli(["stack", "lint", file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${file}:7: stack "blog", network "back": overlay network blog_back is not encrypted`);
  });

  it("lint exits 0 for the shipped templates, by name", async () => {
    const r = await cli(["stack", "lint", "traefik", "wordpress"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/traefik\/stack\.yml: ok[\s\S]*wordpress\/stack\.yml: ok/);
  });

  it("render fills variables and says loudly when images are swapped", async () => {
    const r = await cli([
      "stack",
      "render",
      "wordpress",
      "--var",
      "domain=blog.example.com",
      "--local-images",
      "img:local",
    ]);
    expect(r.out).toContain("Host(`blog.example.com`)");
    expect(r.out).toContain('com.docker.network.driver.mtu: "1500"');
    expect(r.out).toMatch(/LOCAL IMAGES: service db runs img:local .*INSTEAD OF mysql:8\.4/);
  });

  it("deploy refuses malformed --pin arguments before connecting to anything", async () => {
    const inv = path.join(dir, "inventory.json");
    // An address nothing listens on: reaching the network at all would fail differently.
    fs.writeFileSync(
      inv,
      JSON.stringify({
        nodes: [
          {
            name: "manager-1",
            role: "manager",
            host: "127.0.0.1",
            port: 9,
            hostKey: "ssh-ed25519 AAAA",
            advertiseAddress: "127.0.0.1",
          },
        ],
      }),
    );
    await expect(
      cli([
        "stack",
        "deploy",
        "wordpress",
        "--inventory",
        inv,
        "--var",
        "domain=x.org",
        "--pin",
        "wordpress-data",
        "--pin",
        "a=b",
        "--pin",
        "a=c",
      ]),
    ).rejects.toThrow(
      /stack deploy --pin has 2 problems:\n {2}- --pin "wordpress-data" must be LABEL=NODE, e\.g\. --pin wordpress-data=worker-1\n {2}- --pin a is given twice/,
    );
  });

  it("render refuses unknown and missing variables, naming them", async () => {
    await expect(cli(["stack", "render", "wordpress", "--var", "domian=x"])).rejects.toThrow(
      /--var domian is not a variable[\s\S]*missing --var domain=/,
    );
  });
});
