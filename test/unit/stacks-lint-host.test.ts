/**
 * The host-access rules (privileges, host network, binds, files read at deploy time) and the
 * exceptions a stack declares for them under x-hcloud-swarm allow:.
 */
import { lintText } from "../../stacks/lint/lint";
import type { Finding } from "../../stacks/reading/source";

const stack = (service: string, extra = "", meta = "") =>
  `version: "3.8"\n${meta ? `x-hcloud-swarm:\n${meta}` : ""}services:\n  app:\n    image: busybox\n    networks: [back]\n${service}networks:\n  back:\n    driver_opts: {encrypted: ""}\n${extra}`;
const lint = (text: string, file = "/srv/stacks/blog.yml"): Finding[] => lintText(text, file, "blog");
const rules = (text: string) => lint(text).map((f) => [f.rule, f.line]);

describe("host access", () => {
  it("refuses privileged, each added capability and network_mode: host, naming the line", () => {
    expect(rules(stack("    privileged: true\n    cap_add: [NET_ADMIN, SYS_ADMIN]\n    network_mode: host\n"))).toEqual(
      [
        ["host-access", 6],
        ["host-access", 7],
        ["host-access", 7],
        ["host-access", 8],
      ],
    );
  });

  it("accepts exactly what the stack declares, with a reason, and nothing more", () => {
    const meta = "  allow:\n    - {service: app, cap_add: NET_ADMIN, reason: manages its own routes}\n";
    const text = stack("    cap_add: [NET_ADMIN, SYS_ADMIN]\n", "", meta);
    const found = lint(text);
    expect(found.map((f) => f.rule)).toEqual(["host-access"]);
    expect(found[0].message).toMatch(/cap_add SYS_ADMIN/);
  });

  it("reports a declaration that matches nothing, so it cannot cover something added later", () => {
    const meta = "  allow:\n    - {service: app, privileged: true, reason: not any more}\n";
    expect(rules(stack("", "", meta))).toEqual([["template", 4]]);
  });

  it("validates declarations with their lines: one kind each, a reason, known keys, absolute binds", () => {
    const meta = [
      "  allow:",
      "    - {service: app, privileged: true, cap_add: NET_ADMIN, reason: two}",
      "    - {service: app, bind: relative/path, reason: x}",
      "    - {service: app, network_mode: host}",
      "    - {service: app, privileged: true, reason: x, because: y}",
      "",
    ].join("\n");
    const found = lint(stack("    privileged: true\n", "", meta)).filter((f) => f.rule === "template");
    expect(found.map((f) => [f.line, f.message.replace(/;.*/, "")])).toEqual([
      [4, expect.stringMatching(/exactly one of/)],
      [5, expect.stringMatching(/bind must be an absolute host path/)],
      [6, expect.stringMatching(/needs a reason/)],
      [7, expect.stringMatching(/unknown key "because"/)],
    ]);
  });

  it("refuses the host network under any key, unless network_mode: host is declared", () => {
    const extra = "  hostnet:\n    external: true\n    name: host\n";
    const text = stack("", extra).replace("networks: [back]", "networks: [back, hostnet]");
    expect(rules(text)).toEqual([["host-access", 5]]);
    const meta = "  allow:\n    - {service: app, network_mode: host, reason: needs the node's addresses}\n";
    expect(lint(stack("", extra, meta).replace("networks: [back]", "networks: [back, hostnet]"))).toEqual([]);
  });
});

describe("bind mounts", () => {
  it("refuses the Docker socket even read-only, and any host path outside the read-only allow-list", () => {
    const text = stack(
      '    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n      - /:/host:ro\n      - /etc/localtime:/etc/localtime\n      - "./data:/data"\n',
    );
    expect(lint(text).map((f) => [f.rule, f.line, f.message.slice(0, 40)])).toEqual([
      ["bind-mount", 7, "mounts the Docker socket /var/run/docker"],
      ["bind-mount", 8, "mounts the host path /, outside the allo"],
      ["bind-mount", 9, "mounts the host path /etc/localtime read"],
      ["bind-mount", 10, "mounts the host path /srv/stacks/data re"],
    ]);
  });

  it("accepts the time zone read-only, and a declared bind", () => {
    const meta = "  allow:\n    - {service: app, bind: /var/run/docker.sock, reason: reads service labels}\n";
    const text = stack(
      "    volumes:\n      - /etc/localtime:/etc/localtime:ro\n      - {type: bind, source: /usr/share/zoneinfo/Europe, target: /z, read_only: true}\n      - /var/run/docker.sock:/var/run/docker.sock\n",
      "",
      meta,
    );
    expect(lint(text)).toEqual([]);
  });

  it("refuses a named volume whose driver options bind a host path", () => {
    const text = stack(
      '    volumes: ["etc:/e"]\n',
      "volumes:\n  etc:\n    driver_opts: {type: none, o: bind, device: /etc}\n",
    );
    expect(rules(text)).toEqual([["bind-mount", 12]]);
  });
});

describe("files Docker reads at deploy time", () => {
  it("accepts secret and config files next to the stack file, and refuses any outside it", () => {
    const top =
      "secrets:\n  a: {file: ./a.txt}\n  b: {file: ../b.txt}\nconfigs:\n  c: {file: /etc/passwd}\n  d: {file: sub/d.txt}\n";
    const text = stack("    secrets: [a, b]\n    configs: [c, d]\n", top);
    expect(lint(text).map((f) => [f.rule, f.line, f.message.slice(0, 38)])).toEqual([
      ["file-outside", 13, 'secret "b" reads /srv/b.txt, outside t'],
      ["file-outside", 15, 'config "c" reads /etc/passwd, outside '],
    ]);
  });
});
