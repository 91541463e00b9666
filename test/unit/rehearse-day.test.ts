/**
 * The rehearsal's own decisions, pure: its options (hostile ones included), the config each step
 * runs with, how a run's operations are tallied, and the checks each step of the day makes.
 */
import { day, type StepObservation } from "../../rehearse/day";
import type { Operation } from "../../rehearse/engine/engine";
import { parseOptions, stepConfig } from "../../rehearse/options";
import { SERVER_TYPE, STACKS_TYPE, SWARM_NODE_TYPE, tally } from "../../rehearse/tally";

const op = (o: Operation["op"], type: string, name: string, diagnostics: string[] = []): Operation => ({
  op: o,
  urn: `urn::${type}::${name}`,
  type,
  name,
  ms: 1,
  diagnostics,
});

describe("rehearsal options", () => {
  it("defaults to 1 manager and 2 workers (1 in the short form)", () => {
    expect(parseOptions({})).toMatchObject({ managers: 1, workers: 2, short: false, keep: false });
    expect(parseOptions({ short: true })).toMatchObject({ workers: 1, short: true });
  });

  it("reports every bad option at once, naming each", () => {
    const bad = () =>
      parseOptions({
        managers: "2.5",
        workers: "-1",
        config: [
          "foo=bar",
          "hcloud-swarm:=x",
          "hcloud-swarm:workers=3",
          "hcloud-swarm:image=ubuntu-24.04",
          "hcloud-swarm:dockerOnImage=false",
          "hcloud-swarm:clusterName=a",
          "hcloud-swarm:clusterName=b",
          "hcloud-swarm:networkCidr",
        ],
      });
    expect(bad).toThrow(/9 problems/);
    for (const part of [
      "--managers must be",
      "--workers must be",
      '"foo=bar" is not a config setting',
      '"hcloud-swarm:=x"',
      "use --workers instead",
      "image=ubuntu-24.04: the rehearsal needs debian-12",
      "dockerOnImage=false: the rehearsal needs true",
      "clusterName is given twice",
      '"hcloud-swarm:networkCidr" is not a config setting',
    ]) {
      expect(bad).toThrow(part);
    }
  });

  it("refuses counts that only look like numbers", () => {
    for (const w of ["1e1", " 2", "0x2", "", "90"])
      expect(() => parseOptions({ workers: w })).toThrow(/--workers must be a whole number from 0 to 89/);
  });

  it("keeps a value with = in it whole, and puts the step's counts last", () => {
    const o = parseOptions({
      managers: "3",
      config: ['hcloud-swarm:adminSshKeys=["ssh-ed25519 AAAA= me"]', "hcloud-swarm:serverType=cx33"],
    });
    const c = stepConfig(o, 4);
    expect(c["hcloud-swarm:adminSshKeys"]).toBe('["ssh-ed25519 AAAA= me"]');
    expect(c).toMatchObject({
      "hcloud-swarm:serverType": "cx33",
      "hcloud-swarm:image": "debian-12",
      "hcloud-swarm:dockerOnImage": "true",
      "hcloud-swarm:managers": "3",
      "hcloud-swarm:workers": "4",
    });
    expect(JSON.parse(c["hcloud-swarm:stacks"]).map((s: { template: string }) => s.template)).toEqual([
      "traefik",
      "wordpress",
    ]);
  });
});

describe("tallying a run", () => {
  it("counts operations and reads the actions from the providers' own lines", () => {
    const t = tally([
      op("create", SERVER_TYPE, "swarm-worker-3"),
      op("same", SERVER_TYPE, "swarm-worker-1"),
      op("create", SWARM_NODE_TYPE, "swarm-worker-3-swarm", [
        "[manager-1] swarm state: active (manager)",
        "[worker-3] join: joined as worker via manager-1",
        "[worker-3] label: location=nbg1",
      ]),
      op("update", STACKS_TYPE, "swarm-stacks", [
        "traefik: nothing to do, the cluster already runs this rendering (abc)",
        "wordpress: create secret wordpress_db_password (generated)",
        "wordpress: pin wordpress-data=true on worker-1 (least loaded eligible node)",
        "wordpress: waiting for wordpress_db 0/1",
      ]),
      { ...op("create", SERVER_TYPE, "swarm-worker-4"), error: "boom" },
    ]);
    expect(t.counts).toEqual({ create: 2, same: 1, update: 1, replace: 0, delete: 0 });
    expect(t.serversCreated).toEqual(["swarm-worker-3"]);
    expect(t.bootstrapActions.map((a) => `${a.on} ${a.kind}`)).toEqual(["worker-3 join", "worker-3 label"]);
    expect(t.deployActions.map((a) => `${a.on} ${a.kind}`)).toEqual(["wordpress create secret", "wordpress pin"]);
    expect(t.failures).toEqual([`create ${SERVER_TYPE} swarm-worker-4: boom`]);
  });
});

describe("the day's checks", () => {
  const steps = day({ managers: 1, workers: 2 }, "rehearsal");
  const step = (key: string) => steps.find((s) => s.key === key)!;
  const observe = (ops: Operation[], vmsBefore: string[], vmsAfter: string[]): StepObservation => ({
    tally: tally(ops),
    vmsBefore,
    vmsAfter,
    order: ops.map((o) => `${o.op} ${o.type} ${o.name}`),
  });
  const two = ["rehearsal-manager-1", "rehearsal-worker-1", "rehearsal-worker-2"];
  const three = [...two, "rehearsal-worker-3"];

  it("plays the whole day, or the short form", () => {
    expect(steps.map((s) => s.key)).toEqual(["form", "again", "grow", "shrink", "verify", "teardown"]);
    expect(day({ managers: 1, workers: 1 }, "rehearsal", true).map((s) => s.key)).toEqual([
      "form",
      "grow",
      "verify",
      "teardown",
    ]);
  });

  it("passes growing by exactly one server and one membership, and fails any change to an existing server", () => {
    // The members' host firewalls admit the newcomer: the one thing bootstrap must do on them.
    const admitted = [
      "[worker-1] firewall: swarm ports and ESP open to 4 cluster addresses (+10.0.0.14)",
      "[worker-3] join: joined as worker via manager-1",
    ];
    const grown = [
      op("create", SERVER_TYPE, "swarm-worker-3"),
      op("create", SWARM_NODE_TYPE, "swarm-worker-3-swarm", admitted),
      op("same", SERVER_TYPE, "swarm-worker-1"),
    ];
    expect(step("grow").expect!(observe(grown, two, three))).toEqual([]);
    const touched = [
      ...grown,
      op("update", SERVER_TYPE, "swarm-worker-1"),
      op("update", STACKS_TYPE, "swarm-stacks", ["traefik: docker stack deploy traefik (changed)"]),
      op("same", SWARM_NODE_TYPE, "swarm-worker-1-swarm", ["[worker-1] label: edge=true"]),
    ];
    const problems = step("grow").expect!(observe(touched, two, three));
    expect(problems.join("\n")).toMatch(/existing servers changed: swarm-worker-1/);
    expect(problems.join("\n")).toMatch(/the stacks were redeployed/);
    expect(problems.join("\n")).toMatch(/bootstrap touched other nodes: worker-1 label$/m);
  });

  it("fails a second run that changes anything or takes any action", () => {
    expect(step("again").expect!(observe([op("same", SERVER_TYPE, "swarm-worker-1")], two, two))).toEqual([]);
    const busy = step("again").expect!(
      observe(
        [op("same", SERVER_TYPE, "swarm-worker-1", []), op("same", SWARM_NODE_TYPE, "x", ["[worker-1] label: a=b"])],
        two,
        two,
      ),
    );
    expect(busy).toEqual(["expected 0 bootstrap actions, got 1"]);
  });

  it("requires the removed worker to be drained, to leave and to be removed before its server is deleted", () => {
    const member = op("delete", SWARM_NODE_TYPE, "swarm-worker-3-swarm", [
      "[worker-3] drain: tasks moved",
      "[worker-3] leave: docker swarm leave",
      "[worker-3] remove: docker node rm",
    ]);
    const server = op("delete", SERVER_TYPE, "swarm-worker-3");
    expect(step("shrink").expect!(observe([member, server], three, two))).toEqual([]);
    const wrong = step("shrink").expect!(
      observe([server, { ...member, diagnostics: ["[worker-3] remove: docker node rm"] }], three, two),
    );
    expect(wrong.join("\n")).toMatch(/worker-3 was not drained/);
    expect(wrong.join("\n")).toMatch(/must be deleted before its server/);
  });
});
