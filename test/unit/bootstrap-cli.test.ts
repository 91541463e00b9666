import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Inventory } from "../../inventory/inventory";
import { autolockFor, keysFor } from "../../cli/bootstrap";
import { buildProgram } from "../../cli/main";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-bootstrap-cli-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const node = (name: string, privateKeyPath?: string) => ({
  name,
  role: name.startsWith("manager") ? ("manager" as const) : ("worker" as const),
  host: "10.9.0.1",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAA",
  advertiseAddress: "10.9.0.1",
  labels: {},
  ...(privateKeyPath ? { privateKeyPath } : {}),
});

describe("hcloud-swarm bootstrap (command line)", () => {
  it("is registered with --inventory required and --identity, --verbose, --force-remove, --concurrency, the autolock and token options, --dry-run, --json (--force hidden, refused)", () => {
    const cmd = buildProgram().commands.find((c) => c.name() === "bootstrap");
    expect(cmd?.options.map((o) => o.long)).toEqual([
      "--inventory",
      "--identity",
      "--verbose",
      "--force-remove",
      "--force",
      "--concurrency",
      "--autolock",
      "--no-autolock",
      "--unlock-key-file",
      "--no-rotate-join-tokens",
      "--dry-run",
      "--json",
    ]);
    expect(cmd?.options.find((o) => o.long === "--inventory")?.required).toBe(true);
  });

  it("refuses the old all-nodes --force before reading anything, saying to name the node(s)", async () => {
    const { runBootstrapCommand } = await import("../../cli/bootstrap");
    await expect(runBootstrapCommand({ inventory: path.join(dir, "missing.json"), force: true })).rejects.toThrow(
      /--force no longer lets every node that holds pinned data go at once: name each node whose data may be lost, e\.g\. --force-remove worker-1/,
    );
    await expect(
      runBootstrapCommand({ inventory: path.join(dir, "missing.json"), forceRemove: ["worker-1,,x"] }),
    ).rejects.toThrow(/--force-remove "worker-1,,x": entry 2 is empty/);
  });

  it("leaves autolock to the inventory unless a flag says otherwise, and defaults it on", () => {
    const parse = (...args: string[]) => {
      const cmd = buildProgram().commands.find((c) => c.name() === "bootstrap");
      cmd?.parseOptions(args);
      return cmd?.opts() as { autolock?: boolean; rotateJoinTokens?: boolean };
    };
    const inv = (autolock?: boolean) => ({
      cluster: "c",
      ...(autolock === undefined ? {} : { swarm: { autolock } }),
      nodes: [],
    });
    expect(parse().autolock).toBeUndefined();
    expect(parse("--no-autolock").autolock).toBe(false);
    expect(parse("--autolock").autolock).toBe(true);
    expect(parse().rotateJoinTokens).toBe(true);
    expect(parse("--no-rotate-join-tokens").rotateJoinTokens).toBe(false);
    const o = { inventory: "x" };
    expect(autolockFor(o, inv())).toEqual({ enabled: true, keyFile: ".hcloud-swarm/unlock-keys/c.key" });
    expect(autolockFor(o, inv(false)).enabled).toBe(false);
    expect(autolockFor({ ...o, autolock: true }, inv(false)).enabled).toBe(true);
    expect(autolockFor({ ...o, autolock: false, unlockKeyFile: "k" }, inv(true))).toEqual({
      enabled: false,
      keyFile: "k",
    });
  });

  it("refuses a bad --concurrency with the allowed range", async () => {
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    program.commands.forEach((c) => c.exitOverride());
    await expect(
      program.parseAsync(["node", "hcloud-swarm", "bootstrap", "--inventory", "x.json", "--concurrency", "0"]),
    ).rejects.toThrow(/--concurrency must be a whole number from 1 to 64, got "0"/);
  });

  it("reports every node without a usable key at once, and --identity fills the gaps", () => {
    const good = path.join(dir, "id");
    fs.writeFileSync(good, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
    const pem = path.join(dir, "pem");
    fs.writeFileSync(pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    const inv: Inventory = {
      nodes: [
        node("manager-1", good),
        node("worker-1"),
        node("worker-2", pem),
        node("worker-3", path.join(dir, "missing")),
      ],
    };
    let message = "";
    try {
      keysFor(inv, undefined, "bootstrap of inv.json");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/bootstrap of inv.json has 3 problems/);
    expect(message).toMatch(/worker-1 has no privateKeyPath; pass --identity KEYFILE/);
    expect(message).toMatch(/key of worker-2\) is not an OpenSSH private key/);
    expect(message).toMatch(/cannot read private key .*missing for worker-3: ENOENT/);
    const keyOf = keysFor({ nodes: [node("manager-1", good), node("worker-1")] }, good, "x");
    expect(keyOf(node("worker-1"))).toContain("OPENSSH PRIVATE KEY");
  });
});
