/**
 * Placement pins and the placement precheck, pure: which node gets a pin (least loaded among the
 * nodes the services' other constraints allow, or --pin), that it never moves, and that a stack
 * no node could run is refused naming the service, the constraint and the fix. The constraint
 * semantics themselves are checked against Docker's scheduler in test/integration/pins.test.ts.
 */
import type { NodeFacts } from "../../swarm/facts";
import { parse } from "yaml";
import { stackText } from "../../stacks/reading/stack-text";
import { matches, parseConstraint } from "../../stacks/placement/constraints";
import { parsePinArgs, planPins, describePin, type PinInputs } from "../../stacks/placement/placement-pins";
import { checkPlacement, servicePlacements } from "../../stacks/placement/placement";
import { precheckDeploy } from "../../stacks/placement/precheck";
import { renderStack } from "../../stacks/template/render";
import { loadStackFile } from "../../stacks/template/template";
import { readMeta } from "../../stacks/template/meta";

function node(
  name: string,
  role: "manager" | "worker",
  labels: Record<string, string> = {},
  extra: Partial<NodeFacts> = {},
): NodeFacts {
  return {
    id: `id-${name}`,
    hostname: name,
    addr: `10.0.0.${name.length}`,
    role,
    os: "linux",
    arch: "x86_64",
    labels,
    engineLabels: {},
    availability: "active",
    status: "ready",
    leader: false,
    ...extra,
  };
}

const cluster = [node("manager-1", "manager"), node("worker-1", "worker"), node("worker-2", "worker")];
const render = (name: string, vars: Record<string, string>, stack = name) => {
  const t = loadStackFile(name);
  return renderStack(stackText(t.text, t.file), { stack, vars });
};
const traefik = render("traefik", { acme_email: "a@b.c", dashboard_domain: "t.example" });
const wordpress = render("wordpress", { domain: "blog.example" });

function plan(r: ReturnType<typeof render>, nodes: readonly NodeFacts[], extra: Partial<PinInputs> = {}) {
  const { services } = servicePlacements(parse(r.text, { merge: true }), r.stack);
  return planPins({
    stack: r.stack,
    pins: r.meta.pins.map((p) => p.label),
    services,
    nodes,
    load: new Map(),
    requests: [],
    inventory: [],
    ...extra,
  });
}

describe("placement pins", () => {
  it("are declared by the templates: traefik-certs and wordpress-data", () => {
    expect(traefik.meta.pins.map((p) => p.label)).toEqual(["traefik-certs"]);
    expect(wordpress.meta.pins.map((p) => p.label)).toEqual(["wordpress-data"]);
  });

  it("puts traefik-certs on a manager, the only node its service's other constraint allows", () => {
    const p = plan(traefik, cluster, { load: new Map([["id-manager-1", 5]]) });
    expect(p.problems).toEqual([]);
    expect(p.actions).toEqual([
      expect.objectContaining({
        label: "traefik-certs",
        node: "manager-1",
        kind: "label",
        labels: { "traefik-certs": "true", "hcloud-swarm.pin.traefik-certs": "traefik" },
      }),
    ]);
    expect(describePin(p.actions[0])).toBe(
      "pin traefik-certs=true on manager-1 (the only eligible node: manager-1 5 tasks)",
    );
  });

  it("puts wordpress-data on the least loaded node, ties broken by fewer pins held, then by name", () => {
    const load = new Map([
      ["id-manager-1", 1],
      ["id-worker-1", 2],
      ["id-worker-2", 2],
    ]);
    expect(plan(wordpress, cluster, { load }).actions[0]).toMatchObject({
      node: "manager-1",
      reason: "least loaded of 3 eligible nodes: manager-1 1 task, worker-1 2 tasks, worker-2 2 tasks",
    });
    const tie = new Map([["id-manager-1", 3]]);
    expect(plan(wordpress, cluster, { load: tie }).actions[0].node).toBe("worker-1");
    const held = [cluster[0], node("worker-1", "worker", { "hcloud-swarm.pin.other": "x" }), cluster[2]];
    expect(plan(wordpress, held, { load: tie }).actions[0].node).toBe("worker-2");
    // Natural order: worker-2 before worker-10.
    expect(plan(wordpress, [node("worker-10", "worker"), node("worker-2", "worker")]).actions[0].node).toBe("worker-2");
  });

  it("never gives a pin to a node that takes no tasks", () => {
    const nodes = [
      node("manager-1", "manager", {}, { availability: "drain" }),
      node("worker-1", "worker", {}, { status: "down" }),
      node("worker-2", "worker"),
    ];
    expect(plan(wordpress, nodes).actions[0].node).toBe("worker-2");
    expect(plan(traefik, nodes).problems).toEqual([
      expect.stringMatching(
        /^pin traefik-certs: no node can hold it \(manager-1: ready, drain; worker-1: down, active, not "node.role == manager"; worker-2: not "node.role == manager"\)/,
      ),
    ]);
  });

  it("is stable: a pin that exists stays where it is, whatever the load, and a second deploy plans nothing", () => {
    const pinned = [
      cluster[0],
      cluster[1],
      node("worker-2", "worker", { "wordpress-data": "true", "hcloud-swarm.pin.wordpress-data": "wordpress" }),
    ];
    const p = plan(wordpress, pinned, { load: new Map([["id-worker-2", 50]]) });
    expect(p).toMatchObject({ actions: [], problems: [], warnings: [] });
  });

  it("records a second stack's data on a node that already holds the pin, and a label set by hand or by config", () => {
    const shop = render("wordpress", { domain: "shop.example" }, "shop");
    const pinned = [
      cluster[0],
      node("worker-1", "worker", { "wordpress-data": "TRUE", "hcloud-swarm.pin.wordpress-data": "wordpress" }),
      cluster[2],
    ];
    expect(plan(shop, pinned).actions).toEqual([
      expect.objectContaining({
        node: "worker-1",
        kind: "record",
        labels: { "hcloud-swarm.pin.wordpress-data": "shop,wordpress" },
      }),
    ]);
    const byConfig = [cluster[0], cluster[1], node("worker-2", "worker", { "wordpress-data": "true" })];
    expect(plan(wordpress, byConfig).actions).toEqual([
      expect.objectContaining({
        node: "worker-2",
        kind: "record",
        labels: { "hcloud-swarm.pin.wordpress-data": "wordpress" },
      }),
    ]);
  });

  it("refuses a pin held only by a node the other constraints rule out, without moving it", () => {
    const wrong = [
      cluster[0],
      node("worker-1", "worker", { "traefik-certs": "true", "hcloud-swarm.pin.traefik-certs": "traefik" }),
      cluster[2],
    ];
    const p = plan(traefik, wrong);
    expect(p.actions).toEqual([]);
    expect(p.problems).toEqual([
      expect.stringMatching(
        /^pin traefik-certs is on worker-1, but traefik_traefik also need\(s\) "node.role == manager", which worker-1 do\(es\) not meet; the data stays where it is/,
      ),
    ]);
  });

  it("warns when a pin label is on several nodes", () => {
    const two = [
      cluster[0],
      node("worker-1", "worker", { "wordpress-data": "true" }),
      node("worker-2", "worker", { "wordpress-data": "true" }),
    ];
    expect(plan(wordpress, two).warnings).toEqual([
      expect.stringMatching(
        /^pin wordpress-data is on 2 nodes \(worker-1, worker-2\): the data of stack wordpress may end up on any of them/,
      ),
    ]);
  });

  it("takes --pin by inventory name, hostname or node ID, and refuses every bad one at once", () => {
    const inventory = [
      {
        name: "worker-1",
        role: "worker" as const,
        host: "h",
        port: 22,
        user: "root",
        hostKey: "k",
        advertiseAddress: "10.9.9.9",
        labels: {},
      },
    ];
    const renamed = [cluster[0], node("dev-worker-1", "worker", {}, { addr: "10.9.9.9" }), cluster[2]];
    for (const by of ["worker-1", "dev-worker-1", "id-dev-worker-1"]) {
      expect(
        plan(wordpress, renamed, { inventory, requests: [{ label: "wordpress-data", node: by }] }).actions[0],
      ).toMatchObject({
        node: "worker-1",
        nodeId: "id-dev-worker-1",
        reason: `chosen with --pin wordpress-data=${by}`,
      });
    }
    expect(
      plan(traefik, cluster, {
        requests: [
          { label: "traefik-certs", node: "worker-2" },
          { label: "wordpress-data", node: "worker-1" },
        ],
      }).problems,
    ).toEqual([
      '--pin wordpress-data=worker-1: stack traefik declares no pin "wordpress-data"; its pins: traefik-certs',
      `--pin traefik-certs=worker-2: worker-2 cannot hold this pin: it does not meet "node.role == manager"; eligible: manager-1`,
    ]);
    expect(plan(wordpress, cluster, { requests: [{ label: "wordpress-data", node: "worker-9" }] }).problems).toEqual([
      '--pin wordpress-data=worker-9: there is no node "worker-9"; nodes: manager-1, worker-1, worker-2',
    ]);
    const pinned = [
      cluster[0],
      cluster[1],
      node("worker-2", "worker", { "wordpress-data": "true", "hcloud-swarm.pin.wordpress-data": "wordpress" }),
    ];
    expect(plan(wordpress, pinned, { requests: [{ label: "wordpress-data", node: "worker-1" }] }).problems).toEqual([
      expect.stringMatching(
        /^--pin wordpress-data=worker-1: the pin wordpress-data is already on worker-2, with the data of stack\(s\) wordpress; deploy never moves a pin/,
      ),
    ]);
    expect(plan(wordpress, pinned, { requests: [{ label: "wordpress-data", node: "worker-2" }] }).problems).toEqual([]);
  });

  it("parses --pin arguments, naming each bad one", () => {
    expect(parsePinArgs(["wordpress-data=worker-1"])).toEqual({
      requests: [{ label: "wordpress-data", node: "worker-1" }],
      problems: [],
    });
    expect(parsePinArgs(["wordpress-data", "a=b=c", "x=y", "x=z", "l=a b"]).problems).toEqual([
      `--pin "wordpress-data" must be LABEL=NODE, e.g. --pin wordpress-data=worker-1`,
      `--pin "a=b=c" must be LABEL=NODE, e.g. --pin wordpress-data=worker-1`,
      "--pin x is given twice; a pin is held by one node",
      `--pin "l=a b" must be LABEL=NODE, e.g. --pin wordpress-data=worker-1`,
    ]);
  });

  it("rejects a declared pin that no service uses, or that names a reserved label", () => {
    const text = `version: "3.8"\nx-hcloud-swarm:\n  pins:\n    data: {}\n    hcloud-swarm.pin.x: {}\nservices:\n  app:\n    image: x\n    deploy:\n      placement:\n        constraints: [node.labels.data != true]\n`;
    const { findings } = readMeta(stackText(text, "s.yml").source("s"));
    expect(findings.map((f) => `${f.line}: ${f.message}`)).toEqual([
      `4: pin "data" is declared but no service has the placement constraint "node.labels.data == true"`,
      `5: pin "hcloud-swarm.pin.x" must be a node label name (letters, digits, ".", "_", "-"; not "hcloud-swarm.*")`,
    ]);
  });
});

describe("the placement precheck", () => {
  const file = (constraints: string[], extra = "") =>
    `version: "3.8"\nservices:\n  app:\n    image: x\n    deploy:\n      placement:\n        constraints: ${JSON.stringify(constraints)}\n${extra}`;
  const check = (text: string, nodes = cluster, pins: string[] = []) => {
    const { services, problems } = servicePlacements(parse(text, { merge: true }), "s");
    return [...problems, ...checkPlacement(services, nodes, pins, []).problems];
  };

  it("refuses a constraint on a label that no node has and no pin declares, naming service, constraint and fix", () => {
    expect(check(file(["node.labels.disk == ssd"]))).toEqual([
      expect.stringMatching(
        /^service s_app: constraint "node.labels.disk == ssd" names the label "disk", which no node has; set it on the node .*hcloud-swarm:nodeLabels.*or declare it under x-hcloud-swarm pins:/,
      ),
    ]);
    // Declared as a pin, the label is deploy's to set: no refusal, one node labelled.
    const pinned = precheckDeploy({
      stack: "s",
      text: file(["node.labels.disk == true"]),
      pins: ["disk"],
      generatedSecrets: [],
      existingSecrets: new Set(),
      nodes: cluster,
      load: new Map(),
      requests: [],
      inventory: [],
    });
    expect({ problems: pinned.problems, pins: pinned.pinActions.map((a) => `${a.label} on ${a.node}`) }).toEqual({
      problems: [],
      pins: ["disk on manager-1"],
    });
  });

  it("refuses a value no node has, typos Docker would accept but never schedule, and syntax Docker refuses", () => {
    const labelled = [node("worker-1", "worker", { disk: "hdd" })];
    expect(check(file(["node.labels.disk == ssd"]), labelled)).toEqual([
      `service s_app: constraint "node.labels.disk == ssd" matches no node (worker-1 has disk=hdd); fix the constraint or the label`,
    ]);
    expect(check(file(["node.lables.disk == ssd", "node.labels.x = y", "node.role == bad;value"]))).toEqual([
      expect.stringMatching(
        /^service s_app: placement constraint "node.lables.disk == ssd": "node.lables.disk" is no key the scheduler knows .*no node ever matches; fix the constraint/,
      ),
      expect.stringMatching(
        /^service s_app: placement constraint "node.labels.x = y": Docker refuses it: a constraint needs == or !=/,
      ),
      expect.stringMatching(
        /^service s_app: placement constraint "node.role == bad;value": Docker refuses the value "bad;value"/,
      ),
    ]);
  });

  it("refuses constraints that hold on different nodes but never together", () => {
    expect(check(file(["node.role == manager", "node.hostname == worker-1"]))).toEqual([
      `service s_app: no node meets all its placement constraints together ("node.role == manager" holds on manager-1; "node.hostname == worker-1" holds on worker-1); fix the constraints or the nodes' labels`,
    ]);
  });

  it("accepts != on a label nobody has, and a service scaled to 0", () => {
    expect(check(file(["node.labels.gpu != true"]))).toEqual([]);
    expect(check(file(["node.labels.nowhere == true"]).replace("deploy:\n", "deploy:\n      replicas: 0\n"))).toEqual(
      [],
    );
  });

  it("refuses an external secret that neither exists nor is generated, and accepts the templates on a fresh cluster", () => {
    const text = file(
      [],
      "    secrets: [api]\nsecrets:\n  api:\n    external: true\n  named:\n    external: true\n    name: real_name\n",
    );
    const base = {
      stack: "s",
      pins: [],
      generatedSecrets: [],
      nodes: cluster,
      load: new Map(),
      requests: [],
      inventory: [],
    };
    expect(precheckDeploy({ ...base, text, existingSecrets: new Set(["real_name"]) }).problems).toEqual([
      `secret api (secrets.api, external) does not exist in the cluster; create it first: printf '%s' "$VALUE" | docker secret create api -`,
    ]);
    for (const r of [traefik, wordpress]) {
      const p = precheckDeploy({
        ...base,
        stack: r.stack,
        text: r.text,
        pins: r.meta.pins.map((x) => x.label),
        generatedSecrets: r.secrets.map((x) => x.name),
        existingSecrets: new Set(),
      });
      expect({ stack: r.stack, problems: p.problems, pins: p.pinActions.length }).toEqual({
        stack: r.stack,
        problems: [],
        pins: 1,
      });
    }
  });
});

describe("constraints, read as swarmkit reads them", () => {
  const n = node("Worker-1", "worker", { Disk: "SSD" }, { addr: "10.213.4.12", engineLabels: { zone: "a" } });
  const m = (text: string) => {
    const p = parseConstraint(text);
    if (!p.ok) throw new Error(p.reason);
    return matches(p.constraint, n);
  };

  it("compares values case-insensitively and label names case-sensitively; a missing label reads as empty", () => {
    expect([
      m("node.labels.Disk == ssd"),
      m("node.labels.disk == ssd"),
      m("node.labels.disk != ssd"),
      m("NODE.ROLE == WORKER"),
      m("node.hostname==worker-1"),
    ]).toEqual([true, false, true, true, true]);
  });

  it("matches node.ip by address and subnet, and engine labels", () => {
    expect([
      m("node.ip == 10.213.4.12"),
      m("node.ip == 10.213.4.0/24"),
      m("node.ip != 10.213.5.0/24"),
      m("node.ip == nonsense"),
      m("engine.labels.zone == A"),
    ]).toEqual([true, true, true, false, true]);
  });
});
