/**
 * One bed, one cluster, used in sequence: form 1 manager + 2 workers, re-run, add workers under
 * faults (late sshd, wrong host key, foreign swarm, dropped connection), remove a worker, and
 * finally search everything that was printed for secrets. Each test builds on the one before.
 */
import * as fs from "fs";
import { InventoryNode } from "../../inventory/inventory";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import {
  actionsOf,
  expectSuccess,
  ingressOptions,
  joinTokens,
  localState,
  members,
  runCli,
  transcript,
  withNodes,
  writeInventory,
} from "./bootstrap-helpers";

jest.setTimeout(300_000);
const bed = useBedFixture({ name: "bootstrap-workers", nodes: 3, managers: 1 });
const labelled = (n: InventoryNode): InventoryNode =>
  n.name === "worker-1" ? { ...n, labels: { edge: "true", zone: "a" } } : n;
/** The bed's current inventory (it grows with addNode), with test labels, minus `without`. */
const inventory = (name: string, without: string[] = []) =>
  writeInventory(
    bed(),
    withNodes(bed(), (ns) => ns.filter((n) => !without.includes(n.name)).map(labelled)),
    name,
  );
const ids = new Map<string, string>();

describe("bootstrap of 1 manager + workers on the local test bed", () => {
  it("forms the swarm with the right roles and labels and an encrypted ingress with the MTU option", async () => {
    const run = await runCli(inventory("form"));
    expectSuccess(run);
    expect(actionsOf(run)).toEqual(
      expect.arrayContaining([
        "manager-1 init",
        "manager-1 ingress",
        "worker-1 join",
        "worker-2 join",
        "worker-1 label",
      ]),
    );
    const ms = await members(bed(), "manager-1");
    expect(ms.map((m) => [m.hostname, m.status, m.role, m.managerStatus]).sort()).toEqual([
      ["manager-1", "ready", "manager", "leader"],
      ["worker-1", "ready", "worker", ""],
      ["worker-2", "ready", "worker", ""],
    ]);
    expect(ms.find((m) => m.hostname === "worker-1")?.labels).toMatchObject({ edge: "true", zone: "a" });
    const ingress = await ingressOptions(bed(), "manager-1");
    expect(ingress).toHaveProperty("encrypted");
    expect(ingress["com.docker.network.driver.mtu"]).toBe("1500");
    expect(run.output).toMatch(/HOSTNAME +STATUS/);
    for (const m of ms) ids.set(m.hostname, m.id);
  });

  it("takes no action on a second run and keeps every node ID", async () => {
    const run = await runCli(inventory("again"));
    expect(expectSuccess(run).actions).toEqual([]);
    expect(run.output).toContain("no changes: the swarm already matches the inventory");
    const ms = await members(bed(), "manager-1");
    expect(new Map(ms.map((m) => [m.hostname, m.id]))).toEqual(ids);
    // One per node: the manager serves the run, and every member's host firewall is checked live (issue 23), never trusted from its label.
    expect(run.ssh.connections).toBe(3);
  });

  it("joins an added worker; the other members are only told to let it in", async () => {
    await bed().addNode("worker");
    const run = await runCli(inventory("add"));
    expectSuccess(run);
    expect(actionsOf(run).filter((a) => !a.endsWith(" firewall"))).toEqual(["worker-3 join", "worker-3 label"]);
    // Every member's host firewall must accept the new node before it joins: one short command each.
    expect(
      actionsOf(run)
        .filter((a) => a.endsWith(" firewall"))
        .sort(),
    ).toEqual(["manager-1 firewall", "worker-1 firewall", "worker-2 firewall", "worker-3 firewall"]);
    expect(run.ssh.connections).toBe(4);
    const ms = await members(bed(), "manager-1");
    for (const [host, id] of ids) expect(ms.find((m) => m.hostname === host)?.id).toBe(id);
    expect(ms.find((m) => m.hostname === "worker-3")?.status).toBe("ready");
  });

  it("waits for a node whose sshd starts 20 s late", async () => {
    await bed().addNode("worker");
    await bed().stopSshd("worker-4");
    await bed().startSshd("worker-4", { delayMs: 20_000 });
    const started = Date.now();
    const run = await runCli(inventory("late"));
    expectSuccess(run);
    expect(Date.now() - started).toBeGreaterThanOrEqual(19_000);
    expect(run.output).toMatch(/\[worker-4\] waiting for SSH/);
    expect(actionsOf(run)).toContain("worker-4 join");
  });

  it("refuses a wrong host key and does nothing on that node, while still failing the run", async () => {
    await bed().addNode("worker");
    const wrong = withNodes(bed(), (ns) =>
      ns.map((n) => (n.name === "worker-5" ? { ...n, hostKey: bed().node("worker-1").hostKey } : labelled(n))),
    );
    const run = await runCli(writeInventory(bed(), wrong, "wrong-key"));
    expect(run.error?.message).toMatch(/host key mismatch for worker-5/);
    expect(actionsOf(run)).toEqual([]);
    expect(await localState(bed(), "worker-5")).toEqual({ state: "inactive", nodeId: "" });
    // With the right key, the next run finishes the job.
    expect(actionsOf(await runCli(inventory("right-key"))).filter((a) => !a.endsWith(" firewall"))).toEqual([
      "worker-5 join",
      "worker-5 label",
    ]);
  });

  it("refuses a node that is active in another swarm and leaves it there", async () => {
    await bed().addNode("worker");
    const init = await bed().exec(
      "worker-6",
      `docker swarm init --advertise-addr ${bed().node("worker-6").advertiseAddress}`,
    );
    expect(init.code).toBe(0);
    const foreign = await localState(bed(), "worker-6");
    const run = await runCli(inventory("foreign"));
    expect(run.error?.message).toMatch(/worker-6 is active in a different swarm/);
    expect(await localState(bed(), "worker-6")).toEqual(foreign);
    expect((await members(bed(), "manager-1")).map((m) => m.hostname)).not.toContain("worker-6");
    await bed().exec("worker-6", "docker swarm leave --force");
  });

  it("converges on a re-run after the connection to a joining node dropped mid-run", async () => {
    await bed().addNode("worker");
    let dropped: Promise<number> | undefined;
    const first = await runCli(inventory("drop"), (line) => {
      // Cut every SSH connection to worker-7 at the moment its join command is sent.
      if (!dropped && line.startsWith("[worker-7] $ perl -MIO::Socket::UNIX"))
        dropped = bed().dropSshSessions("worker-7");
    });
    expect(await dropped).toBeGreaterThan(0);
    expect(first.error?.message).toMatch(/worker-7/);
    const second = await runCli(inventory("drop-rerun"));
    expectSuccess(second);
    const ms = await members(bed(), "manager-1");
    expect(ms.filter((m) => m.hostname === "worker-7").map((m) => m.status)).toEqual(["ready"]);
    expect(expectSuccess(await runCli(inventory("drop-settled"))).actions).toEqual([]);
  });

  it("waits for a join that docker goes on with in the background after its own 20 s", async () => {
    await bed().addNode("worker");
    // Nothing reaches worker-8 from the other nodes until docker has answered 503 to its join.
    await bed().shape("worker-8", { lossPercent: 100 });
    let lifted: Promise<unknown> | undefined;
    const run = await runCli(inventory("slow-join"), (line) => {
      if (!lifted && line.includes("[worker-8] docker's own 20 s join timeout passed"))
        lifted = bed().shape("worker-8", { lossPercent: 0 });
    });
    await bed().shape("worker-8", { lossPercent: 0 });
    expect(lifted).toBeDefined();
    expectSuccess(run);
    expect(actionsOf(run)).toContain("worker-8 join");
    expect((await members(bed(), "manager-1")).filter((m) => m.hostname === "worker-8").map((m) => m.status)).toEqual([
      "ready",
    ]);
  });

  it("drains and removes a worker that left the inventory, and its engine leaves the swarm", async () => {
    // A task on every worker, so the drain has something to wait for.
    const svc = await bed().exec(
      "manager-1",
      `docker service create --detach --name hold --mode global --constraint node.role==worker --no-resolve-image ${LOCAL_IMAGE} sleep 3600`,
    );
    expect({ code: svc.code, stderr: svc.stderr }).toMatchObject({ code: 0 });
    const runningOn = async () =>
      (
        await bed().exec(
          "manager-1",
          "docker service ps hold --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'",
        )
      ).stdout;
    for (let i = 0; i < 60 && !/worker-2 Running/.test(await runningOn()); i++)
      await new Promise((r) => setTimeout(r, 1000));
    expect(await runningOn()).toMatch(/worker-2 Running/);
    const run = await runCli(inventory("remove", ["worker-2"]));
    expectSuccess(run);
    expect(actionsOf(run).filter((a) => !a.endsWith(" firewall"))).toEqual([
      "worker-2 drain",
      "worker-2 leave",
      "worker-2 remove",
    ]);
    expect((await members(bed(), "manager-1")).map((m) => m.hostname)).not.toContain("worker-2");
    expect((await localState(bed(), "worker-2")).state).toBe("inactive");
    expect(await runningOn()).not.toMatch(/worker-2/);
    expect(await runningOn()).toMatch(/worker-1 Running/);
    expect(expectSuccess(await runCli(inventory("removed-again", ["worker-2"]))).actions).toEqual([]);
  });

  it("never printed a join token or the private key", async () => {
    const all = transcript.join("\n");
    // The check means something only if the output really covered joins and command traces.
    expect(all).toMatch(/\$ perl -MIO::Socket::UNIX[\s\S]*\/swarm\/join/);
    expect(all).toMatch(/join-token -q worker/);
    const tokens = await joinTokens(bed(), "manager-1");
    for (const t of tokens) {
      expect(t).toMatch(/^SWMTKN-1-/);
      expect(all).not.toContain(t);
      expect(all).not.toContain(t.split("-").pop() as string);
    }
    const key = fs.readFileSync(bed().privateKeyPath, "utf8");
    for (const line of key.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))
      expect(all).not.toContain(line);
    expect(all).not.toContain("PRIVATE KEY");
  });
});
