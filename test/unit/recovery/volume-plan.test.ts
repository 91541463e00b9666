/**
 * Which pinned volumes a backup takes and how: from the pins on the nodes and the services'
 * mounts. Hostile inputs: a pin label set without its bookkeeping, an image that only looks like
 * MySQL, MySQL's image with its data elsewhere, a global writer.
 */
import { execFileSync } from "child_process";
import { dumpCommand, importCommand } from "../../../recovery/volume-ops";
import { isDatabase, pinnedStacks, planVolumeJobs, type ServiceMounts } from "../../../recovery/volume-plan";
import type { NodeFacts } from "../../../swarm/nodes";

const node = (hostname: string, labels: Record<string, string>): NodeFacts => ({
  id: `id-${hostname}`,
  hostname,
  addr: "10.0.0.1",
  role: "worker",
  availability: "active",
  status: "ready",
  leader: false,
  os: "linux",
  arch: "x86_64",
  labels,
  engineLabels: {},
});
const svc = (name: string, image: string, volumes: Record<string, string>, replicas?: number): ServiceMounts => ({
  name,
  stack: name.split("_")[0],
  image,
  volumes,
  ...(replicas === undefined ? {} : { replicas }),
});

describe("pinned volumes in a backup", () => {
  it("finds the stacks whose pins a node holds, and only where the pin label is true", () => {
    const members = [
      node("worker-1", { "wordpress-data": "true", "hcloud-swarm.pin.wordpress-data": "wordpress,blog2" }),
      // Bookkeeping left behind after the label was removed: the data is not pinned there any more.
      node("worker-2", { "hcloud-swarm.pin.old": "gone" }),
      node("worker-3", { old: "TRUE", "hcloud-swarm.pin.old": "gone" }),
    ];
    expect(pinnedStacks(members)).toEqual([
      { node: "worker-1", pin: "wordpress-data", stack: "wordpress" },
      { node: "worker-1", pin: "wordpress-data", stack: "blog2" },
      { node: "worker-3", pin: "old", stack: "gone" },
    ]);
  });

  it("dumps the sample MySQL, tars WordPress's files with its writer scaled to 0", () => {
    const services = [
      svc("wordpress_db", "mysql:8.4@sha256:abc", { wordpress_db_data: "/var/lib/mysql" }, 1),
      svc("wordpress_wordpress", "wordpress:7-php8.3-apache", { wordpress_wp_data: "/var/www/html" }, 1),
      svc("other_app", "nginx", { wordpress_wp_data: "/data" }, 3),
    ];
    const { jobs, problems } = planVolumeJobs(
      [
        {
          node: "worker-1",
          pin: "wordpress-data",
          stack: "wordpress",
          volumes: ["wordpress_wp_data", "wordpress_db_data"],
        },
      ],
      services,
    );
    expect(problems).toEqual([]);
    expect(jobs).toEqual([
      {
        kind: "mysqldump",
        stack: "wordpress",
        volume: "wordpress_db_data",
        node: "worker-1",
        pin: "wordpress-data",
        service: "wordpress_db",
      },
      {
        kind: "tar",
        stack: "wordpress",
        volume: "wordpress_wp_data",
        node: "worker-1",
        pin: "wordpress-data",
        // Another stack's service of the same volume name is not this stack's writer.
        writers: [{ service: "wordpress_wordpress", replicas: 1 }],
      },
    ]);
  });

  it("does not take an image that only looks like MySQL, or MySQL with its data elsewhere, for a database", () => {
    expect(isDatabase(svc("a_db", "registry.example.com/team/mysql:8.4", { v: "/var/lib/mysql" }), "v")).toBe(true);
    expect(isDatabase(svc("a_db", "mariadb:11.8", { v: "/var/lib/mysql" }), "v")).toBe(true);
    expect(isDatabase(svc("a_db", "notmysql:8", { v: "/var/lib/mysql" }), "v")).toBe(false);
    expect(isDatabase(svc("a_db", "mysql-exporter:1", { v: "/var/lib/mysql" }), "v")).toBe(false);
    expect(isDatabase(svc("a_db", "mysql:8.4", { v: "/backups" }), "v")).toBe(false);
  });

  it("refuses a volume a global service writes, naming the service and the fix", () => {
    const { jobs, problems } = planVolumeJobs(
      [{ node: "worker-1", pin: "p", stack: "logs", volumes: ["logs_data"] }],
      [svc("logs_agent", "fluent-bit", { logs_data: "/data" })],
    );
    expect(jobs).toEqual([]);
    expect(problems).toEqual([
      "volume logs_data of stack logs on worker-1 is written by the global service(s) logs_agent, which cannot be stopped on one node for a consistent copy; make them replicated (deploy.mode: replicated) to have the volume backed up",
    ]);
  });
});

describe("the database commands", () => {
  it("parse as shell, both the host's command and the script run inside the container", () => {
    for (const cmd of [dumpCommand("wordpress_db"), importCommand("wordpress_db")]) {
      execFileSync("sh", ["-n", "-c", cmd]);
      const inner = /sh -c '([\s\S]*)'$/.exec(cmd)?.[1].replace(/'\\''/g, "'") as string;
      expect(inner).toMatch(/pwfile="\$\{MYSQL_ROOT_PASSWORD_FILE:-\$\{MARIADB_ROOT_PASSWORD_FILE:-\}\}"/);
      execFileSync("sh", ["-n", "-c", inner]);
      // The password goes into the option file by printf, a shell builtin: never an argument of a program.
      expect(inner).toMatch(/printf '\[client\]\\nuser=root\\npassword="%s"\\n' "\$pw" > "\$cnf"/);
      expect(inner).not.toMatch(/--password|-p"?\$/);
      expect(inner).not.toMatch(/^exec /m);
    }
  });
});
