/**
 * Stack files built to slip past a lint that reads YAML differently from Docker, or that trusts
 * what a file looks like. Each one looks encrypted and harmless to a YAML 1.2 reader; Docker's
 * loader reads something else. Unit tests judge them with `docker stack config` and the
 * Docker-dialect reader; the integration suite feeds them to `stack deploy` on the test bed.
 * `rules` are the lint rules that must refuse each one (at least these; others may join).
 */
export interface HostileStack {
  readonly name: string;
  /** The bypass class, for the report. */
  readonly bypass: string;
  readonly text: string;
  readonly rules: readonly string[];
  /**
   * Rules that refuse it in `stack deploy`, when they differ: the renderer reads the template
   * with the yaml package, so a file that hides structure from it renders into something else,
   * which Docker reads (or refuses) in turn. Default: `rules`.
   */
  readonly deployRules?: readonly string[];
  /** Rules with the Docker-dialect reader as the judge, when they differ from Docker's. Default: `rules`. */
  readonly dialectRules?: readonly string[];
}

const ENC = 'driver_opts: {encrypted: ""}';

/** A block scalar whose text hides, for a YAML 1.2 reader, a plain overlay and a service on it. */
function hiddenByBreak(br: string): string {
  return [
    'version: "3.8"',
    "services:",
    "  app:",
    "    image: busybox",
    "    networks: [backend]",
    "    labels:",
    `      note: |`,
    `        harmless${br}  evil:${br}    image: busybox${br}    networks: [plain]`,
    "networks:",
    "  backend:",
    `    ${ENC}`,
    "    labels:",
    "      note: |",
    `        harmless${br}  plain:${br}    driver: overlay`,
    "",
  ].join("\n");
}

export const HOSTILE_STACKS: readonly HostileStack[] = [
  {
    name: "line-separator",
    bypass: "U+2028 ends a line for Docker: a block scalar hides a plain overlay and a service on it",
    text: hiddenByBreak("\u2028"),
    rules: ["yaml-dialect", "unencrypted-overlay"],
    deployRules: ["yaml-dialect"],
  },
  {
    name: "next-line",
    bypass: "U+0085 (NEL) ends a line for Docker",
    text: hiddenByBreak("\u0085"),
    rules: ["yaml-dialect", "unencrypted-overlay"],
    deployRules: ["yaml-dialect"],
  },
  {
    name: "paragraph-separator",
    bypass: "U+2029 ends a line for Docker",
    text: hiddenByBreak("\u2029"),
    rules: ["yaml-dialect", "unencrypted-overlay"],
    deployRules: ["yaml-dialect"],
  },
  {
    name: "octal-port",
    bypass: "published: 06352 is octal 3306 for Docker",
    text: `version: "3.8"\nservices:\n  db:\n    image: mysql\n    networks: [back]\n    ports:\n      - {target: 3306, published: 06352, protocol: tcp, mode: host}\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["public-port"],
  },
  {
    name: "binary-underscore-port",
    bypass: "published: 0b1001_0100_1001 is 2377 for Docker (yaml.v3 drops underscores, reads 0b); text for YAML 1.2",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\n    ports:\n      - {target: 80, published: 0b1001_0100_1001, protocol: tcp, mode: host}\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["public-port"],
  },
  {
    name: "tagged-int-port",
    bypass: 'published: !!int "04511": the tag makes the quoted text an integer, octal 2377 (swarm management)',
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\n    ports:\n      - {target: 80, published: !!int "04511", protocol: tcp, mode: host}\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["public-port"],
  },
  {
    name: "interpolated-port",
    bypass: 'published: "${P:-3306}" is interpolated, then cast to the integer 3306',
    text: `version: "3.8"\nservices:\n  db:\n    image: mysql\n    networks: [back]\n    ports:\n      - {target: 3306, published: "\${P:-3306}", protocol: tcp, mode: host}\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["public-port"],
  },
  {
    name: "merge-plain-network",
    bypass: "<<: merges a plain overlay into networks: and the service onto it, while networks.default looks encrypted",
    text: `version: "3.8"\nx-net: &plainnet\n  plain: {driver: overlay}\nx-svc: &svc\n  networks: [plain]\nservices:\n  app:\n    <<: *svc\n    image: busybox\nnetworks:\n  <<: *plainnet\n  default:\n    ${ENC}\n`,
    rules: ["unencrypted-overlay"],
  },
  {
    name: "merge-swarm-port",
    bypass: "<<: merges a published 2377 into a service",
    text: `version: "3.8"\nx-ports: &ports\n  ports:\n    - {target: 2377, published: 2377, protocol: tcp, mode: host}\nservices:\n  app:\n    <<: *ports\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["public-port"],
  },
  {
    name: "merge-plain-password",
    bypass: "<<: merges a plaintext password into a service's environment",
    text: `version: "3.8"\nx-env: &env\n  environment:\n    DB_PASSWORD: hunter2\nservices:\n  app:\n    <<: *env\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["plain-secret"],
  },
  {
    name: "external-real-name",
    bypass: "external: {name: plainnet} under a key that x-hcloud-swarm guarantees: Docker attaches to plainnet",
    text: `version: "3.8"\nx-hcloud-swarm:\n  external-networks: [shared]\nservices:\n  app:\n    image: busybox\n    networks: [shared]\nnetworks:\n  shared:\n    external: {name: plainnet}\n`,
    rules: ["external-network"],
  },
  {
    name: "external-name-key",
    bypass: "external: true with name: plainnet under a guaranteed key",
    text: `version: "3.8"\nx-hcloud-swarm:\n  external-networks: [shared]\nservices:\n  app:\n    image: busybox\n    networks: [shared]\nnetworks:\n  shared:\n    external: true\n    name: plainnet\n`,
    rules: ["external-network"],
  },
  {
    name: "top-level-name",
    bypass: "a top-level name: that a YAML-only lint accepts; Docker's schema refuses it",
    text: `version: "3.8"\nname: other\nservices:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["docker-config"],
    dialectRules: ["compose-structure"],
  },
  {
    name: "host-network-by-name",
    bypass: "an external network whose real name is host: the service joins the node's network stack",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [hostnet]\nnetworks:\n  hostnet:\n    external: {name: host}\n`,
    rules: ["host-access"],
  },
  {
    name: "privileged",
    bypass: 'privileged: true (here via an interpolated "${X:-on}", which Docker casts to true)',
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    privileged: "\${X:-on}"\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["host-access"],
  },
  {
    name: "cap-add",
    bypass: "cap_add: [SYS_ADMIN]",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    cap_add: [SYS_ADMIN]\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["host-access"],
  },
  {
    name: "network-mode-host",
    bypass: "network_mode: host",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    network_mode: host\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["host-access"],
  },
  {
    name: "docker-socket",
    bypass: "the Docker socket bound read-only (still root on the node)",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"]\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["bind-mount"],
  },
  {
    name: "root-bind",
    bypass: "the host's / bound into the container",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    volumes:\n      - type: bind\n        source: /\n        target: /host\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\n`,
    rules: ["bind-mount"],
  },
  {
    name: "volume-device-bind",
    bypass: "a named volume whose local driver binds the host's /etc (driver_opts o: bind, device: /etc)",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    volumes: ["etc:/host-etc"]\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\nvolumes:\n  etc:\n    driver_opts: {type: none, o: bind, device: /etc}\n`,
    rules: ["bind-mount"],
  },
  {
    name: "secret-file-outside",
    bypass: "secrets: {x: {file: ../../etc/shadow}}: the deploying manager's /etc/shadow becomes a Docker secret",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    secrets: [x]\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\nsecrets:\n  x:\n    file: ../../../../../../etc/shadow\n`,
    rules: ["file-outside"],
  },
  {
    name: "config-file-absolute",
    bypass: "configs: {c: {file: /root/.ssh/id_ed25519}}",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    configs: [c]\n    networks: [back]\nnetworks:\n  back:\n    ${ENC}\nconfigs:\n  c:\n    file: /root/.ssh/id_ed25519\n`,
    rules: ["file-outside"],
  },
  {
    name: "alias-bomb",
    bypass: "a billion laughs: ten levels of ten aliases, to exhaust the reader",
    text: [
      'version: "3.8"',
      "x-a: &a [x, x, x, x, x, x, x, x, x, x]",
      ..."bcdefghij".split("").map((c, i) => `x-${c}: &${c} [${Array(10).fill(`*${"abcdefghij"[i]}`).join(", ")}]`),
      "services:",
      "  app:",
      "    image: busybox",
      "    networks: [back]",
      "    labels: {l: *j}",
      "networks:",
      "  back:",
      `    ${ENC}`,
      "",
    ].join("\n"),
    rules: ["docker-config"],
    dialectRules: ["yaml-dialect"],
  },
];

/** Files that must pass with every judge: legitimate uses of what the hostile ones abuse. */
export const LEGITIMATE_STACKS: ReadonlyArray<{ readonly name: string; readonly text: string }> = [
  {
    name: "anchors-and-merge",
    text: [
      'version: "3.8"',
      "x-defaults: &defaults",
      "  image: busybox",
      "  networks: [back]",
      "  environment: &env",
      "    DB_PASSWORD_FILE: /run/secrets/db_password",
      "  deploy:",
      "    replicas: 1",
      "x-encrypted: &encrypted",
      "  driver: overlay",
      `  ${ENC}`,
      "services:",
      "  app:",
      "    <<: *defaults",
      "    secrets: [db_password]",
      "  worker:",
      "    <<: *defaults",
      "    image: busybox:1.36",
      "    environment:",
      "      <<: *env",
      "      QUEUE: jobs",
      "networks:",
      "  back:",
      "    <<: *encrypted",
      "    attachable: true",
      "secrets:",
      "  db_password:",
      "    external: true",
      "",
    ].join("\n"),
  },
  {
    name: "encrypted-false-still-encrypts",
    text: `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\n    volumes: ["/etc/localtime:/etc/localtime:ro"]\nnetworks:\n  back:\n    driver_opts: {encrypted: "false"}\n`,
  },
];
