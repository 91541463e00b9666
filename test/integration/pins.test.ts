/**
 * The user's journey on a fresh bed (`local up`, `bootstrap`, `stack deploy traefik`, `stack
 * deploy wordpress`) through the CLI, with no step in between; deploy's convergence wait against
 * real failures and a real slow start; placement constraints judged by Docker's own scheduler;
 * and scale-down of a node that holds a pin. The tests run in order, like a user's session.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hcloudSwarm } from "../support/cli";
import { runBootstrapCommand } from "../../cli/bootstrap";
import type { Inventory } from "../../inventory/inventory";
import type { SshSession } from "../../transport/ssh";
import { readNodes, stackServices, stackTasks, type NodeFacts } from "../../swarm/facts";
import { connectManager } from "../../swarm/manager-session";
import { matchesAll, parseConstraint, type Constraint } from "../../stacks/placement/constraints";
import { deployStack, type DeployResult } from "../../stacks/deploy/deploy";
import { removeStack } from "../../stacks/deploy/remove";
import { readPinRecords } from "../../stacks/deploy/pin-records";
import { waitFor } from "../../common/time";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

jest.setTimeout(300_000);

const bed = useBedFixture({ name: "pins", nodes: 3, managers: 1 });
const work = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-pins-"));
let s: SshSession;
/** When set, the failures' real task records are written here for the unit tests (test/unit/fixtures/task-errors.json). */
const RECORD = process.env.HCLOUD_SWARM_RECORD_TASK_ERRORS;
const recorded: Record<string, unknown> = {};

const cli = hcloudSwarm;

/** Deploys a stack file of this test (real images: nothing is swapped). */
async function deployFile(
  name: string,
  text: string,
  timeoutMs = 120_000,
): Promise<{ r: DeployResult; log: string[]; ms: number }> {
  const file = path.join(work, `${name}.yml`);
  fs.writeFileSync(file, text);
  const log: string[] = [];
  const started = Date.now();
  const r = await deployStack(s, {
    source: { file, text, defaultName: name, builtin: false },
    inventory: bed().inventory,
    convergeTimeoutMs: timeoutMs,
    log: (l) => log.push(l),
  });
  return { r, log, ms: Date.now() - started };
}

async function record(name: string, stack: string): Promise<void> {
  if (RECORD)
    recorded[name] = {
      services: await stackServices(s, stack),
      tasks: await stackTasks(s, stack),
      nodes: await readNodes(s),
    };
}

const service = (body: string) =>
  `version: "3.8"\nservices:\n  app:\n${body}    networks: [net]\nnetworks:\n  net:\n    driver_opts: {encrypted: ""}\n`;
const TRAEFIK = ["--var", "acme_email=ops@example.test", "--var", "dashboard_domain=traefik.example.test"];

beforeAll(async () => {
  const labelled: Inventory = {
    ...bed().inventory,
    // Labels of the user's own, through the product's path (inventory → bootstrap): the scheduler test below reads them.
    nodes: bed().inventory.nodes.map((n) => ({
      ...n,
      labels:
        ({ "worker-1": { Tier: "APP" }, "worker-2": { tier: "db" } } as Record<string, Record<string, string>>)[
          n.name
        ] ?? {},
    })),
  };
  fs.writeFileSync(path.join(work, "inventory.json"), JSON.stringify(labelled));
  await runBootstrapCommand({ inventory: path.join(work, "inventory.json") }, () => undefined);
  s = await connectManager(bed().inventory);
}, 240_000);

afterAll(() => {
  s?.close();
  if (RECORD) fs.writeFileSync(RECORD, JSON.stringify(recorded, null, 2) + "\n");
  fs.rmSync(work, { recursive: true, force: true });
});

describe("placement pins and convergence on the test bed", () => {
  it("deploys traefik then wordpress through the CLI on a freshly bootstrapped bed, with no step in between", async () => {
    const inv = bed().inventoryPath;
    const t = await cli([
      "stack",
      "deploy",
      "traefik",
      "--inventory",
      inv,
      ...TRAEFIK,
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(work, "t.env"),
    ]);
    expect({ code: t.code, pin: /pin traefik-certs=true on manager-1 \(the only eligible node/.test(t.out) }).toEqual({
      code: 0,
      pin: true,
    });
    const w = await cli([
      "stack",
      "deploy",
      "wordpress",
      "--inventory",
      inv,
      "--var",
      "domain=blog.example.test",
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(work, "w.env"),
    ]);
    expect(w.code).toBe(0);
    expect(w.out).toMatch(
      /pin wordpress-data=true on worker-1 \(least loaded of 3 eligible nodes: worker-1 0 tasks, worker-2 0 tasks, manager-1 1 task\)/,
    );
    expect(w.out).toMatch(/stack wordpress: all services converged/);
    const where = async (svc: string) =>
      (await s.run(`docker service ps --filter desired-state=running --format '{{.Node}}' ${svc}`)).stdout.trim();
    expect([await where("traefik_traefik"), await where("wordpress_db"), await where("wordpress_wordpress")]).toEqual([
      "manager-1",
      "worker-1",
      "worker-1",
    ]);
  });

  it("never moves a pin: --pin to another node is refused, to the same node is accepted, and a redeploy takes no action", async () => {
    const inv = bed().inventoryPath;
    const args = [
      "stack",
      "deploy",
      "wordpress",
      "--inventory",
      inv,
      "--var",
      "domain=blog.example.test",
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(work, "w.env"),
    ];
    const moved = await cli([...args, "--pin", "wordpress-data=worker-2"]);
    expect(moved.code).toBe(1);
    expect(moved.out).toMatch(
      /--pin wordpress-data=worker-2: the pin wordpress-data is already on worker-1, with the data of stack\(s\) wordpress; deploy never moves a pin/,
    );
    const same = await cli([...args, "--pin", "wordpress-data=worker-1"]);
    expect({ code: same.code, actions: /actions: none/.test(same.out) }).toEqual({ code: 0, actions: true });
    // Nothing changed and every task has long been running: nothing to wait for (no 5 s window).
    expect(same.out).toMatch(
      /wordpress: unchanged, and every task has run for 5 s or more: converged, nothing to wait for/,
    );
  });

  it("fails a deploy of an image that does not exist within 30 s, naming the image", async () => {
    const { r, ms, log } = await deployFile(
      "noimage",
      service("    image: registry.example.invalid/no-such-image:1.0\n"),
    );
    await record("no-such-image", "noimage");
    expect(r.converge).toMatchObject({ converged: false, stoppedEarly: true });
    expect(r.converge.failing).toEqual([
      expect.objectContaining({
        service: "noimage_app",
        reason: expect.stringMatching(
          /^image registry\.example\.invalid\/no-such-image:1\.0 cannot be found or pulled: Docker tried \d+ times/,
        ),
      }),
    ]);
    expect(ms).toBeLessThan(30_000);
    // Said while waiting, before the verdict: the latest task's error.
    expect(log.join("\n")).toMatch(
      /noimage: waiting for noimage_app 0\/1 \(rejected on \S+: No such image: registry\.example\.invalid\/no-such-image:1\.0\)/,
    );
    console.log(
      `nonexistent image: deploy stopped after ${(ms / 1000).toFixed(1)} s (convergence ${r.converge.seconds} s)`,
    );
    await removeStack(s, "noimage");
  });

  it("stops early on a mount whose source does not exist, with the fix", async () => {
    // The bind is declared (lint refuses undeclared host paths); its source exists on no node.
    const declared = `x-hcloud-swarm:\n  allow:\n    - {service: app, bind: /nonexistent/hsw-data, reason: the test needs a host path that is missing}\n`;
    const { r, ms } = await deployFile(
      "badmount",
      declared +
        service(
          `    image: ${LOCAL_IMAGE}\n    command: ["sleep", "1000"]\n    volumes:\n      - {type: bind, source: /nonexistent/hsw-data, target: /data}\n`,
        ),
    );
    await record("invalid-mount", "badmount");
    expect(r.converge).toMatchObject({ converged: false, stoppedEarly: true });
    expect(r.converge.failing[0]).toMatchObject({
      reason: expect.stringMatching(
        /^invalid mount: Docker tried \d+ times .*bind source path does not exist: \/nonexistent\/hsw-data/,
      ),
      fix: expect.stringMatching(/create the source path/),
    });
    console.log(`invalid mount: deploy stopped after ${(ms / 1000).toFixed(1)} s`);
    await removeStack(s, "badmount");
  });

  it("stops early when Docker's restart policy gives up on a crashing task", async () => {
    const { r } = await deployFile(
      "giveup",
      service(
        `    image: ${LOCAL_IMAGE}\n    entrypoint: ["/bin/sh", "-c", "exit 3"]\n    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 1, delay: 1s}\n`,
      ),
    );
    await record("restart-policy-gave-up", "giveup");
    expect(r.converge).toMatchObject({ converged: false, stoppedEarly: true });
    expect(r.converge.failing[0].reason).toMatch(
      /^Docker stopped starting new tasks \(its restart policy gave up\); the last one ended failed: task: non-zero exit \(3\)/,
    );
    // Deploying the same file again changes nothing, and must not take the no-change fast path to "converged".
    const again = await deployFile(
      "giveup",
      service(
        `    image: ${LOCAL_IMAGE}\n    entrypoint: ["/bin/sh", "-c", "exit 3"]\n    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 1, delay: 1s}\n`,
      ),
    );
    expect(again.r.actions).toEqual([]);
    expect(again.r.converge).toMatchObject({ converged: false, stoppedEarly: true });
    expect(again.log.join("\n")).toMatch(/giveup: unchanged, but waiting: giveup_app 0\/1 running/);
    await removeStack(s, "giveup");
  });

  it("keeps waiting for a slow but healthy start, and converges", async () => {
    const slow =
      `    image: ${LOCAL_IMAGE}\n    entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 20; touch /tmp/ready; while true; do sleep 1; done"]\n` +
      `    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 100, start_period: 60s}\n`;
    const { r, log } = await deployFile("slow", service(slow));
    await record("slow-start", "slow");
    expect(r.converge).toMatchObject({ converged: true, stoppedEarly: false });
    expect(r.converge.seconds).toBeGreaterThanOrEqual(15);
    expect(log.join("\n")).toMatch(/slow: waiting for slow_app 0\/1 \(starting on \S+\)/);
    await removeStack(s, "slow");
  });

  it("reads placement constraints the way Docker's scheduler does, hostile spellings included", async () => {
    const nodes = await readNodes(s);
    const w1 = nodes.find((n) => n.hostname === "worker-1") as NodeFacts;
    const subnet = `${w1.addr.split(".").slice(0, 3).join(".")}.0/25`;
    const cases = [
      ["node.labels.Tier == app"],
      ["node.labels.tier == APP"],
      ["node.labels.zone != a"],
      ["node.role==Manager"],
      ["  node.hostname ==  worker-1  "],
      [`node.ip == ${subnet}`],
      [`node.ip != ${w1.addr}`],
      ["node.lables.tier == db"],
      ["engine.labels.x == y"],
      ["node.platform.os == LINUX"],
      ["node.labels.tier == db", "node.labels.tier != db"],
      ["node.labels.tier != db", "node.role != manager"],
    ];
    // A constraint we refuse as unknown is one we claim no node ever meets: Docker must agree.
    const ours = (cs: string[]) => {
      const parsed = cs.map(parseConstraint);
      if (parsed.some((p) => !p.ok)) return [];
      return nodes
        .filter((n) =>
          matchesAll(
            parsed.map((p) => (p as { constraint: Constraint }).constraint),
            n,
          ),
        )
        .map((n) => n.hostname)
        .sort();
    };
    // Global services: Docker starts one task on every node that meets the constraints, and none elsewhere.
    for (const [i, cs] of cases.entries()) {
      await s.run(
        `docker service create -q --detach --mode global --name hsw-probe-${i} ${cs.map((c) => `--constraint '${c}'`).join(" ")} ${LOCAL_IMAGE} sleep 1000`,
      );
    }
    try {
      const docker = async (i: number) =>
        (await s.run(`docker service ps --filter desired-state=running --format '{{.Node}}' hsw-probe-${i}`)).stdout
          .split("\n")
          .filter(Boolean)
          .sort();
      // The orchestrator places global tasks within a second or two; read until two reads agree.
      let seen: string[][] = [];
      await waitFor(
        async () => {
          const now: string[][] = [];
          for (const i of cases.keys()) now.push(await docker(i));
          const stable = JSON.stringify(now) === JSON.stringify(seen);
          seen = now;
          return stable;
        },
        60_000,
        2_000,
      );
      expect(cases.map((cs, i) => ({ cs, docker: seen[i] }))).toEqual(cases.map((cs) => ({ cs, docker: ours(cs) })));
    } finally {
      await s.run(`docker service rm ${cases.map((_, i) => `hsw-probe-${i}`).join(" ")}`, { allowFailure: true });
    }
  });

  it("forces one node only: =1-style --force is refused, and forcing worker-1 does not let worker-2's pin go", async () => {
    // A second stack whose data is pinned to worker-2, through the user's CLI.
    const cacheFile = path.join(work, "cache.yml");
    fs.writeFileSync(
      cacheFile,
      `x-hcloud-swarm:\n  pins:\n    cache-data: {description: the cache's local volume}\n` +
        service(
          `    image: ${LOCAL_IMAGE}\n    command: ["sleep", "1000"]\n    stop_signal: SIGKILL\n    deploy:\n      placement:\n        constraints: ["node.labels.cache-data == true"]\n`,
        ),
    );
    const cache = await cli([
      "stack",
      "deploy",
      cacheFile,
      "--inventory",
      bed().inventoryPath,
      "--pin",
      "cache-data=worker-2",
      "--local-images",
      LOCAL_IMAGE,
    ]);
    expect({ code: cache.code, pinned: /pin cache-data=true on worker-2/.test(cache.out) ? "yes" : cache.out }).toEqual(
      {
        code: 0,
        pinned: "yes",
      },
    );
    const without = (...gone: string[]) => {
      const file = path.join(work, `without-${gone.join("-")}.json`);
      fs.writeFileSync(
        file,
        JSON.stringify({ ...bed().inventory, nodes: bed().inventory.nodes.filter((n) => !gone.includes(n.name)) }),
      );
      return file;
    };
    const both = without("worker-1", "worker-2");
    const old = await cli(["bootstrap", "--inventory", both, "--force"]);
    expect({ code: old.code, out: old.out }).toEqual({
      code: 1,
      out: expect.stringMatching(
        /--force no longer lets every node .* go at once: name each node .*--force-remove worker-1/,
      ),
    });
    const hostile = await cli(["bootstrap", "--inventory", both, "--force-remove", "worker-1, worker-2"]);
    expect(hostile.out).toMatch(/--force-remove "worker-1, worker-2": " worker-2" contains white space/);
    const typo = await cli(["bootstrap", "--inventory", both, "--force-remove", "worker-1,wroker-2"]);
    expect(typo.out).toMatch(/--force-remove names node "wroker-2", which is not a node of the inventory or a member/);
    const one = await cli(["bootstrap", "--inventory", both, "--force-remove", "worker-1"]);
    expect(one.code).toBe(1);
    expect(one.out).toMatch(
      /refusing to remove worker-2: it holds the data of stack\(s\) cache \(placement pin cache-data\); removing it loses that data\. .*re-run with --force-remove worker-2/,
    );
    expect(one.out).not.toMatch(/refusing to remove worker-1/);
    // Refused as a whole, before any change: both are still members.
    expect((await readNodes(s)).map((n) => n.hostname).sort()).toEqual(["manager-1", "worker-1", "worker-2"]);
  });

  it("refuses to remove worker-1 (the wordpress-data holder) unless forced for it, then refuses an empty re-pin until --accept-empty", async () => {
    const file = path.join(work, "without-worker-1.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ ...bed().inventory, nodes: bed().inventory.nodes.filter((n) => n.name !== "worker-1") }),
    );
    const lines: string[] = [];
    const refused = await runBootstrapCommand({ inventory: file }, (l) => lines.push(l)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(
      /refusing to remove worker-1: it holds the data of stack\(s\) wordpress \(placement pin wordpress-data\); removing it loses that data\. .*re-run with --force-remove worker-1/,
    );
    expect((await readNodes(s)).map((n) => n.hostname).sort()).toEqual(["manager-1", "worker-1", "worker-2"]);
    const forced = await cli(["bootstrap", "--inventory", file, "--force-remove", "worker-1"]);
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(/worker-1 .*remove/);
    expect((await readNodes(s)).map((n) => n.hostname).sort()).toEqual(["manager-1", "worker-2"]);
    // The data went with the node: WordPress waits for a node that holds the pin, which none does now.
    expect(
      await waitFor(
        async () => (await stackTasks(s, "wordpress")).some((t) => t.err.startsWith("no suitable node")),
        60_000,
        1_000,
      ),
    ).toBe(true);
    await record("pinned-node-removed", "wordpress");
    // The swarm still knows where the data was, though the node (and its labels) are gone.
    expect((await readPinRecords(s)).find((r) => r.stack === "wordpress")?.holders.map((h) => h.name)).toEqual([
      "worker-1",
    ]);
    const args = [
      "stack",
      "deploy",
      "wordpress",
      "--inventory",
      file,
      "--var",
      "domain=blog.example.test",
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(work, "w.env"),
    ];
    const empty = await cli(args);
    expect(empty.code).toBe(1);
    expect(empty.out).toMatch(
      /stack wordpress: its pinned data \(pin wordpress-data\) was on worker-1 \(node \w+\), which is no longer in the swarm .*would start wordpress on \S+, which does not have that data: it would start empty\. Refused; nothing was changed\. Ways out: restore the data from a backup .*hcloud-swarm backup.*; or move the volume or data to .*; or start wordpress empty on purpose: deploy with --accept-empty/,
    );
    // Nothing was changed: no node carries the pin, so no WordPress or MySQL task can start anywhere.
    expect((await readNodes(s)).filter((n) => n.labels["wordpress-data"] !== undefined)).toEqual([]);
    expect((await stackTasks(s, "wordpress")).filter((t) => t.state === "running")).toEqual([]);
    const accepted = await cli([...args, "--accept-empty", "--pin", "wordpress-data=worker-2"]);
    expect(accepted.code).toBe(0);
    expect(accepted.out).toMatch(
      /WARNING: stack wordpress: starting without its pinned data \(pin wordpress-data\) on worker-2, as accepted/,
    );
    expect(accepted.out).toMatch(/pin wordpress-data=true on worker-2/);
    expect(accepted.out).toMatch(/record pin history wordpress-data: the data of stack wordpress is on worker-2/);
    expect(accepted.out).toMatch(/stack wordpress: all services converged/);
    // Recorded: the next deploy needs no --accept-empty and changes nothing.
    const again = await cli(args);
    expect({ code: again.code, none: /actions: none/.test(again.out) }).toEqual({ code: 0, none: true });
  });
});
