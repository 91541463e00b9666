import * as fs from "fs";
import { stackText } from "../../stacks/reading/stack-text";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { ValidationError } from "../../common/problems";
import { lintText } from "../../stacks/lint/lint";
import { HASH_LABEL, KEEPALIVE, MTU_OPTION, renderStack } from "../../stacks/template/render";
import { generateSecret, htpasswdLine, saveSecrets } from "../../stacks/deploy/secrets";
import { loadStackFile } from "../../stacks/template/template";
import { parseVarArgs } from "../../stacks/template/variables";

interface Compose {
  services: Record<
    string,
    {
      image: string;
      entrypoint?: string[];
      command?: string[];
      environment?: Record<string, string>;
      deploy: { labels: string[]; endpoint_mode?: string };
    }
  >;
  networks: Record<string, { external?: boolean; driver?: string; driver_opts?: Record<string, string> }>;
  secrets: Record<string, { external: boolean; name: string }>;
}

const wp = loadStackFile("wordpress");
const traefik = loadStackFile("traefik");
const render = (
  vars: Record<string, string>,
  extra: { mtu?: number; localImage?: string; dnsrr?: boolean; stack?: string } = {},
) => renderStack(stackText(wp.text, wp.file), { stack: extra.stack ?? "blog", vars, ...extra });

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error("expected a ValidationError");
}

describe("stack render", () => {
  it("refuses variable values that hold a line break in either reading (ours or Docker's), naming the variable", () => {
    for (const br of ["\n", "\r", "\u0085", "\u2028", "\u2029"]) {
      expect(problemsOf(() => render({ domain: `blog.example.com${br}x: y` }))).toEqual([
        expect.stringMatching(/^--var domain contains a control character or line break/),
      ]);
    }
  });

  it("fills variables and defaults, and names routers after the stack", () => {
    const out = parse(render({ domain: "blog.example.com" }).text) as Compose;
    expect(out.services.wordpress.deploy.labels).toContain("traefik.http.routers.blog.rule=Host(`blog.example.com`)");
    expect(out.services.db.environment?.MYSQL_DATABASE).toBe("wordpress");
    expect(render({ domain: "x.org" }).text).not.toMatch(/\{\{|variables:/);
  });

  it("reports every missing and unknown variable by name at once", () => {
    const problems = problemsOf(() => render({ domian: "typo.example.com", colour: "red" }));
    expect(problems).toEqual([
      expect.stringMatching(/--var domian is not a variable of stack "blog"; it takes: domain, db_name, db_user/),
      expect.stringMatching(/--var colour is not a variable/),
      expect.stringMatching(/missing --var domain=/),
    ]);
  });

  it("reports a template reference to an undeclared variable with its line", () => {
    const text = traefik.text.replace("--log.level={{ log_level }}", "--log.level={{ loglevel }}");
    const problems = problemsOf(() =>
      renderStack(stackText(text, "t.yml"), {
        stack: "edge",
        vars: { acme_email: "a@b.c", dashboard_domain: "t.b.c" },
      }),
    );
    expect(problems).toEqual([expect.stringMatching(/^t\.yml:\d+: \{\{ loglevel \}\} is not a declared variable/)]);
  });

  it("rejects malformed --var arguments", () => {
    expect(parseVarArgs(["domain", "Domain=x", "a=1", "a=2"]).problems).toHaveLength(3);
    expect(parseVarArgs(["domain=a=b"]).vars).toEqual({ domain: "a=b" });
  });

  it("escapes $ in values so docker stack deploy does not interpolate them", () => {
    const out = parse(render({ domain: "x.org", db_user: "wp$HOME" }).text) as Compose;
    expect(out.services.db.environment?.MYSQL_USER).toBe("wp$$HOME");
  });

  it("puts the cluster's MTU on every overlay the stack creates and none on external ones", () => {
    for (const mtu of [1450, 1500]) {
      const out = parse(render({ domain: "x.org" }, { mtu }).text) as Compose;
      expect(out.networks.internal).toEqual({
        driver: "overlay",
        driver_opts: { encrypted: "", [MTU_OPTION]: String(mtu) },
      });
      expect(out.networks.traefik_public).toEqual({ external: true });
    }
    expect(problemsOf(() => render({ domain: "x.org" }, { mtu: 100 }))).toEqual([expect.stringMatching(/MTU 100/)]);
  });

  it("names declared secrets <stack>_<key> and lists them for deploy", () => {
    const r = render({ domain: "x.org" }, { stack: "shop" });
    const out = parse(r.text) as Compose;
    expect(out.secrets.db_password).toEqual({ external: true, name: "shop_db_password" });
    expect(r.secrets.map((s) => [s.name, s.generate])).toEqual([
      ["shop_db_root_password", "password"],
      ["shop_db_password", "password"],
    ]);
    expect(r.externalNetworks).toEqual(["traefik_public"]);
  });

  it("labels every service with a hash that changes only with the content", () => {
    const a = render({ domain: "x.org" });
    expect(a.hash).toBe(render({ domain: "x.org" }).hash);
    expect(a.hash).not.toBe(render({ domain: "y.org" }).hash);
    const out = parse(a.text) as Compose;
    for (const svc of Object.values(out.services)) expect(svc.deploy.labels).toContain(`${HASH_LABEL}=${a.hash}`);
  });

  it("swaps images for the local one only when asked, and says so", () => {
    expect((parse(render({ domain: "x.org" }).text) as Compose).services.db.image).toBe("mysql:8.4");
    const r = render({ domain: "x.org" }, { localImage: "hsw-busybox:latest" });
    const out = parse(r.text) as Compose;
    expect(out.services.db).toMatchObject({ image: "hsw-busybox:latest", entrypoint: ["/bin/sh", "-c", KEEPALIVE] });
    // VIP mode stays: a kernel with IPVS (the VM bed) runs the routing mesh with local images too.
    expect(out.services.db.deploy).not.toHaveProperty("endpoint_mode");
    expect(out.services.db.deploy.labels).toContain("hcloud-swarm.original-image=mysql:8.4");
    expect(r.notices.join("\n")).toMatch(/INSTEAD OF mysql:8\.4/);
  });

  it("switches every service to dnsrr only for a kernel without IPVS, and says why", () => {
    const r = render({ domain: "x.org" }, { localImage: "hsw-busybox:latest", dnsrr: true });
    for (const svc of Object.values((parse(r.text) as Compose).services))
      expect(svc.deploy).toMatchObject({ endpoint_mode: "dnsrr" });
    expect(r.notices.join("\n")).toMatch(/NO IPVS: endpoint_mode dnsrr/);
  });

  it("produces files that pass lint, for both templates", () => {
    const t = renderStack(stackText(traefik.text, traefik.file), {
      stack: "traefik",
      vars: { acme_email: "ops@example.com", dashboard_domain: "t.example.com" },
      mtu: 1450,
    });
    expect(lintText(t.text, "traefik.rendered.yml", "traefik")).toEqual([]);
    expect(lintText(render({ domain: "x.org" }, { localImage: "img" }).text, "wp.rendered.yml", "blog")).toEqual([]);
  });
});

describe("stack secrets", () => {
  it("generates distinct strong passwords and an htpasswd line without the password in it", () => {
    const spec = { key: "db_password", description: "", generate: "password" as const, user: "admin" };
    const a = generateSecret("blog", spec);
    expect(a.name).toBe("blog_db_password");
    expect(a.content).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generateSecret("blog", spec).content).not.toBe(a.content);
    const h = generateSecret("edge", { ...spec, key: "users", generate: "htpasswd" });
    const password = h.reveal.split(":")[1];
    expect(h.content).toBe(htpasswdLine("admin", password));
    expect(h.content).not.toContain(password);
    // Known vector: htpasswd -nbs admin secret
    expect(htpasswdLine("admin", "secret")).toBe("admin:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=");
  });

  it("writes generated secrets to a file only its owner can read, never dropping an earlier value", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-secrets-"));
    try {
      const file = path.join(dir, "sub", "blog.env");
      saveSecrets(file, [{ name: "blog_a", content: "x", reveal: "one" }]);
      saveSecrets(file, [{ name: "blog_b", content: "y", reveal: "two" }]);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      expect(fs.readFileSync(file, "utf8")).toMatch(/blog_a=one\nblog_b=two\n$/);
      saveSecrets(file, [{ name: "blog_a", content: "z", reveal: "three" }], new Date("2026-01-02T03:04:05Z"));
      expect(fs.readFileSync(file, "utf8")).toMatch(
        /# replaced 2026-01-02T03:04:05.000Z: blog_a=one\nblog_b=two\nblog_a=three\n$/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
