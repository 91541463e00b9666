/**
 * Three managers and two workers on one bed, used in sequence: form, join a worker while the first
 * manager is powered off, refuse an even manager count, then shrink the managers from 3 to 1.
 */
import { useBedFixture } from "../support/bed-fixture";
import {
  actionsOf,
  expectSuccess,
  ingressOptions,
  localState,
  members,
  runCli,
  withNodes,
  writeInventory,
} from "./bootstrap-helpers";
import { expectMatches } from "./resilience-scenarios";

jest.setTimeout(300_000);
const bed = useBedFixture({ name: "bootstrap-managers", nodes: 5, managers: 3 });
const inventory = (name: string, without: string[] = []) =>
  writeInventory(
    bed(),
    withNodes(bed(), (ns) => ns.filter((n) => !without.includes(n.name))),
    name,
  );

async function waitForManagers(viaNode: string, reachable: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ms = await members(bed(), viaNode).catch(() => []);
    if (
      ms.filter(
        (m) =>
          m.role === "manager" &&
          m.status === "ready" &&
          (m.managerStatus === "reachable" || m.managerStatus === "leader"),
      ).length === reachable
    )
      return;
    if (Date.now() > deadline) throw new Error(`managers did not become reachable: ${JSON.stringify(ms)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe("bootstrap of 3 managers + 2 workers on the local test bed", () => {
  it("forms the swarm: three managers with one leader, two workers, all ready, ingress encrypted", async () => {
    const run = await runCli(inventory("form"));
    expectSuccess(run);
    expect(
      actionsOf(run)
        .filter((a) => a.endsWith(" join"))
        .sort(),
    ).toEqual(["manager-2 join", "manager-3 join", "worker-1 join", "worker-2 join"]);
    const ms = await members(bed(), "manager-1");
    expect(ms.map((m) => [m.hostname, m.status, m.role]).sort()).toEqual([
      ["manager-1", "ready", "manager"],
      ["manager-2", "ready", "manager"],
      ["manager-3", "ready", "manager"],
      ["worker-1", "ready", "worker"],
      ["worker-2", "ready", "worker"],
    ]);
    expect(ms.filter((m) => m.managerStatus === "leader")).toHaveLength(1);
    expect(await ingressOptions(bed(), "manager-2")).toHaveProperty("encrypted");
    expect(expectSuccess(await runCli(inventory("again"))).actions).toEqual([]);
  });

  it("joins a new worker through another manager while the first manager is powered off", async () => {
    await bed().powerOff("manager-1");
    await bed().addNode("worker");
    const run = await runCli(inventory("first-manager-off"));
    expectSuccess(run);
    expect(run.result?.actions.map((a) => `${a.node} ${a.kind} ${a.detail}`)).toEqual(
      expect.arrayContaining(["worker-3 join joined as worker via manager-2"]),
    );
    // Only worker-3 changes; the other members are told to let it in, and the one that is off is named.
    expect(run.result?.actions.filter((a) => a.kind !== "firewall").every((a) => a.node === "worker-3")).toBe(true);
    expect(run.result?.warnings.join("\n")).toMatch(/manager-1[^\n]*host firewall was not updated/);
    const ms = await members(bed(), "manager-2");
    expect(ms.find((m) => m.hostname === "worker-3")?.status).toBe("ready");
    await bed().powerOn("manager-1");
    await waitForManagers("manager-2", 3);
  });

  it("refuses an inventory with an even number of managers before doing anything", async () => {
    const before = await members(bed(), "manager-1");
    const run = await runCli(inventory("two-managers", ["manager-3"]));
    expect(run.error?.message).toMatch(/the inventory has 2 managers; use an odd number/);
    expect(actionsOf(run)).toEqual([]);
    expect((await members(bed(), "manager-1")).map((m) => [m.id, m.role])).toEqual(before.map((m) => [m.id, m.role]));
  });

  it("shrinks the managers from 3 to 1: demoted, drained, left and removed", async () => {
    const run = await runCli(inventory("one-manager", ["manager-2", "manager-3"]));
    expectSuccess(run);
    for (const m of ["manager-2", "manager-3"]) {
      expect(actionsOf(run).filter((a) => a.startsWith(m))).toEqual([
        `${m} demote`,
        `${m} drain`,
        `${m} leave`,
        `${m} remove`,
      ]);
      expect((await localState(bed(), m)).state).toBe("inactive");
    }
    const ms = await members(bed(), "manager-1");
    expect(ms.filter((m) => m.role === "manager").map((m) => m.hostname)).toEqual(["manager-1"]);
    expect(ms.map((m) => m.hostname).sort()).toEqual(["manager-1", "worker-1", "worker-2", "worker-3"]);
    // Every member ready, one leader, the inventory's roles and labels; after the leader changed, the
    // workers report to the new one within heartbeats (seconds, longer on a busy machine): read again.
    await expectMatches(
      bed(),
      withNodes(bed(), (ns) => ns.filter((n) => !["manager-2", "manager-3"].includes(n.name))),
    );
  });
});
