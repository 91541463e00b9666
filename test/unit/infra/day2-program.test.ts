/**
 * Day two through the user's entry point: the real program (infra/index.ts) under the rehearsal's
 * engine, from the state a release left (test/fixtures/day2). Refusals name the key and the way
 * out, and touch nothing; a location appended moves no node; a serverType change is one NodeRoll
 * per node, managers first, each after the one before, and the servers themselves are not touched.
 */
import * as fs from "fs";
import * as path from "path";
import type { Checkpoint } from "../../../rehearse/engine/checkpoint";
import {
  dynamicMocks,
  logsOfLastRun,
  operationsOfLastRun,
  paperChangeType,
  runProgramDetailed,
  useState,
} from "../../support/pulumi";

jest.setTimeout(300_000);

const FIXTURES = path.resolve(__dirname, "../../fixtures/day2");
const SERVER = "hcloud:index/server:Server";
const NODE_ROLL = "pulumi-nodejs:dynamic/hcloud-swarm:NodeRoll";
const SWARM_NODE = "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode";
const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, "config.json"), "utf8")) as Record<string, string>;
const fixture = () => JSON.parse(fs.readFileSync(path.join(FIXTURES, "checkpoint.json"), "utf8")) as Checkpoint;
const labels = JSON.parse(base["hcloud-swarm:nodeLabels"]) as Record<string, Record<string, string>>;
/** What the engine did besides keeping things as they are. */
const touched = () => operationsOfLastRun().filter((o) => o.op !== "same");

async function refused(config: Record<string, string>): Promise<string> {
  try {
    await runProgramDetailed(config);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("the run was not refused");
}

describe("day-2 refusals, before anything is touched", () => {
  it("refuses an image and a networkCidr change together, naming both keys, the nodes and the way out", async () => {
    useState(fixture());
    const why = await refused({
      ...base,
      "hcloud-swarm:image": "debian-13",
      "hcloud-swarm:networkCidr": "10.1.0.0/16",
    });
    expect(why).toMatch(/hcloud-swarm:image is "debian-13" but manager-1 \(debian-12\).*worker-2 \(debian-12\)/);
    expect(why).toMatch(/pulumi config set hcloud-swarm:image debian-12/);
    expect(why).toMatch(/hcloud-swarm:networkCidr 10\.1\.0\.0\/16 would give manager-1 \(now 10\.0\.0\.11\)/);
    expect(touched()).toEqual([]);
  });

  it("refuses privateNetwork false for nodes on the private network", async () => {
    useState(fixture());
    const why = await refused({ ...base, "hcloud-swarm:privateNetwork": "false" });
    expect(why).toMatch(/hcloud-swarm:privateNetwork is false but manager-1 \(10\.0\.0\.11\)/);
    expect(why).toMatch(/pulumi config set hcloud-swarm:privateNetwork true/);
    expect(touched()).toEqual([]);
  });

  it("labels each server with what it was made with, then refuses swarmAddressPool and pin-label moves; other labels change", async () => {
    useState(fixture());
    const first = await runProgramDetailed(base);
    expect(first.resources.find((r) => r.name === "swarm-worker-1")?.inputs.labels).toMatchObject({
      "swarm-pool": "10.128.0.0-16",
      "pin-wordpress-data": "true",
    });

    const pool = await refused({ ...base, "hcloud-swarm:swarmAddressPool": "10.200.0.0/16" });
    expect(pool).toMatch(
      /hcloud-swarm:swarmAddressPool is 10\.200\.0\.0\/16 but the swarm was created with 10\.128\.0\.0\/16.*pulumi config set hcloud-swarm:swarmAddressPool 10\.128\.0\.0\/16/,
    );
    expect(touched()).toEqual([]);

    const moved = { ...labels, "worker-1": {}, "worker-2": { "wordpress-data": "true" } };
    const move = await refused({ ...base, "hcloud-swarm:nodeLabels": JSON.stringify(moved) });
    expect(move).toMatch(/moves the pin label wordpress-data from worker-1, which holds its stack's data, to worker-2/);
    expect(touched()).toEqual([]);

    const off = { ...labels, "worker-1": { "wordpress-data": "false" } };
    const removal = await refused({ ...base, "hcloud-swarm:nodeLabels": JSON.stringify(off) });
    expect(removal).toMatch(
      /no longer gives the pin label wordpress-data to worker-1.*nodeLabels\["worker-1"\]\["wordpress-data"\]' true/,
    );

    // Removing an ordinary label is a change like any other: the memberships get the new labels.
    const rest = Object.fromEntries(Object.entries(labels).filter(([k]) => k !== "workers"));
    const run = await runProgramDetailed({ ...base, "hcloud-swarm:nodeLabels": JSON.stringify(rest) });
    const member = run.resources.find((r) => r.type === SWARM_NODE && r.name === "swarm-worker-2-swarm");
    expect((member?.inputs.node as { labels: Record<string, string> }).labels).toEqual({ location: "fsn1" });
  });
});

describe("locations: a node keeps its own for life", () => {
  it("appending a location moves no node, and the next node goes to the new one", async () => {
    useState(fixture());
    const run = await runProgramDetailed({
      ...base,
      "hcloud-swarm:locations": JSON.stringify(["nbg1", "fsn1", "hel1"]),
      "hcloud-swarm:workers": "3",
    });
    const where = (name: string) => run.resources.find((r) => r.name === name)?.inputs.location;
    expect(
      ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2", "worker-3"].map((n) => where(`swarm-${n}`)),
    ).toEqual(["nbg1", "fsn1", "nbg1", "nbg1", "fsn1", "hel1"]);
    expect(
      operationsOfLastRun()
        .filter((o) => o.type === SERVER && o.op !== "same")
        .map((o) => `${o.op} ${o.name}`)
        .sort(),
    ).toEqual([
      "create swarm-worker-3",
      ...["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"].map((n) => `update swarm-${n}`),
    ]);
    expect(run.outputs.inventory).toMatchObject({
      nodes: expect.arrayContaining([
        expect.objectContaining({ name: "worker-3", labels: expect.objectContaining({ location: "hel1" }) }),
      ]),
    });
  });
});

describe("serverType: resized one node at a time, drained, never by the provider", () => {
  afterEach(() => dynamicMocks.delete(NODE_ROLL));

  it("rolls the nodes one after the other, managers first, and leaves the servers to their NodeRoll", async () => {
    useState(fixture());
    const journal: string[] = [];
    let running = 0;
    dynamicMocks.set(NODE_ROLL, async ({ inputs }) => {
      if (++running > 1) journal.push("OVERLAP");
      journal.push(`start ${String(inputs.node)}`);
      // Give any roll that is not held back by the one before a chance to start meanwhile.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      paperChangeType(String(inputs.serverId), (inputs.action as { to: string }).to);
      journal.push(`end ${String(inputs.node)}`);
      running--;
      return inputs;
    });
    await runProgramDetailed({ ...base, "hcloud-swarm:serverType": "cx33" });
    const nodes = ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"];
    expect(journal).toEqual(nodes.flatMap((n) => [`start ${n}`, `end ${n}`]));
    // The servers only gain their day-2 labels; none is resized by the provider or replaced.
    expect(
      operationsOfLastRun()
        .filter((o) => o.type === SERVER && o.op !== "same")
        .map((o) => [o.op, o.changed]),
    ).toEqual(nodes.map(() => ["update", ["labels"]]));
    expect(logsOfLastRun()).toContain(
      "day 2: worker-1: resize, serverType cx23 → cx33: drained, resized keeping its disk, back to Ready, then the next node",
    );

    // Hetzner now lists the new type: the next run rolls nothing, and forgets the finished rolls.
    journal.length = 0;
    await runProgramDetailed({ ...base, "hcloud-swarm:serverType": "cx33" });
    expect(journal).toEqual([]);
    expect(
      touched()
        .filter((o) => o.type === NODE_ROLL)
        .map((o) => o.op),
    ).toEqual(nodes.map(() => "delete"));
  });
});
