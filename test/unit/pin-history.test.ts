/**
 * The pure decision behind "never an empty re-pin in silence" (stacks/placement/pin-history.ts),
 * and the lists that name what an override applies to (common/name-list.ts, bootstrap/force-remove.ts).
 */
import { planPinHistory, rebindHolders, type PinRecord } from "../../stacks/placement/pin-history";
import { parseNameList } from "../../common/name-list";
import { forcedFromEnv, parseForceRemove, unknownForced } from "../../bootstrap/force-remove";
import type { NodeFacts } from "../../swarm/facts";

const node = (hostname: string, id: string, labels: Record<string, string> = {}, status = "ready"): NodeFacts => ({
  id,
  hostname,
  role: hostname.startsWith("manager") ? "manager" : "worker",
  availability: "active",
  status,
  addr: "10.9.0.1",
  leader: false,
  os: "linux",
  arch: "x86_64",
  labels,
  engineLabels: {},
});
const PIN = { "wordpress-data": "true" };
const record = (...holders: Array<[string, string]>): PinRecord => ({
  stack: "wordpress",
  label: "wordpress-data",
  holders: holders.map(([name, id]) => ({ name, id })),
});
const plan = (
  before: NodeFacts[],
  after: NodeFacts[],
  records: PinRecord[],
  acceptEmpty = false,
): ReturnType<typeof planPinHistory> =>
  planPinHistory({
    stack: "wordpress",
    pins: ["wordpress-data"],
    records,
    before,
    after,
    acceptEmpty,
    acceptHint: "--accept-empty",
    inventory: [],
  });

describe("pin history: where a stack's pinned data is", () => {
  const m1 = node("manager-1", "M1");
  const w1 = node("worker-1", "W1", PIN);
  const w2 = node("worker-2", "W2");

  it("records the holder on the first placement, and writes nothing when the data is where the pin is", () => {
    const first = plan([m1, w2], [m1, { ...w2, labels: PIN }], []);
    expect(first).toEqual({ problems: [], warnings: [], writes: [record(["worker-2", "W2"])] });
    expect(plan([m1, w1, w2], [m1, w1, w2], [record(["worker-1", "W1"])])).toEqual({
      problems: [],
      warnings: [],
      writes: [],
    });
  });

  it("refuses when the holder was removed and another node would get the pin, naming stack, lost node and ways out", () => {
    const r = plan([m1, w2], [m1, { ...w2, labels: PIN }], [record(["worker-1", "W1234567890abcdef"])]);
    expect(r.writes).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(
      /^stack wordpress: its pinned data \(pin wordpress-data\) was on worker-1 \(node W1234567890a\), which is no longer in the swarm \(removed, or replaced by a new node\)\. This deploy would start wordpress on worker-2, which does not have that data: it would start empty\. Refused; nothing was changed\. Ways out: restore the data from a backup onto worker-2 .*; or move the volume or data to worker-2 yourself, then deploy with --accept-empty; or start wordpress empty on purpose: deploy with --accept-empty, which records worker-2 as the new holder$/,
    );
  });

  it("catches a replaced server: same hostname, new swarm ID, pin label set again by the config", () => {
    const fresh = node("worker-1", "W1-NEW", PIN);
    const r = plan([m1, fresh], [m1, fresh], [record(["worker-1", "W1"])]);
    expect(r.problems[0]).toMatch(
      /was on worker-1 \(node W1\), which is no longer in the swarm.*would start wordpress on worker-1, which does not have that data/,
    );
  });

  it("refuses when the label was moved or set false, and says how to put it back where the data is", () => {
    const moved = plan(
      [m1, { ...w1, labels: { "wordpress-data": "false" } }, { ...w2, labels: PIN }],
      [m1, { ...w1, labels: { "wordpress-data": "false" } }, { ...w2, labels: PIN }],
      [record(["worker-1", "W1"])],
    );
    expect(moved.problems[0]).toMatch(
      /was on worker-1 \(node W1\), which no longer carries wordpress-data=true .*Ways out: put the label back where the data is: docker node update --label-add wordpress-data=true worker-1, then deploy again; restore/,
    );
  });

  it("with --accept-empty goes ahead, warns, and records the new holder", () => {
    const r = plan([m1, w2], [m1, { ...w2, labels: PIN }], [record(["worker-1", "W1"])], true);
    expect(r.problems).toEqual([]);
    expect(r.writes).toEqual([record(["worker-2", "W2"])]);
    expect(r.warnings[0]).toMatch(
      /^stack wordpress: starting without its pinned data \(pin wordpress-data\) on worker-2, as accepted: worker-1 .*recording worker-2 as the new holder$/,
    );
  });

  it("keeps the pin on a holder that is down: refused, even with --accept-empty, and the message says the data may come back", () => {
    const down = { ...w1, status: "down" };
    for (const accept of [false, true]) {
      const r = plan([m1, down, w2], [m1, down, w2], [record(["worker-1", "W1"])], accept);
      expect(r.writes).toEqual([]);
      expect(r.problems[0]).toMatch(
        /^stack wordpress: its pinned data \(pin wordpress-data\) is on worker-1 \(down\), which is not ready; the data may come back with the node, so the pin stays there .*start worker-1 again .*remove it from the swarm first \(bootstrap --force-remove NODE/,
      );
    }
  });

  it("reads only this stack's record: another stack's history of the same label neither refuses nor lifts", () => {
    const other: PinRecord = { stack: "shop", label: "wordpress-data", holders: [{ name: "worker-1", id: "W1" }] };
    expect(plan([m1, w2], [m1, { ...w2, labels: PIN }], [other]).writes).toEqual([record(["worker-2", "W2"])]);
  });

  it("a record whose data could not be read (no holders) makes every node new to it", () => {
    expect(plan([m1, w1], [m1, w1], [record()]).problems).toHaveLength(1);
  });

  it("after a restore, moves holders to the rejoined node of the same hostname that carries the label again", () => {
    const rejoined = [
      { id: "M1", hostname: "manager-1" },
      { id: "W1-NEW", hostname: "worker-1" },
    ];
    const carried = new Map([["worker-1", PIN]]);
    expect(rebindHolders([record(["worker-1", "W1"])], rejoined, carried)).toEqual([record(["worker-1", "W1-NEW"])]);
    // Not carried (the label did not come back there), or still a member: unchanged.
    expect(rebindHolders([record(["worker-1", "W1"])], rejoined, new Map())).toEqual([]);
    expect(rebindHolders([record(["worker-1", "W1-NEW"])], rejoined, carried)).toEqual([]);
  });
});

describe("lists of names for overrides", () => {
  const env = (v: string | undefined) => forcedFromEnv({ HCLOUD_SWARM_FORCE_SCALE_DOWN: v });

  it("takes plain comma-separated names, and nothing when unset or empty", () => {
    expect(env("worker-1")).toEqual(["worker-1"]);
    expect(env("worker-1,worker-2")).toEqual(["worker-1", "worker-2"]);
    expect(env(undefined)).toEqual([]);
    expect(env("")).toEqual([]);
  });

  it("refuses =1 and its look-alikes, saying to name the node(s)", () => {
    for (const v of ["1", "true", "TRUE", "yes", "all", "*", " 1 "])
      expect(() => env(v)).toThrow(
        `HCLOUD_SWARM_FORCE_SCALE_DOWN=${JSON.stringify(v)} no longer applies to every node at once: name the node(s) it is for, comma-separated, e.g. HCLOUD_SWARM_FORCE_SCALE_DOWN=worker-1`,
      );
  });

  it("refuses hostile values with an error naming the value and the entry", () => {
    expect(() => env("worker-1, worker-2")).toThrow(
      'HCLOUD_SWARM_FORCE_SCALE_DOWN="worker-1, worker-2": " worker-2" contains white space',
    );
    expect(() => env("worker-1,,worker-2")).toThrow(
      'HCLOUD_SWARM_FORCE_SCALE_DOWN="worker-1,,worker-2": entry 2 is empty',
    );
    expect(() => env("worker-1,")).toThrow("entry 2 is empty");
    expect(() => env(",")).toThrow("entry 1 is empty");
    expect(() => env("worker-1;rm -rf /")).toThrow('"worker-1;rm -rf /" contains white space');
    expect(() => env("$(id)")).toThrow('"$(id)" is not a node name');
    expect(() => env("worker-1,worker-1")).toThrow("worker-1 is named twice");
    expect(() => env("worker-1\nworker-2")).toThrow("contains white space");
  });

  it("reports unknown node names with the nodes it knows, and every problem of a value at once", () => {
    expect(unknownForced(["wroker-1", "worker-1"], ["manager-1", "worker-1", "worker-2"])).toEqual([
      '--force-remove names node "wroker-1", which is not a node of the inventory or a member of the swarm (known: manager-1, worker-1, worker-2)',
    ]);
    expect(parseNameList(" ,x y,", "X", "stack", "wordpress").problems).toHaveLength(3);
  });

  it("--force-remove is repeatable and comma-separated, with the same checks", () => {
    expect(parseForceRemove(["worker-1", "worker-2,worker-3"])).toEqual({
      names: ["worker-1", "worker-2", "worker-3"],
      problems: [],
    });
    expect(parseForceRemove(["worker-1", "worker-1"]).problems).toEqual(["--force-remove worker-1 is given twice"]);
    expect(parseForceRemove(["1"]).problems[0]).toMatch(/^--force-remove "1" no longer applies to every node at once/);
    expect(parseForceRemove([""]).problems[0]).toMatch(/entry 1 is empty/);
  });
});
