/**
 * Bootstrap decides on facts while the swarm has no leader. The failure: the leader went
 * away, the other managers answered during the election with no cluster information, and the run
 * gave up with "no reachable manager is in a swarm … manager-1 was not inspected". Here an
 * election is made to outlast docker's own 20 s request deadline (one of the two remaining
 * managers is frozen until bootstrap reports that it is waiting for a leader), and then quorum is
 * really lost; the first must converge, the second must fail naming the manager and why.
 */
import * as fs from "fs";
import { bootstrap } from "../../bootstrap/bootstrap";
import { BootstrapError } from "../../bootstrap/actions";
import { ELECTION_WAIT_MS } from "../../swarm/leader";
import { useBedFixture } from "../support/bed-fixture";
import { actionsOf, expectSuccess, runCli, writeInventory } from "./bootstrap-helpers";
import { expectMatches, inventoryOf, leaderOf, triggerOn } from "./resilience-scenarios";

jest.setTimeout(600_000);
const bed = useBedFixture({ name: "bootstrap-election", nodes: 4, managers: 3 });
const MANAGERS = ["manager-1", "manager-2", "manager-3"];

describe("bootstrap while the swarm has no leader", () => {
  it("waits out an election longer than docker's 20 s deadline instead of blaming the absent manager", async () => {
    const formed = writeInventory(bed(), inventoryOf(bed(), [...MANAGERS, "worker-1"]), "formed");
    expectSuccess(await runCli(formed));
    const leader = await leaderOf(bed(), MANAGERS);
    const [slow, answering] = MANAGERS.filter((m) => m !== leader);
    await bed().addNode("worker");
    await bed().powerOff(leader);
    // The one manager left to vote is frozen: no leader can be elected until it thaws.
    await bed().shape(slow, { frozen: true });
    const thaw = triggerOn(new RegExp(`\\[${answering}\\] is a manager but its swarm has no leader yet`), () =>
      bed().shape(slow, { frozen: false }),
    );
    const file = writeInventory(bed(), bed().inventory, "election");
    let run;
    try {
      run = await runCli(file, thaw.onLine);
      await thaw.done();
    } finally {
      // Whatever happened, the next test needs every manager back.
      await bed().shape(slow, { frozen: false });
      await bed().powerOn(leader);
    }
    expectSuccess(run);
    expect(run.output).toMatch(
      new RegExp(
        `\\[${answering}\\] is a manager but its swarm has no leader yet \\(docker: rpc error: code = (DeadlineExceeded|Unknown)`,
      ),
    );
    expect(run.output).toContain(`[${answering}] a leader answers again`);
    // worker-2 joins; every member that answers admits it to its host firewall first (the old leader was off).
    const admitting = [...MANAGERS.filter((m) => m !== leader), "worker-1", "worker-2"];
    expect(actionsOf(run).sort()).toEqual(
      [...admitting.map((n) => `${n} firewall`), "worker-2 join", "worker-2 label"].sort(),
    );
    await expectMatches(bed(), bed().inventory);
    // The old leader, back, was told nothing about worker-2 while it was off: the next run admits it there, the one after does nothing.
    expect(actionsOf(await runCli(file))).toEqual([`${leader} firewall`]);
    expect(actionsOf(await runCli(file))).toEqual([]);
  });

  it("after a bounded wait, names the manager that could have served and why, when quorum is lost", async () => {
    const survivor = "manager-1";
    const gone = MANAGERS.filter((m) => m !== survivor);
    for (const m of gone) await bed().powerOff(m);
    const key = fs.readFileSync(bed().privateKeyPath, "utf8");
    const lines: string[] = [];
    // The bootstrap function itself, with a short SSH wait for the powered-off managers (default 5 min, for booting servers).
    const failure = await bootstrap(bed().inventory, {
      privateKeyFor: () => key,
      log: (l) => lines.push(l),
      sshWaitTimeoutMs: 30_000,
    }).then(
      () => undefined,
      (err: unknown) => err as BootstrapError,
    );
    expect(failure).toBeInstanceOf(BootstrapError);
    const problem = (failure as BootstrapError).problems.join("\n");
    expect(problem).not.toMatch(/no reachable manager is in a swarm|was not inspected/);
    expect(problem).toMatch(
      /^no manager can serve this run, and bootstrap will not create a new swarm while a manager is or may be in one: /,
    );
    expect(problem).toMatch(
      new RegExp(
        `${survivor} is a manager of a swarm but no leader answered while bootstrap waited \\(docker: rpc error: .*(does not have a leader|deadline exceeded).*lost quorum.*--force-new-cluster\` on ${survivor}`,
      ),
    );
    for (const m of gone)
      expect(problem).toMatch(new RegExp(`cannot reach ${m}: timed out after 30 s waiting for SSH on ${m}`));
    expect(lines.join("\n")).toContain(`reading it again for up to ${ELECTION_WAIT_MS / 1000} s`);
    expect((failure as BootstrapError).actions).toEqual([]);
    // With the managers back, the same inventory converges and then has nothing left to do.
    for (const m of gone) await bed().powerOn(m);
    const file = writeInventory(bed(), bed().inventory, "quorum-back");
    expectSuccess(await runCli(file));
    await expectMatches(bed(), bed().inventory);
    expect(actionsOf(await runCli(file))).toEqual([]);
  });
});
