/**
 * Lint round 3's corpus (issue 22): files built to make lint misjudge what a service really gets —
 * the host network through `default`, a back-end port behind a remap, a credential by value or in
 * an env_file, host data through a local-driver volume, a symlink out of the stack's directory —
 * and legitimate files an earlier lint refused. Every verdict is Docker's: the unit suite judges
 * each case with `docker stack config` and with the Docker-dialect reader.
 */
import type { LintContext } from "../../stacks/lint/lint";

export interface CorpusCase {
  readonly name: string;
  /** The class, as in the figures table (docs/lab/2026-12-07-i22.md). */
  readonly cls: string;
  readonly text: string;
  /** Rules that must refuse it with both judges; [] for a legitimate file, which must pass. */
  readonly rules: readonly string[];
  /** Files next to the stack file: text, or `{link}` for a symbolic link to that path. */
  readonly files?: Readonly<Record<string, string | { readonly link: string }>>;
  readonly ctx?: LintContext;
}

const ENC = 'driver_opts: {encrypted: ""}';
const back = `networks:\n  back:\n    ${ENC}\n`;
/** A service on an encrypted overlay with `body` (indented 4) added. */
const svc = (body: string, tail = ""): string =>
  `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\n${body}${back}${tail}`;
const port = (p: string): string => svc(`    ports:\n      - ${p}\n`);
const env = (k: string, v: string): string => svc(`    environment:\n      ${k}: ${JSON.stringify(v)}\n`);
/** A published port with an x-hcloud-swarm allow: block in front (the documented way to serve a back-end port). */
const allowPort = (allow: string, p: string): string => `x-hcloud-swarm:\n  allow:\n${allow}${port(p)}`;
const vol = (opts: string): string =>
  svc(`    volumes: ["data:/data"]\n`, `volumes:\n  data:\n    driver: local\n    driver_opts: ${opts}\n`);

export const ROUND3_CASES: readonly CorpusCase[] = [
  // The host network through `default`.
  {
    name: "default-external-host",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\nnetworks:\n  default:\n    external: true\n    name: host\n`,
    rules: ["host-access"],
  },
  {
    name: "default-external-name-host",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\nnetworks:\n  default:\n    external: {name: host}\n`,
    rules: ["host-access"],
  },
  {
    name: "empty-list-host",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: []\nnetworks:\n  default:\n    external: true\n    name: host\n`,
    rules: ["host-access"],
  },
  {
    name: "empty-map-host",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: {}\nnetworks:\n  default:\n    external: true\n    name: host\n`,
    rules: ["host-access"],
  },
  {
    name: "merged-default-host",
    cls: "default network",
    text: `version: "3.8"\nx-net: &hostnet\n  default: {external: true, name: host}\nservices:\n  app:\n    image: busybox\nnetworks:\n  <<: *hostnet\n`,
    rules: ["host-access"],
  },
  {
    name: "empty-list-plain-default",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: []\n`,
    rules: ["unencrypted-overlay"],
  },
  // Ports by what they expose.
  {
    name: "remap-postgres-host",
    cls: "ports",
    text: port("{target: 5432, published: 15432, protocol: tcp, mode: host}"),
    rules: ["public-port"],
  },
  {
    name: "remap-postgres-ingress",
    cls: "ports",
    text: port('"15432:5432"'),
    rules: ["public-port"],
    ctx: { ingressEncrypted: true },
  },
  {
    name: "sqlserver",
    cls: "ports",
    text: port("{target: 1433, published: 1433, protocol: tcp, mode: host}"),
    rules: ["public-port"],
  },
  {
    name: "oracle-remap",
    cls: "ports",
    text: port("{target: 1521, published: 8521, mode: host}"),
    rules: ["public-port"],
  },
  {
    name: "mysqlx-remap",
    cls: "ports",
    text: port("{target: 33060, published: 8080, mode: host}"),
    rules: ["public-port"],
  },
  { name: "etcd", cls: "ports", text: port("{target: 2379, published: 2379, mode: host}"), rules: ["public-port"] },
  {
    name: "docker-api-remap",
    cls: "ports",
    text: port("{target: 2375, published: 8443, mode: host}"),
    rules: ["public-port"],
  },
  {
    name: "memcached-udp",
    cls: "ports",
    text: port("{target: 11211, published: 31211, protocol: udp, mode: host}"),
    rules: ["public-port"],
  },
  { name: "kubelet-random", cls: "ports", text: port("{target: 10250, mode: host}"), rules: ["public-port"] },
  {
    name: "clickhouse-range",
    cls: "ports",
    text: port('"18120-18125:8120-8125"'),
    rules: ["public-port"],
    ctx: { ingressEncrypted: true },
  },
  {
    name: "neo4j-bolt",
    cls: "ports",
    text: port("{target: 7687, published: 443, mode: host}"),
    rules: ["public-port"],
  },
  {
    name: "port-allowed-other-port",
    cls: "ports",
    text: allowPort(
      "    - {service: app, port: 9000, reason: MinIO S3 API}\n",
      "{target: 5432, published: 9000, mode: host}",
    ),
    rules: ["public-port"],
  },
  {
    name: "port-allowed-other-service",
    cls: "ports",
    text: allowPort(
      "    - {service: web, port: 9000, reason: MinIO S3 API}\n",
      "{target: 9000, published: 9000, mode: host}",
    ),
    rules: ["public-port", "template"],
  },
  {
    name: "port-allowed-swarm",
    cls: "ports",
    text: allowPort("    - {service: app, port: 2377, reason: none}\n", "{target: 2377, published: 2377, mode: host}"),
    rules: ["public-port", "template"],
  },
  // Credentials by value.
  { name: "db-pass", cls: "credentials", text: env("DB_PASS", "hunter2"), rules: ["plain-secret"] },
  { name: "smtp-pw", cls: "credentials", text: env("SMTP_PW", "hunter2"), rules: ["plain-secret"] },
  {
    name: "key-passphrase",
    cls: "credentials",
    text: env("SSH_KEY_PASSPHRASE", "correct horse"),
    rules: ["plain-secret"],
  },
  {
    name: "stripe-key",
    cls: "credentials",
    text: env("STRIPE_KEY", "rk_live_51Habcdefghijklmnop"),
    rules: ["plain-secret"],
  },
  {
    name: "redis-empty-user",
    cls: "credentials",
    text: env("CACHE_URL", "redis://:s3cretpw@cache:6379/0"),
    rules: ["plain-secret"],
  },
  {
    name: "jdbc-password",
    cls: "credentials",
    text: env("SPRING_DATASOURCE_URL", "jdbc:mysql://db:3306/app?user=app&password=s3cret"),
    rules: ["plain-secret"],
  },
  {
    name: "ado-password",
    cls: "credentials",
    text: env("CONNECTIONSTRINGS__DEFAULT", "Server=db;Database=app;User Id=sa;Password=S3cret!;"),
    rules: ["plain-secret"],
  },
  {
    name: "java-opts",
    cls: "credentials",
    text: env("JAVA_OPTS", "-Xmx512m -Dspring.datasource.password=s3cret"),
    rules: ["plain-secret"],
  },
  {
    name: "pem-key",
    cls: "credentials",
    text: env(
      "TLS_BUNDLE",
      "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ\n-----END PRIVATE KEY-----\n",
    ),
    rules: ["plain-secret"],
  },
  {
    name: "github-token-neutral-name",
    cls: "credentials",
    text: env("UPSTREAM", "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"),
    rules: ["plain-secret"],
  },
  {
    name: "env-file-line",
    cls: "credentials",
    text: svc("    env_file: app.env\n"),
    files: { "app.env": "LOG_LEVEL=info\nDB_PASS=hunter2\n" },
    rules: ["plain-secret"],
  },
  {
    name: "env-file-url",
    cls: "credentials",
    text: svc("    env_file: [app.env]\n"),
    files: { "app.env": "# cache\nCACHE=redis://:pw@cache:6379\n" },
    rules: ["plain-secret"],
  },
  // Host access through volume drivers.
  {
    name: "overlay-lowerdir-root",
    cls: "volume drivers",
    text: vol('{type: overlay, device: overlay, o: "lowerdir=/,upperdir=/tmp/u,workdir=/tmp/w"}'),
    rules: ["host-access"],
  },
  { name: "proc", cls: "volume drivers", text: vol("{type: proc, device: proc}"), rules: ["host-access"] },
  { name: "block-device", cls: "volume drivers", text: vol("{type: ext4, device: /dev/sda1}"), rules: ["host-access"] },
  { name: "sysfs", cls: "volume drivers", text: vol("{type: sysfs, device: sysfs}"), rules: ["host-access"] },
  { name: "devtmpfs", cls: "volume drivers", text: vol("{type: devtmpfs, device: devtmpfs}"), rules: ["host-access"] },
  {
    name: "loop-image",
    cls: "volume drivers",
    text: vol("{type: ext4, device: /var/lib/docker/disk.img, o: loop}"),
    rules: ["host-access"],
  },
  {
    name: "default-driver-proc",
    cls: "volume drivers",
    text: svc(`    volumes: ["data:/data"]\n`, `volumes:\n  data:\n    driver_opts: {type: proc, device: proc}\n`),
    rules: ["host-access"],
  },
  // Networks Docker creates, and the fallback reader's parity.
  {
    name: "used-plain-default",
    cls: "networks created",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\nnetworks:\n  default: {}\n`,
    rules: ["unencrypted-overlay"],
  },
  {
    name: "driver-empty-plain",
    cls: "fallback parity",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    driver: ""\n`,
    rules: ["unencrypted-overlay"],
  },
  // Symbolic links out of the stack's directory.
  {
    name: "secret-symlink",
    cls: "symlinks",
    text: svc("    secrets: [s]\n", "secrets:\n  s:\n    file: ./s.txt\n"),
    files: { "s.txt": { link: "/etc/hostname" } },
    rules: ["file-outside"],
  },
  {
    name: "config-dir-symlink",
    cls: "symlinks",
    text: svc("    configs: [c]\n", "configs:\n  c:\n    file: ./conf/hostname\n"),
    files: { conf: { link: "/etc" } },
    rules: ["file-outside"],
  },
  {
    name: "env-file-symlink",
    cls: "symlinks",
    text: svc("    env_file: app.env\n"),
    files: { "app.env": { link: "/etc/hostname" } },
    rules: ["file-outside"],
  },
];

/** Legitimate files: each must pass with both judges. */
export const ROUND3_LEGITIMATE: readonly CorpusCase[] = [
  {
    name: "random-root-password",
    cls: "credentials",
    text: svc(`    environment:\n      MYSQL_RANDOM_ROOT_PASSWORD: "yes"\n      MYSQL_ALLOW_EMPTY_PASSWORD: "no"\n`),
    rules: [],
  },
  {
    name: "secrets-dir",
    cls: "credentials",
    text: svc(`    environment:\n      - SECRETS_DIR=/run/secrets\n      - DB_PASSWORD_FILE=/run/secrets/db\n`),
    rules: [],
  },
  {
    name: "token-ttl",
    cls: "credentials",
    text: svc(
      `    environment:\n      TOKEN_TTL_SECONDS: 3600\n      PASSWORD_MIN_LENGTH: "12"\n      SESSION_SECRET_NAME: blog_session\n`,
    ),
    rules: [],
  },
  {
    name: "env-file-harmless",
    cls: "fallback parity",
    text: svc("    env_file: app.env\n"),
    files: { "app.env": "LOG_LEVEL=info\nTZ=Europe/Berlin\n" },
    rules: [],
  },
  {
    name: "unused-plain-network",
    cls: "networks created",
    text: `${svc("")}  spare:\n    driver: overlay\n`,
    rules: [],
  },
  { name: "unused-external", cls: "networks created", text: `${svc("")}  legacy:\n    external: true\n`, rules: [] },
  { name: "unused-plain-default", cls: "networks created", text: `${svc("")}  default: {}\n`, rules: [] },
  {
    name: "driver-empty-encrypted",
    cls: "fallback parity",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    driver: ""\n    ${ENC}\n`,
    rules: [],
  },
  {
    name: "empty-list-encrypted-default",
    cls: "default network",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: []\nnetworks:\n  default:\n    ${ENC}\n`,
    rules: [],
  },
  { name: "tmpfs-volume", cls: "volume drivers", text: vol("{type: tmpfs, device: tmpfs, o: size=100m}"), rules: [] },
  {
    name: "nfs-volume",
    cls: "volume drivers",
    text: vol('{type: nfs, o: "addr=10.0.0.5,nfsvers=4", device: ":/export/app"}'),
    rules: [],
  },
  {
    name: "web-port-remap",
    cls: "ports",
    text: port("{target: 8080, published: 443, protocol: tcp, mode: host}"),
    rules: [],
  },
  {
    name: "minio-port-allowed",
    cls: "ports",
    text: allowPort(
      "    - service: app\n      port: 9000\n      reason: MinIO's S3 API, which clients reach over TLS\n",
      "{target: 9000, published: 9000, protocol: tcp, mode: host}",
    ),
    rules: [],
  },
  { name: "dns-udp", cls: "ports", text: port("{target: 53, published: 53, protocol: udp, mode: host}"), rules: [] },
  {
    name: "secret-symlink-inside",
    cls: "symlinks",
    text: svc("    secrets: [s]\n", "secrets:\n  s:\n    file: ./s.txt\n"),
    files: { "real.txt": "x\n", "s.txt": { link: "real.txt" } },
    rules: [],
  },
];
