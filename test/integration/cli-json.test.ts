/**
 * The `--json` outputs that need a cluster, through the CLI entry point on a 2-node namespace bed:
 * `local status --json`, `bootstrap --dry-run [--json]` (before and after a real bootstrap, and
 * proven to change nothing), and `verify --json`, whose exit code is the document's.
 */
import * as fs from "fs";
import * as path from "path";
import { hcloudSwarm } from "../support/cli";
import { useBedFixture } from "../support/bed-fixture";

jest.setTimeout(300_000);

const bed = useBedFixture({ name: "cli-json", nodes: 2, managers: 1 });

interface Plan {
  schemaVersion: number;
  command: string;
  ok: boolean;
  entry: { node: string; creates: boolean } | null;
  steps: Array<{ node: string; kind: string; detail: string }>;
  problems: string[];
}

async function swarmState(node: string): Promise<string> {
  return (await bed().exec(node, "docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim();
}

describe("hcloud-swarm --json on a live bed", () => {
  it("local status --json: the bed's kind, network, nodes with both daemons, and the kernel's verdicts", async () => {
    const r = await hcloudSwarm(["local", "status", "--json", "--dir", bed().dir]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      schemaVersion: number;
      kind: string;
      dir: string;
      network: { bridge: string; subnet: string };
      nodes: Array<{
        name: string;
        role: string;
        address: string;
        sshd: boolean;
        dockerd: boolean;
        engine: string | null;
      }>;
      kernel: Array<{ name: string; available: boolean }>;
    };
    expect(doc).toMatchObject({ schemaVersion: 1, kind: "namespace", dir: fs.realpathSync(bed().dir) });
    expect(doc.network.bridge).toMatch(/^hsw\d+$/);
    expect(doc.nodes.map((n) => [n.name, n.role, n.address, n.sshd, n.dockerd])).toEqual(
      bed().inventory.nodes.map((n) => [n.name, n.role, n.host, true, true]),
    );
    for (const n of doc.nodes) expect(n.engine).toMatch(/^\d+\.\d+/);
    expect(doc.kernel.map((f) => f.name.split(" ")[0])).toEqual(expect.arrayContaining(["ESP", "IPVS"]));
  });

  it("bootstrap --dry-run --json plans init, ingress, the join and the labels, and changes nothing", async () => {
    const r = await hcloudSwarm(["bootstrap", "--dry-run", "--json", "--inventory", bed().inventoryPath]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan).toMatchObject({
      schemaVersion: 1,
      command: "bootstrap --dry-run",
      ok: true,
      entry: { node: "manager-1", creates: true },
      problems: [],
    });
    expect(plan.steps.map((s) => `${s.node} ${s.kind}`)).toEqual([
      "manager-1 init",
      "manager-1 ingress",
      "worker-1 join",
      "manager-1 label",
      "worker-1 label",
    ]);
    expect(await swarmState("manager-1")).toBe("inactive");
    expect(await swarmState("worker-1")).toBe("inactive");
  });

  it("after a real bootstrap, the dry run plans nothing, in text and in JSON", async () => {
    const run = await hcloudSwarm(["bootstrap", "--inventory", bed().inventoryPath]);
    expect(run.code).toBe(0);
    const json = await hcloudSwarm(["bootstrap", "--dry-run", "--json", "--inventory", bed().inventoryPath]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      entry: { node: "manager-1", creates: false },
      steps: [],
      problems: [],
    });
    const text = await hcloudSwarm(["bootstrap", "--dry-run", "--inventory", bed().inventoryPath]);
    expect(text.out).toContain("no changes: the swarm already matches the inventory");
    expect(text.out).toContain("nothing was changed (--dry-run)");
  });

  it("a dry run of an inventory a run would refuse says so and exits 1", async () => {
    const inv = JSON.parse(fs.readFileSync(bed().inventoryPath, "utf8")) as { nodes: Array<{ role: string }> };
    const even = path.join(bed().dir, "even-managers.json");
    fs.writeFileSync(even, JSON.stringify({ ...inv, nodes: inv.nodes.map((n) => ({ ...n, role: "manager" })) }));
    const r = await hcloudSwarm(["bootstrap", "--dry-run", "--json", "--inventory", even]);
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.ok).toBe(false);
    expect(plan.problems.join("\n")).toMatch(/odd|even/i);
  });

  it("a dry run of an inventory without worker-1 plans its removal and removes nothing", async () => {
    const inv = JSON.parse(fs.readFileSync(bed().inventoryPath, "utf8")) as { nodes: Array<{ name: string }> };
    const fewer = path.join(bed().dir, "without-worker-1.json");
    fs.writeFileSync(fewer, JSON.stringify({ ...inv, nodes: inv.nodes.filter((n) => n.name !== "worker-1") }));
    const r = await hcloudSwarm(["bootstrap", "--dry-run", "--json", "--inventory", fewer]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.steps.map((s) => `${s.node} ${s.kind}`)).toEqual(["worker-1 remove"]);
    expect(await swarmState("worker-1")).toBe("active");
    const members = (await bed().exec("manager-1", "docker node ls --format '{{.Hostname}}'")).stdout
      .split("\n")
      .filter((l) => l);
    expect(members.sort()).toEqual(["manager-1", "worker-1"]);
  });

  it("verify --json: every check with its status, and the exit code the document states", async () => {
    const r = await hcloudSwarm(["verify", "--json", "--inventory", bed().inventoryPath]);
    const doc = JSON.parse(r.stdout) as {
      schemaVersion: number;
      command: string;
      verdict: string;
      exitCode: number;
      passed: number;
      failed: number;
      unprovable: number;
      checks: Array<{ status: string; subject: string; what: string }>;
    };
    expect(doc).toMatchObject({ schemaVersion: 1, command: "verify" });
    expect(r.code).toBe(doc.exitCode);
    expect(doc.checks.length).toBe(doc.passed + doc.failed + doc.unprovable);
    expect(doc.checks).toContainEqual(
      expect.objectContaining({ status: "pass", subject: "network ingress (ingress)", what: "encrypted" }),
    );
    expect(doc.verdict).toBe(({ 0: "verified", 1: "failed", 2: "unprovable" } as Record<number, string>)[doc.exitCode]);
  });
});
