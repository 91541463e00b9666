/**
 * `verify --wire` on the namespace bed, whose kernel has no ESP and no IPVS: the capture itself is
 * proven to work (the plain control overlay shows VXLAN and the marker in clear), the encrypted
 * overlays send nothing at all (they fail closed) and ingress has no mesh, so they are UNPROVABLE:
 * never a pass, never a false alarm. An overlay whose tasks share one node gets a probe task on the
 * other. The probe's network and services are gone afterwards.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Inventory } from "../../inventory/inventory";
import { bootstrap } from "../../bootstrap/bootstrap";
import { connectManager } from "../../swarm/manager-session";
import { deployStack } from "../../stacks/deploy/deploy";
import { loadStackFile } from "../../stacks/template/template";
import { verifyCluster } from "../../verify/collect";
import { WIRE_CONTROL_NETWORK, WIRE_SERVICE_PREFIX } from "../../verify/wire";
import { waitFor } from "../../common/time";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

jest.setTimeout(600_000);

const bed = useBedFixture({ name: "verify-wire-ns", nodes: 2, managers: 1 });
const labels: Record<string, Record<string, string>> = {
  "manager-1": { "traefik-certs": "true" },
  "worker-1": { "wordpress-data": "true" },
};
let inv: Inventory;

beforeAll(async () => {
  inv = { ...bed().inventory, nodes: bed().inventory.nodes.map((n) => ({ ...n, labels: labels[n.name] ?? {} })) };
  const key = fs.readFileSync(bed().privateKeyPath, "utf8");
  await bootstrap(inv, { privateKeyFor: () => key });
  const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-wire-ns-"));
  const s = await connectManager(inv);
  try {
    for (const [name, vars] of [
      ["traefik", { acme_email: "ops@example.test", dashboard_domain: "t.example.test" }],
      ["wordpress", { domain: "b.example.test" }],
    ] as const) {
      await deployStack(s, {
        source: loadStackFile(name),
        vars,
        inventory: inv,
        localImage: LOCAL_IMAGE,
        secretsFile: path.join(secrets, `${name}.env`),
        convergeTimeoutMs: 180_000,
      });
    }
  } finally {
    s.close();
  }
});

describe("verify --wire on a kernel without ESP or IPVS", () => {
  it("proves the capture with the plain control, and calls the encrypted overlay and ingress unprovable, never passed", async () => {
    const lines: string[] = [];
    const v = await verifyCluster(inv, undefined, { probeImage: LOCAL_IMAGE, log: (l) => lines.push(l) });
    const wire = new Map(
      v.checks
        .filter((c) => c.what === "on the wire" || c.what === "capture sees plain traffic")
        .map((c) => [c.subject, c]),
    );
    expect(wire.get(`network ${WIRE_CONTROL_NETWORK} (plain control)`)).toMatchObject({
      status: "pass",
      detail: expect.stringMatching(/ESP 0, VXLAN [1-9]\d*, marker in clear [1-9]/),
    });
    expect(wire.get("network traefik_public")).toMatchObject({
      status: "unprovable",
      detail: expect.stringMatching(/ESP 0, VXLAN 0, marker in clear 0 .*nothing crossed/),
    });
    expect(wire.get("network ingress (ingress, routing mesh)")).toMatchObject({
      status: "unprovable",
      detail: expect.stringMatching(/no IPVS/),
    });
    // wordpress_internal has both tasks on worker-1: a probe task on manager-1 makes it cross (or, here, fail closed).
    expect(lines.join("\n")).toMatch(/wordpress_internal: tasks only on worker-1; adding probe service/);
    expect(wire.get("network wordpress_internal")).toMatchObject({
      status: "unprovable",
      detail: expect.stringMatching(/hsw-wire-peer-\d+\.1.*ESP 0, VXLAN 0, marker in clear 0 .*nothing crossed/),
    });
    expect(v.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(v.exitCode).toBe(2);
  });

  it("leaves no probe network or service behind, and their containers are going", async () => {
    const s = await connectManager(inv);
    try {
      const left = await s.run(`docker network ls --format '{{.Name}}'; docker service ls --format '{{.Name}}'`);
      expect(left.stdout).not.toContain(WIRE_SERVICE_PREFIX);
    } finally {
      s.close();
    }
    // Removing a service stops its tasks' containers soon after, on every node.
    for (const n of ["manager-1", "worker-1"]) {
      const gone = await waitFor(
        async () => !(await bed().exec(n, `docker ps -a --format '{{.Names}}'`)).stdout.includes(WIRE_SERVICE_PREFIX),
        60_000,
        1_000,
      );
      expect(gone).toBe(true);
    }
  });
});
