/**
 * Day two through the CLI on one namespace bed (1 manager + 2 workers), in sequence:
 * - bootstrap with a node spec applies what it can in place (admin keys) and names what needs a roll
 *   (a daemon.json key: the engine must restart);
 * - `upgrade --dry-run` prints the plan and touches nothing;
 * - `upgrade --restart-engine` rolls every node (daemon.json written, dockerd really restarted, one
 *   node at a time) while a 2-replica service keeps answering, probed all along;
 * - bootstrap again: the node reconcile step takes 0 actions;
 * - a node whose dockerd does not come back stops the roll, named; the next node is untouched; a
 *   re-run after the fix resumes from it;
 * - `--docker-version` is refused on this bed: its engine is the host machine's.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import { hcloudSwarm } from "../support/cli";
import { writeInventory } from "./bootstrap-helpers";
import { LABEL_SPEC } from "../../nodespec/spec";

jest.setTimeout(300_000);
const bed = useBedFixture({ name: "upgrade", nodes: 3, managers: 1 });
const PORT = 18080;
const ADMIN_KEY = `ssh-ed25519 ${crypto.randomBytes(32).toString("base64").replace(/=+$/, "")} admin@upgrade-test`;
let inventory = "";

async function sh(node: string, script: string): Promise<string> {
  const r = await bed().exec(node, script);
  if (r.code !== 0) throw new Error(`${script} on ${node} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** One HTTP GET to a node's published port; true when the service's page came back. */
function answers(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port: PORT });
    let body = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.on("connect", () => sock.write("GET / HTTP/1.0\r\n\r\n"));
    sock.on("data", (d) => (body += d.toString()));
    sock.on("end", () => done(body.includes("web-marker")));
    sock.on("error", () => done(false));
  });
}

/** Every 200 ms, asks every node; a round fails when no node answers (a load balancer with health checks would find none). */
function probe(): { stop: () => Promise<{ rounds: number; failed: number }> } {
  let running = true;
  let rounds = 0;
  let failed = 0;
  const loop = (async () => {
    while (running) {
      const t = Date.now();
      const ok = await Promise.all(bed().inventory.nodes.map((n) => answers(n.advertiseAddress)));
      rounds++;
      if (!ok.some((x) => x)) failed++;
      await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - t))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { rounds, failed };
    },
  };
}

const dockerdPid = (node: string) => bed().processes(node).dockerd;

/** With HCLOUD_SWARM_LAB_LOG=FILE, the roll outputs and probe figures are appended there (docs/lab figures). */
function labLog(title: string, text: string): void {
  const file = process.env.HCLOUD_SWARM_LAB_LOG;
  if (file) fs.appendFileSync(file, `## ${title}\n${text}\n`);
}

describe("upgrade on the namespace bed", () => {
  beforeAll(async () => {
    inventory = writeInventory(
      bed(),
      {
        ...bed().inventory,
        nodeSpec: { adminSshKeys: [ADMIN_KEY], daemonJson: { "max-concurrent-uploads": 4 } },
      },
      "upgrade-inventory",
    );
    const run = await hcloudSwarm(["bootstrap", "--inventory", inventory]);
    if (run.code !== 0) throw new Error(run.out);
    expect(run.out).toMatch(/worker-1 +reconcile +admin-keys: 1 admin key in the managed block of authorized_keys/);
    expect(run.out).toMatch(/manager-1: daemon-json differs .*run `hcloud-swarm upgrade/);
    expect(await sh("worker-2", "cat $HOME/.ssh/authorized_keys")).toContain(ADMIN_KEY);
    await sh(
      "manager-1",
      `docker service create -d --name web --replicas 2 --replicas-max-per-node 1 --publish mode=host,target=8080,published=${PORT} --stop-signal KILL --endpoint-mode dnsrr ${LOCAL_IMAGE} sh -c 'mkdir -p /w && echo web-marker > /w/index.html && exec httpd -f -p 8080 -h /w'`,
    );
    const up = await bed().exec(
      "manager-1",
      "for i in $(seq 1 60); do case \"$(docker service ls --format '{{.Replicas}}' --filter name=web)\" in 2/2*) exit 0;; esac; sleep 0.5; done; docker service ps --no-trunc web; exit 1",
    );
    if (up.code !== 0) throw new Error(`the web service did not start: ${up.stdout} ${up.stderr}`);
  });

  it("--dry-run prints the plan, the nodes in order with what happens to each, and changes nothing", async () => {
    const pids = bed().inventory.nodes.map((n) => dockerdPid(n.name));
    const r = await hcloudSwarm(["upgrade", "--inventory", inventory, "--restart-engine", "--dry-run"]);
    expect(r.code).toBe(0);
    const order = ["manager-1", "worker-1", "worker-2"].map((n) => r.out.indexOf(`. ${n} (`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(r.out).toMatch(
      /manager-1 \(manager\): drain → daemon-json: .* → restart dockerd → .*reactivate → verify; out for about \d+ s/,
    );
    expect(r.out).toMatch(/note: the swarm has a single manager/);
    expect(r.out).toMatch(/every service keeps running/);
    expect(bed().inventory.nodes.map((n) => dockerdPid(n.name))).toEqual(pids);
  });

  it("rolls dockerd node by node (daemon.json applied) while the 2-replica service keeps answering; bootstrap then takes 0 actions", async () => {
    const pids = new Map(bed().inventory.nodes.map((n) => [n.name, dockerdPid(n.name)]));
    const p = probe();
    const r = await hcloudSwarm(["upgrade", "--inventory", inventory, "--restart-engine"]);
    const seen = await p.stop();
    labLog("upgrade --restart-engine (daemon.json pending)", `${r.out}\nprobe: ${JSON.stringify(seen)}`);
    expect(r.code).toBe(0);
    for (const n of ["manager-1", "worker-1", "worker-2"]) {
      expect(r.out).toMatch(
        new RegExp(`\\[${n}\\] drain: .*\\n\\[${n}\\] act: daemon-json: .*dockerd restarted \\(relaunch\\)`),
      );
      expect(r.out).toMatch(new RegExp(`\\[${n}\\] verify: every service at its full count; runs node spec`));
      expect(dockerdPid(n)).not.toBe(pids.get(n));
      expect(JSON.parse(await sh(n, "cat /etc/docker/daemon.json"))["max-concurrent-uploads"]).toBe(4);
    }
    expect(r.out).toMatch(/upgrade done: 3 nodes rolled/);
    expect(seen.rounds).toBeGreaterThan(20);
    expect(seen).toEqual({ rounds: seen.rounds, failed: 0 });
    const labels = await sh(
      "manager-1",
      `docker node inspect --format '{{index .Spec.Labels "${LABEL_SPEC}"}}' manager-1 worker-1 worker-2`,
    );
    expect(new Set(labels.split("\n")).size).toBe(1);
    expect(labels).toMatch(/^1-[0-9a-f]{16}/);

    const again = await hcloudSwarm(["bootstrap", "--inventory", inventory]);
    expect(again.code).toBe(0);
    expect(again.out).toContain("no changes: the swarm already matches the inventory");
    expect(again.out).not.toMatch(/reconcile|daemon-json differs/);
  });

  it("stops at the node that does not come back, naming it; the rest stays untouched; a re-run resumes", async () => {
    const daemonJson = "/etc/docker/daemon.json";
    const good = await sh("worker-1", `cat ${daemonJson}`);
    await sh("worker-1", `echo '{ broken' > ${daemonJson}`);
    const w2 = dockerdPid("worker-2");
    let r;
    try {
      r = await hcloudSwarm(["upgrade", "--inventory", inventory, "--restart-engine"]);
    } finally {
      await sh("worker-1", `cat > ${daemonJson} <<'EOF'\n${good}\nEOF`);
    }
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/\[manager-1\] verify: /);
    expect(r.out).toMatch(
      /roll stopped at worker-1: dockerd on worker-1 exited right after its start: .*; untouched: worker-2/,
    );
    expect(r.out).toMatch(
      /worker-1 did not come back \(act\).*left drained.*re-run the same command to resume from worker-1/,
    );
    expect(dockerdPid("worker-2")).toBe(w2);
    expect(r.out).not.toMatch(/\[worker-2\]/);

    labLog("roll that stops", r.out);
    const resumed = await hcloudSwarm(["upgrade", "--inventory", inventory, "--restart-engine"]);
    labLog("re-run that resumes", resumed.out);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/resuming an interrupted run of this roll/);
    expect(resumed.out).toMatch(/skipped manager-1: done by the interrupted run of this roll/);
    expect(resumed.out).toMatch(/\[worker-1\] act: .*dockerd was stopped \(an interrupted roll\?\): started/);
    expect(resumed.out).toMatch(/\[worker-2\] verify: /);
    expect(resumed.out).toMatch(/upgrade done: 2 nodes rolled/);
    expect(await sh("manager-1", "docker node inspect -f '{{.Spec.Availability}} {{.Status.State}}' worker-1")).toBe(
      "active ready",
    );
  });

  it("verify: every node Ready, active and running the spec after the roll; --wire stops early when no node has the probe image", async () => {
    const v = await hcloudSwarm(["verify", "--inventory", inventory, "--json"]);
    const doc = JSON.parse(v.stdout) as { checks: Array<{ status: string; subject: string; what: string }> };
    for (const n of ["manager-1", "worker-1", "worker-2"])
      for (const what of ["swarm member", "node spec"])
        expect(doc.checks.filter((c) => c.subject === `node ${n}` && c.what === what).map((c) => c.status)).toEqual([
          "pass",
        ]);
    expect(doc.checks.filter((c) => c.what === "roll")).toEqual([]);
    const wire = await hcloudSwarm([
      "verify",
      "--inventory",
      inventory,
      "--wire",
      "--probe-image",
      "hcloud-swarm/absent:1",
    ]);
    expect(wire.code).not.toBe(0);
    expect(wire.out).toMatch(
      /cannot start, and waiting cannot help: image hcloud-swarm\/absent:1 cannot be found or pulled: Docker tried \d+ times/,
    );
  });

  it("--docker-version is refused on the namespace bed, naming why, before anything is touched", async () => {
    const pids = bed().inventory.nodes.map((n) => dockerdPid(n.name));
    const r = await hcloudSwarm(["upgrade", "--inventory", inventory, "--docker-version", "28.5.1"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /refused: manager-1: --docker-version 28\.5\.1 cannot be applied: no systemd runs this host.*the engine there is \d+\./,
    );
    expect(r.out).toMatch(/upgrade refused before touching anything/);
    expect(bed().inventory.nodes.map((n) => dockerdPid(n.name))).toEqual(pids);
  });
});
