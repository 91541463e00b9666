// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The public-port rule: what a published port really exposes. A port is judged by both sides: the
 * published (node) side, where Docker's own ports would be taken over, and the target (container)
 * side, which is the service a client reaches — `15432:5432` in host mode is PostgreSQL on the
 * node's public address whatever the number in front. Each listed port carries its protocols, so
 * `53/udp` of a DNS server is not mistaken for something else on tcp.
 */
import type { LintContext } from "./lint";
import type { At } from "./lint-at";
import type { PublishedPort } from "../reading/ports";
import type { ServiceModel } from "../reading/structure";

type Proto = PublishedPort["protocol"];
/**
 * [port, what, protocols, who else listens there by default]. Plain arrays: the Pulumi provider
 * serializes module constants by value.
 */
export type PortEntry = readonly [number, string, readonly Proto[], string?];

const TCP: readonly Proto[] = ["tcp"];
const BOTH: readonly Proto[] = ["tcp", "udp"];

/** Ports of Docker and of cluster control planes: no application publishes them. Judged on both sides. */
export const SWARM_PORTS: readonly PortEntry[] = [
  [2375, "Docker API (plain)", TCP],
  [2376, "Docker API (TLS)", TCP],
  [2377, "swarm management", TCP],
  [7946, "swarm gossip", BOTH],
  [4789, "VXLAN data path", ["udp"]],
  [2379, "etcd client API", TCP],
  [2380, "etcd peer API", TCP],
  [6443, "Kubernetes API server", TCP],
  [10250, "kubelet API", TCP],
  [10255, "kubelet read-only API", TCP],
];

/** Back ends that never need to face the world: they talk to apps over an encrypted overlay. */
export const BACKEND_PORTS: readonly PortEntry[] = [
  [1433, "SQL Server", TCP],
  [1521, "Oracle Database", TCP],
  [3306, "MySQL/MariaDB", TCP],
  [33060, "MySQL X protocol", TCP],
  [5432, "PostgreSQL", TCP],
  [26257, "CockroachDB", TCP],
  [6379, "Redis", TCP],
  [11211, "Memcached", BOTH],
  [27017, "MongoDB", TCP],
  [27018, "MongoDB shard", TCP],
  [27019, "MongoDB config server", TCP],
  [9200, "Elasticsearch HTTP", TCP],
  [9300, "Elasticsearch transport", TCP],
  [5984, "CouchDB", TCP],
  [9042, "Cassandra CQL", TCP],
  [7000, "Cassandra inter-node", TCP],
  [7001, "Cassandra inter-node (TLS)", TCP],
  [8086, "InfluxDB", TCP],
  [7474, "Neo4j HTTP", TCP],
  [7687, "Neo4j Bolt", TCP],
  [8123, "ClickHouse HTTP", TCP],
  [
    9000,
    "ClickHouse native",
    TCP,
    "9000 is also MinIO's S3 API, which may face the world behind TLS, and PHP-FPM's FastCGI, which must never: it runs any PHP file it is asked to",
  ],
  [2181, "ZooKeeper", TCP],
  [9092, "Kafka", TCP],
  [5672, "RabbitMQ AMQP", TCP],
  [4369, "Erlang port mapper (RabbitMQ, CouchDB)", TCP],
  [8500, "Consul HTTP API", TCP],
];

const inRange = (port: number, r: readonly [number, number] | undefined): boolean =>
  r !== undefined && port >= r[0] && port <= r[1];
const side = (p: PublishedPort): string =>
  p.published
    ? p.published[0] === p.published[1]
      ? `${p.published[0]}`
      : `${p.published[0]}-${p.published[1]}`
    : "a random port";
const tgt = (p: PublishedPort): string =>
  p.target[0] === p.target[1] ? `${p.target[0]}` : `${p.target[0]}-${p.target[1]}`;

/**
 * One finding per listed port a published port exposes, and the ingress rule. `allowed(port)`:
 * the service declares (x-hcloud-swarm allow: port:) that it really serves that back-end port to
 * the world; Docker's and control planes' ports cannot be declared (exceptions.ts).
 */
export function portRules(
  svc: ServiceModel,
  ctx: LintContext,
  at: At,
  allowed: (port: number) => boolean = () => false,
): void {
  for (const p of svc.ports) {
    const where =
      p.mode === "host"
        ? "on the public address of every node that runs a task"
        : "on every node's public address, through the routing mesh";
    const line = `${side(p)}:${tgt(p)}/${p.protocol}, mode ${p.mode}`;
    for (const [port, what, protos] of SWARM_PORTS) {
      if (!protos.includes(p.protocol)) continue;
      if (inRange(port, p.published))
        at(
          p.path,
          "public-port",
          `ports (${line}) takes port ${port} (${what}, ${p.protocol}) ${where}: no service needs it, and publishing it exposes or hijacks the cluster's own plane; remove it from ports:`,
          { service: svc.name },
        );
      else if (inRange(port, p.target))
        at(
          p.path,
          "public-port",
          `ports (${line}) exposes the container's port ${port} (${what}, ${p.protocol}) ${where}: whoever reaches it controls what answers there; remove it from ports:`,
          { service: svc.name },
        );
    }
    for (const [port, what, protos, also] of BACKEND_PORTS) {
      if (!protos.includes(p.protocol)) continue;
      if ((inRange(port, p.target) || inRange(port, p.published)) && !allowed(port)) {
        const how = inRange(port, p.target)
          ? `the container's port ${port} (${what}, ${p.protocol})${inRange(port, p.published) ? "" : ` behind node port ${side(p)}`}`
          : `port ${port} (${p.protocol}), where clients expect ${what},`;
        const other = also ? ` (${also})` : "";
        at(
          p.path,
          "public-port",
          `ports (${line}) publishes ${how} ${where}: back ends belong on an encrypted overlay, reached by service name; remove it from ports: (for admin access, use docker exec or an SSH tunnel)${other}. If what listens there is not ${what} and must face the world, declare it under x-hcloud-swarm allow: (service: ${svc.name}, port: ${port}, reason)`,
          { service: svc.name },
        );
      }
    }
    if (p.mode === "ingress" && !ctx.ingressEncrypted) {
      at(
        p.path,
        "public-port",
        `publishes ${p.published ? `port ${side(p)}` : "a random port"} in ingress mode: the routing mesh forwards clients between nodes over the unencrypted "ingress" overlay; publish with mode: host (long syntax), or encrypt the cluster's ingress network`,
        { service: svc.name, network: "ingress" },
      );
    }
  }
}
