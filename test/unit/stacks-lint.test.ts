import { lintText } from "../../stacks/lint/lint";
import { formatFinding, type Finding } from "../../stacks/reading/source";
import { loadStackFile, templateNames } from "../../stacks/template/template";

/** A stack that passes every rule; each case below breaks exactly one thing. */
const GOOD = `version: "3.8"
services:
  app:
    image: example/app:1
    environment:
      DB_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
    networks: [backend]
  edge:
    image: example/edge:1
    ports:
      - {target: 443, published: 443, protocol: tcp, mode: host}
    networks: [backend]
networks:
  backend:
    driver_opts:
      encrypted: ""
secrets:
  db_password:
    external: true
`;

const lint = (text: string): Finding[] => lintText(text, "blog.yml", "blog");
const rules = (text: string): string[] => lint(text).map((f) => f.rule);

describe("stack lint", () => {
  it("passes a stack whose overlays are all encrypted", () => {
    expect(lint(GOOD)).toEqual([]);
  });

  it.each(templateNames())("passes the shipped %s template", (name) => {
    const t = loadStackFile(name);
    expect(lintText(t.text, t.file, name).map(formatFinding)).toEqual([]);
  });

  it("refuses an overlay without the encrypted option, naming stack, network and line", () => {
    const text = GOOD.replace(
      `  backend:\n    driver_opts:\n      encrypted: ""\n`,
      "  backend:\n    driver: overlay\n",
    );
    const [f, ...rest] = lint(text);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: "unencrypted-overlay", stack: "blog", network: "backend", line: 15 });
    expect(formatFinding(f)).toMatch(/^blog\.yml:15: stack "blog", network "backend": .*encrypted/);
  });

  it("counts a network without a driver as an overlay", () => {
    const text = GOOD.replace(`  backend:\n    driver_opts:\n      encrypted: ""\n`, "  backend:\n");
    expect(lint(text)).toEqual([
      expect.objectContaining({ rule: "unencrypted-overlay", network: "backend", line: 15 }),
    ]);
  });

  it("refuses a service without networks, which stack deploy puts on the plain <stack>_default overlay", () => {
    const text = GOOD.replace("    networks: [backend]\n  edge:", "  edge:");
    expect(lint(text)).toEqual([
      expect.objectContaining({ rule: "unencrypted-overlay", service: "app", network: "blog_default", line: 3 }),
    ]);
  });

  it("accepts services without networks when the default network is declared encrypted", () => {
    const text = GOOD.replace("    networks: [backend]\n  edge:", "  edge:").replace(
      "networks:\n  backend:",
      'networks:\n  default:\n    driver_opts: {encrypted: ""}\n  backend:',
    );
    expect(lint(text)).toEqual([]);
  });

  it("refuses an external network that is not known to be encrypted", () => {
    const text =
      GOOD.replace("networks: [backend]\n  edge", "networks: [backend, shared]\n  edge") + "  shared_x: {}\n";
    const ext = GOOD.replace("networks: [backend]\n  edge", "networks: [backend, shared]\n  edge").replace(
      "networks:\n  backend:",
      "networks:\n  shared:\n    external: true\n  backend:",
    );
    expect(rules(text)).toContain("compose-structure");
    expect(lint(ext)).toEqual([expect.objectContaining({ rule: "external-network", network: "shared", line: 15 })]);
  });

  it("accepts an external network listed under x-hcloud-swarm external-networks or seen encrypted in the cluster", () => {
    const ext = GOOD.replace("networks: [backend]\n  edge", "networks: [backend, shared]\n  edge").replace(
      "networks:\n  backend:",
      "networks:\n  shared:\n    external: true\n  backend:",
    );
    expect(lint(`x-hcloud-swarm:\n  external-networks: [shared]\n${ext}`)).toEqual([]);
    expect(lintText(ext, "blog.yml", "blog", { encryptedNetworks: new Set(["shared"]) })).toEqual([]);
  });

  it("refuses a declared external network that the cluster has without encryption", () => {
    const ext = GOOD.replace("networks: [backend]\n  edge", "networks: [backend, shared]\n  edge").replace(
      "networks:\n  backend:",
      "networks:\n  shared:\n    external: true\n  backend:",
    );
    const found = lintText(`x-hcloud-swarm:\n  external-networks: [shared]\n${ext}`, "blog.yml", "blog", {
      plainNetworks: new Set(["shared"]),
    });
    expect(found).toEqual([expect.objectContaining({ rule: "external-network", network: "shared" })]);
    expect(found[0].message).toMatch(/WITHOUT encryption/);
  });

  it("refuses a password in plain environment, in mapping and list form and in URLs", () => {
    const map = GOOD.replace("DB_PASSWORD_FILE: /run/secrets/db_password", "DB_PASSWORD: hunter2");
    expect(lint(map)).toEqual([expect.objectContaining({ rule: "plain-secret", service: "app", line: 6 })]);
    const list = GOOD.replace(
      "      DB_PASSWORD_FILE: /run/secrets/db_password",
      "      - API_TOKEN=abc\n      - DATABASE_URL=mysql://wp:s3cret@db/wp",
    );
    expect(lint(list).map((f) => [f.rule, f.line])).toEqual([
      ["plain-secret", 6],
      ["plain-secret", 7],
    ]);
    const harmless = GOOD.replace(
      "      DB_PASSWORD_FILE: /run/secrets/db_password",
      "      PWD: /srv\n      DB_USER: wp\n      DATABASE_URL: mysql://wp@db/wp",
    );
    expect(lint(harmless)).toEqual([]);
  });

  it("refuses a swarm port published by a service", () => {
    const text = GOOD.replace(
      "      - {target: 443, published: 443, protocol: tcp, mode: host}",
      "      - {target: 443, published: 443, protocol: tcp, mode: host}\n      - {target: 4789, published: 4789, protocol: udp, mode: host}",
    );
    expect(lint(text)).toEqual([expect.objectContaining({ rule: "public-port", service: "edge", line: 13 })]);
    expect(lint(text)[0].message).toMatch(/4789 \(VXLAN/);
  });

  it("refuses a database port and any port in ingress mode, ranges included", () => {
    const text = GOOD.replace(
      "    image: example/app:1\n",
      '    image: example/app:1\n    ports: ["3300-3310:3300-3310"]\n',
    );
    const found = lint(text);
    expect(found.map((f) => f.rule)).toEqual(["public-port", "public-port"]);
    expect(found.map((f) => f.message).join("\n")).toMatch(/3306 \(MySQL[\s\S]*ingress mode/);
    expect(lintText(GOOD.replace("mode: host", "mode: ingress"), "b.yml", "blog", { ingressEncrypted: true })).toEqual(
      [],
    );
  });

  it("reports invalid YAML with its line", () => {
    const found = lint(GOOD.replace("    image: example/edge:1\n", "    image: [example/edge:1\n"));
    expect(found[0]).toMatchObject({ rule: "yaml" });
    expect(found[0].line).toBeGreaterThanOrEqual(10);
  });

  it("reports a broken compose structure with lines", () => {
    const text = GOOD.replace("    image: example/edge:1\n", "")
      .replace("secrets: [db_password]", "secrets: [db_pass]")
      .replace('version: "3.8"', 'version: "3.8"\nservice: {}');
    expect(lint(text).map((f) => [f.rule, f.line])).toEqual([
      ["compose-structure", 2],
      ["compose-structure", 8],
      ["compose-structure", 10],
    ]);
  });
});
