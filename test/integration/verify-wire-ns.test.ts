/**
 * `verify --wire` on the namespace bed, whose kernel has no ESP and no IPVS: the capture itself is
 * proven to work (the plain control overlay shows VXLAN and the marker in clear), the encrypted
 * overlay sends nothing at all (it fails closed) and ingress has no mesh, so both are UNPROVABLE:
 * never a pass, never a false alarm. The probe's network, containers and service are gone afterwards.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Inventory } from "../../inventory/inventory";
import { bootstrap } from "../../bootstrap/run";
import { connectManager } from "../../stacks/cluster";
import { deployStack } from "../../stacks/deploy";
import { loadStackFile } from "../../stacks/template";
import { verifyCluster } from "../../verify/run";
import { WIRE_CONTROL_NETWORK, WIRE_INGRESS_SERVICE, WIRE_PROBE_CONTAINER } from "../../verify/wire";
import { LOCAL_IMAGE, useTestbed } from "../support/testbed";

jest.setTimeout(600_000);

const bed = useTestbed({ name: "verify-wire-ns", nodes: 2, managers: 1 });
const labels: Record<string, Record<string, string>> = { "manager-1": { "traefik-certs": "true" }, "worker-1": { "wordpress-data": "true" } };
let inv: Inventory;

beforeAll(async () => {
  inv = { ...bed().inventory, nodes: bed().inventory.nodes.map((n) => ({ ...n, labels: labels[n.name] ?? {} })) };
  const key = fs.readFileSync(bed().privateKeyPath, "utf8");
  await bootstrap(inv, { privateKeyFor: () => key });
  const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-wire-ns-"));
  const s = await connectManager(inv);
  try {
    for (const [name, vars] of [["traefik", { acme_email: "ops@example.test", dashboard_domain: "t.example.test" }], ["wordpress", { domain: "b.example.test" }]] as const) {
      await deployStack(s, { source: loadStackFile(name), vars, inventory: inv, localImage: LOCAL_IMAGE, secretsFile: path.join(secrets, `${name}.env`), convergeTimeoutMs: 180_000 });
    }
  } finally {
    s.close();
  }
});

describe("verify --wire on a kernel without ESP or IPVS", () => {
  it("proves the capture with the plain control, and calls the encrypted overlay and ingress unprovable, never passed", async () => {
    const lines: string[] = [];
    const v = await verifyCluster(inv, undefined, { probeImage: LOCAL_IMAGE, log: (l) => lines.push(l) });
    const wire = new Map(v.checks.filter((c) => c.what === "on the wire" || c.what === "capture sees plain traffic").map((c) => [c.subject, c]));
    expect(wire.get(`network ${WIRE_CONTROL_NETWORK} (plain control)`)).toMatchObject({ status: "pass", detail: expect.stringMatching(/ESP 0, VXLAN [1-9]\d*, marker in clear [1-9]/) });
    expect(wire.get("network traefik_public")).toMatchObject({ status: "unprovable", detail: expect.stringMatching(/ESP 0, VXLAN 0, marker in clear 0 .*nothing crossed/) });
    expect(wire.get("network ingress (ingress, routing mesh)")).toMatchObject({ status: "unprovable", detail: expect.stringMatching(/no IPVS/) });
    expect(v.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(v.exitCode).toBe(2);
    // wordpress_internal has both tasks on worker-1: nothing of it crosses, and the log says so.
    expect(lines.join("\n")).toMatch(/wordpress_internal: tasks on fewer than two nodes/);
  });

  it("leaves no probe network, container or service behind", async () => {
    const s = await connectManager(inv);
    try {
      const left = await s.run(`docker network ls --format '{{.Name}}'; docker service ls --format '{{.Name}}'; docker ps -a --format '{{.Names}}'`);
      expect(left.stdout).not.toContain(WIRE_CONTROL_NETWORK);
      expect(left.stdout).not.toContain(WIRE_INGRESS_SERVICE);
      expect(left.stdout).not.toContain(WIRE_PROBE_CONTAINER);
    } finally {
      s.close();
    }
    const w = await bed().exec("worker-1", `docker ps -a --format '{{.Names}}'`);
    expect(w.stdout).not.toContain(WIRE_PROBE_CONTAINER);
  });
});
