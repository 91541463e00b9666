/**
 * Hostile names fed to every command that reaches a node's shell, judged by the real system: the
 * remote shell over real SSH, docker's own view of what it stored, and marker files that a broken
 * quote would create on a node or on the host. Names are validated where they enter (nothing is
 * even connected), and what may pass (label values) reaches docker verbatim through quoting.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { buildProgram } from "../../cli/main";
import { runBootstrapCommand } from "../../cli/bootstrap";
import { removeStack } from "../../stacks/deploy/remove";
import { connectManager } from "../../swarm/manager-session";
import { addLabelsBatch } from "../../swarm/label-batch";
import { shellQuote } from "../../transport/shell";
import { sshStats } from "../../transport/ssh";
import { useBedFixture } from "../support/bed-fixture";
import { members, withNodes, writeInventory } from "./bootstrap-helpers";

const bed = useBedFixture({ name: "guard-names", nodes: 2, managers: 1 });
const MARK = `/tmp/hcloud-swarm-pwned-${crypto.randomBytes(4).toString("hex")}`;
/** Each would create MARK if any shell on the way read it as syntax. */
const HOSTILE = [
  `x; touch ${MARK} #`,
  `$(touch ${MARK})`,
  `\`touch ${MARK}\``,
  `x' ; touch ${MARK} ; echo '`,
  `x\ntouch ${MARK}`,
  `x && touch ${MARK}`,
  `--label-add=x;touch ${MARK}`,
];

/** True if a marker exists on the host or on any node (their /tmp is their own). */
async function pwned(): Promise<boolean> {
  if (fs.existsSync(MARK)) return true;
  for (const n of bed().inventory.nodes) if ((await bed().exec(n.name, `test -e ${MARK}`)).code === 0) return true;
  return false;
}

/** Runs the CLI in-process as a user would; returns the error it ended with and the SSH connections it made. */
async function cli(...args: string[]): Promise<{ error?: string; connections: number }> {
  const before = sshStats().connections;
  const out = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "hcloud-swarm", ...args]);
    return { connections: sshStats().connections - before };
  } catch (err) {
    return { error: (err as Error).message, connections: sshStats().connections - before };
  } finally {
    out.mockRestore();
    log.mockRestore();
  }
}

describe("hostile names", () => {
  beforeAll(async () => {
    const r = await runBootstrapCommand({ inventory: bed().inventoryPath }, () => undefined);
    expect(r.actions.some((a) => a.kind === "init")).toBe(true);
  });

  it("reach the remote shell over real SSH as one literal word each (shellQuote)", async () => {
    const s = await connectManager(bed().inventory);
    try {
      for (const h of HOSTILE) expect((await s.run(`printf '%s' ${shellQuote(h)}`)).stdout).toBe(h);
    } finally {
      s.close();
    }
    expect(await pwned()).toBe(false);
  });

  it.each(HOSTILE)("stack rm %j is refused before any connection, naming the argument", async (name) => {
    // After `--`, as a name starting with "-" must be given to reach the command at all.
    const r = await cli("stack", "rm", "--inventory", bed().inventoryPath, "--", name);
    expect(r.error).toMatch(/^stack rm NAME must be lowercase letters, digits, - and _/);
    expect(r.connections).toBe(0);
    expect(await pwned()).toBe(false);
  });

  it("removeStack refuses them too where it is called directly (the Pulumi provider), running no command", async () => {
    const s = await connectManager(bed().inventory);
    try {
      for (const h of HOSTILE) {
        const before = sshStats().commands;
        await expect(removeStack(s, h)).rejects.toThrow(/the stack name to remove must be/);
        expect(sshStats().commands).toBe(before);
      }
    } finally {
      s.close();
    }
    expect(await pwned()).toBe(false);
  });

  it("stack deploy --name and a template's network or secret names are refused before any connection", async () => {
    for (const h of HOSTILE.slice(0, 3)) {
      const r = await cli(
        "stack",
        "deploy",
        "wordpress",
        "--inventory",
        bed().inventoryPath,
        "--var",
        "domain=blog.example.com",
        `--name=${h}`,
      );
      expect(r.error).toMatch(/the stack name must be lowercase letters/);
      expect(r.connections).toBe(0);
    }
    const file = path.join(bed().dir, "hostile.yml");
    fs.writeFileSync(
      file,
      [
        "x-hcloud-swarm:",
        `  external-networks: [${JSON.stringify(HOSTILE[0])}]`,
        "services: {a: {image: busybox, networks: [pub]}}",
        `networks: {pub: {external: true, name: ${JSON.stringify(HOSTILE[0])}}}`,
        "",
      ].join("\n"),
    );
    const r = await cli("stack", "deploy", file, "--inventory", bed().inventoryPath);
    expect(r.error).toMatch(/external network "x; touch .*" must be letters, digits/);
    expect(r.connections).toBe(0);
    expect(await pwned()).toBe(false);
  });

  it("an inventory with a hostile node name, label key or user is refused before any connection, every problem at once", async () => {
    const inv = withNodes(bed(), (ns) =>
      ns.map((n) =>
        n.name === "worker-1"
          ? { ...n, name: "w; reboot", user: `root;touch ${MARK}`, labels: { [`k;touch ${MARK}`]: "v" } }
          : n,
      ),
    );
    const file = writeInventory(bed(), inv, "hostile-keys");
    const before = sshStats().connections;
    await expect(runBootstrapCommand({ inventory: file }, () => undefined)).rejects.toThrow(
      /name must be a lowercase DNS label[\s\S]*user must be a POSIX user name[\s\S]*labels: label name "k;touch [^"]*" must be letters/,
    );
    expect(sshStats().connections).toBe(before);
    for (const cmd of [["verify"], ["stack", "rm", "blog"]]) {
      const r = await cli(...cmd, "--inventory", file);
      expect({ cmd, error: r.error, connections: r.connections }).toEqual({
        cmd,
        error: expect.stringMatching(/user must be a POSIX user name/),
        connections: 0,
      });
    }
    expect(await pwned()).toBe(false);
  });

  it("hostile label values are refused where they enter too (inventory/labels.ts), before any connection", async () => {
    const values = Object.fromEntries(
      HOSTILE.filter((h) => !h.includes("\n")).map((h, i) => [`guard.hostile-${i}`, h]),
    );
    const file = writeInventory(
      bed(),
      withNodes(bed(), (ns) => ns.map((n) => (n.name === "worker-1" ? { ...n, labels: values } : n))),
      "hostile-values",
    );
    const before = sshStats().connections;
    const err = await runBootstrapCommand({ inventory: file }, () => undefined).then(
      () => undefined,
      (e: Error) => e,
    );
    for (const k of Object.keys(values)) expect(err?.message).toContain(`labels.${k} value`);
    expect(sshStats().connections).toBe(before);
    expect((await members(bed(), "manager-1")).find((m) => m.hostname === "worker-1")?.labels).not.toHaveProperty(
      "guard.hostile-0",
    );
    expect(await pwned()).toBe(false);
  });

  it("the label script (one command for many nodes, bypassing the inventory's checks) stores hostile values verbatim and runs none of them", async () => {
    const values = Object.fromEntries(HOSTILE.filter((h) => !h.includes("\n")).map((h, i) => [`guard.batch-${i}`, h]));
    const ids = (await members(bed(), "manager-1")).map((m) => m.id);
    const s = await connectManager(bed().inventory);
    try {
      // Every node at once, with a hostile node ID among them: docker refuses that one, the others are written.
      const out = await addLabelsBatch(s, [
        ...ids.map((id) => ({ id, labels: values })),
        { id: HOSTILE[1], labels: { "guard.batch-x": "1" } },
      ]);
      expect(out.slice(0, ids.length)).toEqual(ids.map((id) => ({ id })));
      expect(out[ids.length].error).toMatch(/not found|no such node/i);
    } finally {
      s.close();
    }
    for (const m of await members(bed(), "manager-1")) expect(m.labels).toMatchObject(values);
    expect(await pwned()).toBe(false);
  });
});
