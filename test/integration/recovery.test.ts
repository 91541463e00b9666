/**
 * backup and restore through the CLI on one namespace bed (3 managers, 1 worker), in sequence:
 * back up from a non-leader with dockerd really stopped and restarted; then the refusals (a healthy
 * swarm, a wrong key, a truncated archive, another cluster's backup); then a restore after the
 * swarm was wiped on every node, and the state (a secret, a service, an encrypted network) is back.
 */
import * as fs from "fs";
import * as path from "path";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import { hcloudSwarm } from "../support/cli";

jest.setTimeout(300_000);
const bed = useBedFixture({ name: "recovery", nodes: 4, managers: 3 });
const work = () => path.join(bed().dir, "recovery-test");
const keyFile = () => path.join(work(), "backup.key");

async function sh(node: string, script: string): Promise<string> {
  const r = await bed().exec(node, script);
  if (r.code !== 0) throw new Error(`${script} on ${node} failed: ${r.stderr}`);
  return r.stdout.trim();
}

let archive = "";
const deployNotes = () =>
  hcloudSwarm([
    "stack",
    "deploy",
    path.join(work(), "notes.yml"),
    "--inventory",
    bed().inventoryPath,
    "--pin",
    "notes-data=worker-1",
    "--secrets-file",
    path.join(work(), "notes.env"),
  ]);
/** A writer that records every start in its pinned volume: the backup must stop it and start it again. */
const NOTES_STACK = `version: "3.8"
x-hcloud-swarm:
  secrets:
    token:
      description: a value the writer reads
      generate: password
  pins:
    notes-data:
      description: the notes volume
services:
  writer:
    image: ${LOCAL_IMAGE}
    command: ["sh", "-c", "echo start >> /data/starts; exec sleep 100000"]
    volumes: [notes_data:/data]
    secrets: [token]
    networks: [net]
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      placement:
        constraints: [node.labels.notes-data == true]
networks:
  net:
    driver_opts: {encrypted: ""}
volumes:
  notes_data: {}
secrets:
  token:
    external: true
`;
/** The writer's running container on worker-1 (a shell expression). */
const WRITER = "docker ps -q --filter label=com.docker.swarm.service.name=notes_writer";

describe("backup and restore on the namespace bed", () => {
  beforeAll(async () => {
    fs.rmSync(work(), { recursive: true, force: true });
    const run = await hcloudSwarm(["bootstrap", "--inventory", bed().inventoryPath]);
    if (run.code !== 0) throw new Error(run.out);
    // The user's state the backup must carry: a secret, an encrypted network, a service.
    await sh(
      "manager-1",
      `printf s3cret | docker secret create app_password - && docker network create -d overlay --opt encrypted app_net && docker service create -d --mode global --name app --network app_net --secret app_password --endpoint-mode dnsrr --stop-signal KILL ${LOCAL_IMAGE} sleep 3600`,
    );
    // A stack with a pinned volume, deployed as the user does, and data its writer keeps there.
    const notes = path.join(work(), "notes.yml");
    fs.mkdirSync(work(), { recursive: true });
    fs.writeFileSync(notes, NOTES_STACK);
    const deploy = await deployNotes();
    if (deploy.code !== 0) throw new Error(deploy.out);
    await sh("worker-1", `docker exec $(${WRITER}) sh -c 'echo precious > /data/precious'`);
    // A freshly joined node's spec is still being written ("update out of sequence"): try again.
    await sh(
      "manager-1",
      "for i in $(seq 1 40); do docker node update --label-add app.data=here worker-1 && exit 0; sleep 0.25; done; exit 1",
    );
  });

  it("backs up from a non-leader manager with dockerd stopped, and prints the archive's path last", async () => {
    const leader = await sh(
      "manager-1",
      "docker node ls --filter role=manager --format '{{.Hostname}} {{.ManagerStatus}}' | sed -n 's/ Leader$//p'",
    );
    const dockerdBefore = new Map(["manager-1", "manager-2", "manager-3"].map((n) => [n, bed().processes(n).dockerd]));
    const run = await hcloudSwarm([
      "backup",
      "--inventory",
      bed().inventoryPath,
      "--out",
      path.join(work(), "out"),
      "--key-file",
      keyFile(),
    ]);
    expect(run.code).toBe(0);
    const lines = run.out.trim().split("\n");
    archive = lines[lines.length - 1];
    expect(archive).toMatch(/^\/.*\.hswb$/);
    expect(fs.statSync(archive).mode & 0o777).toBe(0o600);
    expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
    const source = /\[(manager-\d)\] stopping dockerd/.exec(run.out)?.[1];
    expect(source).toBeDefined();
    expect(source).not.toBe(leader);
    expect(run.out).not.toMatch(/cluster pauses|no quorum/);
    // The engine really was stopped and started again: a new dockerd process on the source.
    expect(bed().processes(source as string).dockerd).toBeDefined();
    expect(bed().processes(source as string).dockerd).not.toBe(dockerdBefore.get(source as string));
    expect(bed().processes(leader).dockerd).toBe(dockerdBefore.get(leader));
    // The pinned volume: taken with its writer scaled to 0, listed, and the writer back (a second start recorded).
    expect(run.out).toMatch(/\[worker-1\] quiescing notes_notes_data: scaling notes_writer to 0/);
    expect(run.out).toMatch(/\[worker-1\] scaled notes_writer back to 1/);
    expect(run.out).toMatch(/1 pinned volume\(s\): notes_notes_data on worker-1 \(tar, \d+ bytes\)/);
    expect(
      await sh("manager-1", "docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' notes_writer"),
    ).toBe("1");
    const starts = `for i in $(seq 1 120); do c=$(${WRITER}); [ -n "$c" ] && [ "$(docker exec $c grep -c start /data/starts)" = 2 ] && docker exec $c cat /data/starts && exit 0; sleep 0.5; done; exit 1`;
    expect(await sh("worker-1", starts)).toBe("start\nstart");
    // Encrypted at rest: not a byte of the Raft files' names or the tar header in clear.
    const bytes = fs.readFileSync(archive);
    expect(bytes.includes(Buffer.from("swarm/raft"))).toBe(false);
    expect(bytes.includes(Buffer.from([0x1f, 0x8b, 0x08]))).toBe(false);
    // And the swarm is whole again: three reachable managers, all nodes ready.
    const status = await sh(
      "manager-1",
      "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort",
    );
    expect(status.split("\n").filter((l) => / Ready/.test(l))).toHaveLength(4);
  });

  const restoreArgs = (...extra: string[]) => [
    "restore",
    "--inventory",
    bed().inventoryPath,
    "--from",
    archive,
    "--key-file",
    keyFile(),
    ...extra,
  ];
  const swarmFacts = () =>
    sh(
      "manager-1",
      "docker info --format '{{.Swarm.Cluster.ID}}' && docker node ls --format '{{.Hostname}} {{.Status}}' | sort && docker service ls --format '{{.Name}}'",
    );

  it("refuses, changing nothing: a healthy swarm, a wrong key, a truncated archive, another cluster's backup", async () => {
    const before = await swarmFacts();
    const healthy = await hcloudSwarm(restoreArgs("--yes"));
    expect(healthy.code).toBe(1);
    expect(healthy.out).toMatch(/restore refused; nothing was changed:[\s\S]*the swarm is running: .*pass --force/);

    const wrongKey = path.join(work(), "wrong.key");
    fs.writeFileSync(wrongKey, `hcloud-swarm-backup-key-v1 ${Buffer.alloc(32, 7).toString("base64")}\n`, {
      mode: 0o600,
    });
    const wrong = await hcloudSwarm([
      "restore",
      "--inventory",
      bed().inventoryPath,
      "--from",
      archive,
      "--key-file",
      wrongKey,
      "--yes",
      "--force",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(
      /was encrypted with another key \(key id [0-9a-f]{16}, the key file holds [0-9a-f]{16}\)/,
    );

    const cut = path.join(work(), "cut.hswb");
    const bytes = fs.readFileSync(archive);
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const truncated = await hcloudSwarm([
      "restore",
      "--inventory",
      bed().inventoryPath,
      "--from",
      cut,
      "--key-file",
      keyFile(),
      "--yes",
      "--force",
    ]);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toMatch(new RegExp(`cut.hswb is truncated: ${bytes.length - 100} of ${bytes.length} bytes`));

    // A real backup of "another cluster": the same nodes under another inventory name, taken by the CLI.
    const otherInv = path.join(work(), "other-inventory.json");
    fs.writeFileSync(otherInv, JSON.stringify({ ...bed().inventory, cluster: "elsewhere" }));
    const other = await hcloudSwarm([
      "backup",
      "--inventory",
      otherInv,
      "--out",
      path.join(work(), "other"),
      "--key-file",
      keyFile(),
    ]);
    expect(other.code).toBe(0);
    const foreignArchive = other.out.trim().split("\n").pop() as string;
    const foreign = await hcloudSwarm([
      "restore",
      "--inventory",
      bed().inventoryPath,
      "--from",
      foreignArchive,
      "--key-file",
      keyFile(),
      "--yes",
      "--force",
    ]);
    expect(foreign.code).toBe(1);
    expect(foreign.out).toMatch(
      /is a backup of cluster "elsewhere" \(swarm \w+\), but the inventory is cluster "[^"]+"; pass --other-cluster/,
    );
    expect(foreign.out).not.toMatch(/the swarm is running/);

    expect(await swarmFacts()).toBe(before);
  });

  it("restores the backup after the swarm was wiped on every node: the secret, network and service are back, every node rejoined", async () => {
    const clusterId = await sh("manager-1", "docker info --format '{{.Swarm.Cluster.ID}}'");
    await sh("manager-1", "printf later | docker secret create after_backup -");
    // The disaster: every node leaves, and worker-1 loses its disk (the pinned volume is gone). A manager's leave can time out inside docker while the
    // others go ("context deadline exceeded" under load); it is repeated until the node is out.
    for (const n of ["worker-1", "manager-3", "manager-2", "manager-1"]) {
      await sh(
        n,
        `for i in 1 2 3 4 5; do docker swarm leave --force >/dev/null 2>&1; [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ] && exit 0; sleep 1; done; exit 1`,
      );
    }

    await sh(
      "worker-1",
      "for i in $(seq 1 60); do docker rm -f $(docker ps -aq --filter volume=notes_notes_data) >/dev/null 2>&1; docker volume rm notes_notes_data >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1",
    );
    const unconfirmed = await hcloudSwarm(restoreArgs());
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.out).toMatch(/not a terminal; pass --yes/);
    expect(await sh("manager-1", "docker info --format '{{.Swarm.LocalNodeState}}'")).toBe("inactive");

    const run = await hcloudSwarm(restoreArgs("--yes"));
    if (run.code !== 0) throw new Error(`restore failed:\n${run.out}`);
    expect(run.out).toMatch(/docker swarm init --force-new-cluster --advertise-addr/);
    expect(run.out).toMatch(/restored .* in [\d.]+ s/);
    const target = /\[(manager-\d)\] replaced/.exec(run.out)?.[1] as string;
    expect(target).toBeDefined();
    expect(await sh(target, "docker info --format '{{.Swarm.Cluster.ID}}'")).toBe(clusterId);
    expect(await sh(target, "docker secret ls --format '{{.Name}}' | sort")).toMatch(
      /^app_password\nnotes_token_v[0-9a-f]{8}$/,
    );
    expect(await sh(target, "docker network inspect app_net --format '{{index .Options \"encrypted\"}}'")).toBe("");
    expect(await sh(target, "docker network inspect app_net --format '{{json .Options}}'")).toContain('"encrypted"');
    expect(await sh(target, "docker service ls --format '{{.Name}}' | sort")).toBe("app\nnotes_writer");
    // The volume is back on worker-1 with the backup's files (one start before the backup, one after
    // its quiesce, none of the later ones), unpacked while the writer was scaled to 0.
    expect(run.out).toMatch(/\[worker-1\] restored volume notes_notes_data .* before its writers started again/);
    const data = await sh(
      "worker-1",
      `for i in $(seq 1 120); do c=$(${WRITER}); [ -n "$c" ] && [ "$(docker exec $c grep -c start /data/starts)" = 2 ] && docker exec $c cat /data/precious /data/starts && exit 0; sleep 0.5; done; exit 1`,
    );
    expect(data).toBe("precious\nstart\nstart");
    expect(await sh(target, "docker network inspect ingress --format '{{json .Options}}'")).toContain('"encrypted"');
    // A label set outside the inventory (a placement pin) follows worker-1 to its new node entry.
    expect(await sh(target, "docker node inspect worker-1 --format '{{index .Spec.Labels \"app.data\"}}'")).toBe(
      "here",
    );
    const nodes = (
      await sh(target, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort")
    ).split("\n");
    expect(nodes.map((l) => l.replace(/ (Leader|Reachable)$/, " manager"))).toEqual([
      "manager-1 Ready manager",
      "manager-2 Ready manager",
      "manager-3 Ready manager",
      "worker-1 Ready",
    ]);
  });

  it("recovers when 2 of 3 managers are lost: forces a new cluster on the survivor, tasks keep running, the managers rejoin once replaced", async () => {
    const nothing = await hcloudSwarm(["recover", "--inventory", bed().inventoryPath, "--yes"]);
    expect(nothing.code).toBe(0);
    expect(nothing.out).toMatch(/the swarm has a leader .*no new cluster is forced[\s\S]*3 of 3 managers ready/);
    // The worker's task (the global service has one on every node) must run on through the recovery.
    // The survivor manager's own task was seen replaced during the recovery on the bed (lab notes), so it is not held to that here.
    // The global service's task; the stack's replicated writer is not held to it (it was seen replaced once).
    const containers = () => sh("worker-1", "docker ps -q --filter label=com.docker.swarm.service.name=app | sort");
    const running = await containers();
    expect(running).toMatch(/^\w+$/);
    await bed().powerOff("manager-2");
    await bed().powerOff("manager-3");

    const unconfirmed = await hcloudSwarm(["recover", "--inventory", bed().inventoryPath]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.out).toMatch(
      /manager-1: docker swarm init --force-new-cluster[\s\S]*not a terminal; pass --yes/,
    );

    const run = await hcloudSwarm(["recover", "--inventory", bed().inventoryPath, "--yes"]);
    expect(run.out).toMatch(/\[manager-1\] docker swarm init --force-new-cluster/);
    expect(run.out).toMatch(/only 1 of 3 managers are ready/);
    expect(run.code).toBe(1);
    expect(
      await sh("manager-1", "docker service ls --format '{{.Name}}' && docker secret ls --format '{{.Name}}'"),
    ).toMatch(/^app\nnotes_writer\napp_password\nnotes_token_v[0-9a-f]{8}$/);
    expect(await containers()).toBe(running);

    // The lost servers come back as replacements: same address and host key, empty swarm state.
    for (const n of ["manager-2", "manager-3"]) {
      await sh(n, "rm -rf /var/lib/docker/swarm");
      await bed().powerOn(n);
    }
    const again = await hcloudSwarm(["recover", "--inventory", bed().inventoryPath, "--yes"]);
    if (again.code !== 0) throw new Error(again.out);
    expect(again.out).toMatch(/3 of 3 managers ready/);
    const nodes = (
      await sh("manager-1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort")
    ).split("\n");
    expect(nodes.map((l) => l.replace(/ (Leader|Reachable)$/, " manager"))).toEqual([
      "manager-1 Ready manager",
      "manager-2 Ready manager",
      "manager-3 Ready manager",
      "worker-1 Ready",
    ]);
    expect(await containers()).toBe(running);
  });

  it("rotates the join tokens and the CA; every node renews onto the new root; asking for nothing is refused", async () => {
    const none = await hcloudSwarm(["rotate", "--inventory", bed().inventoryPath]);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/say what to rotate: --join-tokens, --ca/);
    const tokens = () => sh("manager-1", "docker swarm join-token -q worker && docker swarm join-token -q manager");
    const root = () => sh("manager-1", "docker info --format '{{.Swarm.Cluster.TLSInfo.TrustRoot}}'");
    const [tokensBefore, rootBefore] = [await tokens(), await root()];
    const run = await hcloudSwarm(["rotate", "--inventory", bed().inventoryPath, "--join-tokens", "--ca"]);
    if (run.code !== 0) throw new Error(run.out);
    const tokensAfter = await tokens();
    const [w0, m0] = tokensBefore.split("\n");
    const [w1, m1] = tokensAfter.split("\n");
    expect(w1).not.toBe(w0);
    expect(m1).not.toBe(m0);
    // No token reached the output.
    for (const t of [w0, m0, w1, m1]) expect(run.out).not.toContain(t);
    const rootAfter = await root();
    expect(rootAfter).not.toBe(rootBefore);
    expect(run.out).toMatch(/all 4 nodes renewed their certificates onto the new root/);
    const roots = (
      await sh(
        "manager-2",
        "docker node inspect $(docker node ls -q) --format '{{json .Description.TLSInfo.TrustRoot}}'",
      )
    ).split("\n");
    expect(roots.map((r) => (JSON.parse(r) as string).trim())).toEqual([rootAfter, rootAfter, rootAfter, rootAfter]);
  });

  it("a changed secret value reaches the service through stack deploy, the old version goes, a repeat changes nothing", async () => {
    const envFile = path.join(work(), "notes.env");
    const text = fs.readFileSync(envFile, "utf8");
    const line = text.split("\n").find((l) => l.startsWith("notes_token=")) as string;
    const mounted = () =>
      sh(
        "manager-1",
        "docker service inspect notes_writer --format '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{.File.Name}}{{end}}'",
      );
    const [oldName, target] = (await mounted()).split(" ");
    expect(oldName).toMatch(/^notes_token_v[0-9a-f]{8}$/);
    expect(target).toBe("token");
    // The user changes the value where it is written down, and deploys again.
    fs.writeFileSync(envFile, text.replace(line, "notes_token=rotated-value-1"));
    const run = await deployNotes();
    if (run.code !== 0) throw new Error(run.out);
    expect(run.out).not.toContain("rotated-value-1");
    const [newName, newTarget] = (await mounted()).split(" ");
    expect(newName).toMatch(/^notes_token_v[0-9a-f]{8}$/);
    expect(newName).not.toBe(oldName);
    expect(newTarget).toBe("token");
    expect(run.out).toMatch(new RegExp(`removed secret ${oldName}, an older version no service uses`));
    // The running task reads the new value at the same path, inside its container on worker-1.
    expect(
      await sh(
        "worker-1",
        `for i in $(seq 1 120); do c=$(${WRITER}); [ -n "$c" ] && [ "$(docker exec $c cat /run/secrets/token)" = rotated-value-1 ] && echo ok && exit 0; sleep 0.5; done; exit 1`,
      ),
    ).toBe("ok");
    const secrets = await sh("manager-1", "docker secret ls --format '{{.Name}}' | sort");
    expect(secrets).not.toContain(oldName);
    expect(secrets).toContain(newName);
    // A repeat changes nothing: no new secret, the service's spec version unchanged.
    const version = () => sh("manager-1", "docker service inspect notes_writer --format '{{.Version.Index}}'");
    const v0 = await version();
    const again = await deployNotes();
    if (again.code !== 0) throw new Error(again.out);
    expect(again.out).toMatch(/nothing to do, the cluster already runs this rendering/);
    expect(await version()).toBe(v0);
    expect(await sh("manager-1", "docker secret ls --format '{{.Name}}' | sort")).toBe(secrets);

    // Day two: a service still on an unversioned secret, as releases before versioning left it, whose
    // value is written down. The next deploy moves it to the versioned name with the same value.
    await sh(
      "manager-1",
      `printf legacy-value | docker secret create --label hcloud-swarm.stack=notes notes_token - >/dev/null && docker service update -d --secret-rm ${newName} --secret-add source=notes_token,target=token notes_writer >/dev/null`,
    );
    fs.writeFileSync(envFile, text.replace(line, "notes_token=legacy-value"));
    const moved = await deployNotes();
    if (moved.code !== 0) throw new Error(moved.out);
    const [movedName, movedTarget] = (await mounted()).split(" ");
    expect(movedName).toMatch(/^notes_token_v[0-9a-f]{8}$/);
    expect(movedTarget).toBe("token");
    expect(moved.out).toMatch(/removed secret notes_token, an older version no service uses/);
    expect(
      await sh(
        "worker-1",
        `for i in $(seq 1 120); do c=$(${WRITER}); [ -n "$c" ] && [ "$(docker exec $c cat /run/secrets/token)" = legacy-value ] && echo ok && exit 0; sleep 0.5; done; exit 1`,
      ),
    ).toBe("ok");
    expect(await sh("manager-1", "docker secret ls --format '{{.Name}}' | grep '^notes_' | sort")).toBe(movedName);
  });
});
