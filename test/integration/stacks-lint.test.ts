/**
 * `stack deploy` judged by Docker's own loader, on a real swarm of the test bed: every hostile file
 * is refused and leaves the cluster unchanged; each judge (the manager's `docker stack config`,
 * this machine's, the Docker-dialect reader) is really used and named; a value holding `$` reaches
 * the service spec exactly as linted; existing plain or wrong-MTU networks are recreated or refused.
 *
 * The bed's nodes share this machine's file system, so an SSH session on a node finds the Docker
 * CLI 28 in /usr/local/bin first. A manager whose CLI lacks `docker stack config` (Debian's
 * docker.io 20.10) is a session whose PATH leaves /usr/local/bin out: `docker` is then
 * /usr/bin/docker, and it both judges (it cannot) and deploys.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Inventory } from "../../inventory/inventory";
import { bootstrap } from "../../bootstrap/bootstrap";
import { hcloudSwarm } from "../support/cli";
import type { SshSession } from "../../transport/ssh";
import { overlayNetworks, stackServices, STACK_LABEL } from "../../swarm/facts";
import { connectManager } from "../../swarm/manager-session";
import { deployStack, LintRefusedError, type DeployResult } from "../../stacks/deploy/deploy";
import { isGoMap, readDockerYaml } from "../../stacks/reading/dialect";
import { removeStack } from "../../stacks/deploy/remove";
import { MTU_OPTION } from "../../stacks/template/render";
import { HOSTILE_STACKS } from "../support/hostile-stacks";
import { ROUND3_CASES } from "../support/hostile-stacks-r3";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

jest.setTimeout(300_000);

const bed = useBedFixture({ name: "stacks-lint", nodes: 1, managers: 1 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-stacks-lint-"));
let inv: Inventory;
let s: SshSession;
const log: string[] = [];

/** The same manager, seen through a PATH that finds only Debian's docker.io 20.10 CLI. */
function oldCliSession(real: SshSession): SshSession {
  const prefix = "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH; ";
  return {
    node: real.node,
    run: (cmd, o) => real.run(prefix + cmd, o),
    upload: (c, p, o) => real.upload(c, p, o),
    isOpen: () => real.isOpen(),
    close: () => undefined,
  };
}

async function snapshot(): Promise<string> {
  const r = await s.run("for k in network secret config service volume; do docker $k ls -q | sort; done");
  return r.stdout;
}

function deploy(
  name: string,
  text: string,
  opts: { session?: SshSession; vars?: Record<string, string>; localDockerPath?: string } = {},
): Promise<DeployResult> {
  const file = path.join(tmp, `${name}.yml`);
  fs.writeFileSync(file, text);
  return deployStack(opts.session ?? s, {
    source: { file, text, defaultName: name, builtin: false },
    inventory: inv,
    localImage: LOCAL_IMAGE,
    secretsFile: path.join(tmp, `${name}.env`),
    convergeTimeoutMs: 120_000,
    ...(opts.vars ? { vars: opts.vars } : {}),
    ...(opts.localDockerPath !== undefined ? { localDockerPath: opts.localDockerPath } : {}),
    log: (l) => log.push(l),
  });
}

/** A stack with a template variable that carries `$` (an htpasswd hash), and `$` written in the file itself. */
const DOLLARS = [
  'version: "3.8"',
  "x-hcloud-swarm:",
  "  variables:",
  "    hash: {description: an htpasswd line}",
  "services:",
  "  app:",
  "    image: busybox",
  "    networks: [back]",
  "    environment:",
  '      FROM_VAR: "{{ hash }}"',
  '      WRITTEN: "cost $$5 and $${HOME} literally"',
  "    deploy:",
  "      labels:",
  '        - "auth={{ hash }}"',
  '        - "price=$$9"',
  "networks:",
  "  back:",
  '    driver_opts: {encrypted: ""}',
  "",
].join("\n");
const HASH = "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";

beforeAll(async () => {
  inv = bed().inventory;
  const key = fs.readFileSync(bed().privateKeyPath, "utf8");
  await bootstrap(inv, { privateKeyFor: () => key });
  s = await connectManager(inv);
}, 240_000);

afterAll(() => {
  s?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("stack deploy judged by Docker's loader", () => {
  it("knows which Docker CLIs judge: the bed's nodes find 28.x first, Debian's 20.10 lacks docker stack config", async () => {
    expect((await s.run("docker version --format '{{.Client.Version}}' 2>/dev/null; true")).stdout.trim()).toMatch(
      /^2[3-9]\.|^[3-9]\d\./,
    );
    const old = await oldCliSession(s).run("docker stack config -c - </dev/null", { allowFailure: true });
    expect(old.stderr).toMatch(/unknown shorthand flag: 'c'/);
  });

  it.each(HOSTILE_STACKS.map((h) => [h.name, h] as const))(
    "refuses %s, names the judge, and leaves the cluster unchanged",
    async (name, h) => {
      const before = await snapshot();
      const attempt = deploy(`h-${name}`.slice(0, 60), h.text);
      await expect(attempt).rejects.toBeInstanceOf(LintRefusedError);
      const err = (await attempt.catch((e: unknown) => e)) as LintRefusedError;
      expect(err.message).toMatch(/judged by docker stack config on manager-1 \(.*Docker CLI \d+/);
      const rules = err.problems.map((p) => /\[([a-z-]+)\]$/.exec(p)?.[1]);
      for (const r of h.deployRules ?? h.rules) expect(rules).toContain(r);
      expect(await snapshot()).toBe(before);
    },
  );

  // One case per round-3 class (the unit suite judges them all): refused by deploy on a real swarm.
  it.each(
    [
      "default-external-host",
      "remap-postgres-host",
      "redis-empty-user",
      "overlay-lowerdir-root",
      "driver-empty-plain",
    ].map((n) => [n, ROUND3_CASES.find((c) => c.name === n)!] as const),
  )("round 3: refuses %s and leaves the cluster unchanged", async (name, c) => {
    const before = await snapshot();
    const err = (await deploy(`r3-${name}`, c.text).catch((e: unknown) => e)) as LintRefusedError;
    expect(err).toBeInstanceOf(LintRefusedError);
    for (const r of c.rules) expect(err.message).toContain(`[${r}]`);
    expect(await snapshot()).toBe(before);
  });

  it("refuses hostile files with this machine's CLI as the judge when the manager's CLI lacks docker stack config", async () => {
    const before = await snapshot();
    for (const name of ["line-separator", "merge-plain-network", "octal-port", "external-real-name", "docker-socket"]) {
      const h = HOSTILE_STACKS.find((x) => x.name === name)!;
      const err = (await deploy(`old-${name}`, h.text, { session: oldCliSession(s) }).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err).toBeInstanceOf(LintRefusedError);
      expect(err.message).toMatch(/judged by docker stack config of this machine's Docker CLI/);
      for (const r of h.deployRules ?? h.rules) expect(err.message).toContain(`[${r}]`);
    }
    // Docker CLIs older than 23 also need version:, which a CLI with docker stack config would fill in.
    const unversioned =
      'services:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    driver_opts: {encrypted: ""}\n';
    await expect(deploy("old-unversioned", unversioned, { session: oldCliSession(s) })).rejects.toThrow(
      /older than Docker 23 and refuses a stack file without version:; add version: "3\.8"/,
    );
    expect(await snapshot()).toBe(before);
  });

  it("refuses hostile files with the Docker-dialect reader when no CLI has docker stack config", async () => {
    const before = await snapshot();
    for (const name of ["line-separator", "merge-plain-network", "octal-port", "external-real-name", "docker-socket"]) {
      const h = HOSTILE_STACKS.find((x) => x.name === name)!;
      const err = (await deploy(`none-${name}`, h.text, {
        session: oldCliSession(s),
        localDockerPath: "/usr/bin:/bin",
      }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(LintRefusedError);
      expect(err.message).toMatch(/judged by hcloud-swarm's Docker-dialect reader/);
      for (const r of h.deployRules ?? h.rules) expect(err.message).toContain(`[${r}]`);
    }
    expect(await snapshot()).toBe(before);
  });

  /** Labels or environment of the judged reading (mapping or KEY=value list), with the deploy text's `$$` undone. */
  function pairs(v: unknown): Record<string, string> {
    const undo = (x: string) => x.replace(/\$\$/g, "$");
    if (Array.isArray(v))
      return Object.fromEntries(
        v.map((x) => String(x)).map((x) => [undo(x.slice(0, x.indexOf("="))), undo(x.slice(x.indexOf("=") + 1))]),
      );
    return Object.fromEntries(Object.entries(v as Record<string, string>).map(([k, x]) => [k, undo(String(x))]));
  }

  /** The service spec holds exactly the judged (and linted) values, `$` included. */
  async function dollarsDeployed(stack: string, r: DeployResult): Promise<void> {
    const judged = readDockerYaml(r.deployedText).data;
    if (!isGoMap(judged) || !isGoMap(judged.services) || !isGoMap(judged.services.app))
      throw new Error(`no services.app in the deployed text:\n${r.deployedText}`);
    const app = judged.services.app;
    const [svc] = (await stackServices(s, stack)).filter((x) => x.name === `${stack}_app`);
    const linted = { labels: pairs(isGoMap(app.deploy) ? app.deploy.labels : undefined), env: pairs(app.environment) };
    expect(linted).toMatchObject({
      labels: { auth: HASH, price: "$9" },
      env: { FROM_VAR: HASH, WRITTEN: "cost $5 and ${HOME} literally" },
    });
    // Labels stack deploy adds itself (com.docker.stack.namespace, com.docker.stack.image) are not in the file.
    const labels = Object.fromEntries(Object.entries(svc.labels).filter(([k]) => !k.startsWith("com.docker.stack.")));
    expect([svc.labels[STACK_LABEL], labels]).toEqual([stack, linted.labels]);
    expect(Object.fromEntries(svc.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]))).toEqual(
      linted.env,
    );
    // Each `$` is doubled once in the uploaded text; stack deploy's own interpolation undoes it.
    expect(r.deployedText).toContain(HASH.replace(/\$/g, "$$$$"));
  }

  it("deploys a value holding $ exactly as linted, judged on the manager", async () => {
    const r = await deploy("dollars", DOLLARS, { vars: { hash: HASH } });
    expect(r.judge).toMatch(/^docker stack config on manager-1/);
    expect(r.converge.converged).toBe(true);
    await dollarsDeployed("dollars", r);
    expect(log.join("\n")).toMatch(/dollars: judged by docker stack config on manager-1/);
    expect((await deploy("dollars", DOLLARS, { vars: { hash: HASH } })).actions).toEqual([]);
    await removeStack(s, "dollars");
  });

  it("deploys it exactly as linted when this machine's CLI judges and the manager's 20.10 CLI deploys", async () => {
    const r = await deploy("dollars-old", DOLLARS, { vars: { hash: HASH }, session: oldCliSession(s) });
    expect(r.judge).toMatch(/^docker stack config of this machine's Docker CLI/);
    expect(r.converge.converged).toBe(true);
    await dollarsDeployed("dollars-old", r);
    await removeStack(s, "dollars-old");
  });

  it("deploys it exactly as linted when the Docker-dialect reader judges", async () => {
    const r = await deploy("dollars-dialect", DOLLARS, {
      vars: { hash: HASH },
      session: oldCliSession(s),
      localDockerPath: "/usr/bin:/bin",
    });
    expect(r.judge).toMatch(/^hcloud-swarm's Docker-dialect reader/);
    expect(r.converge.converged).toBe(true);
    await dollarsDeployed("dollars-dialect", r);
    await removeStack(s, "dollars-dialect");
  });
});

describe("stack lint --inventory", () => {
  it("judges on the manager and checks against the cluster, naming the judge, the file and the lines", async () => {
    const h = HOSTILE_STACKS.find((x) => x.name === "merge-swarm-port")!;
    const file = path.join(tmp, "cli-hostile.yml");
    fs.writeFileSync(file, h.text);
    const r = await hcloudSwarm(["stack", "lint", file, "traefik", "--inventory", bed().inventoryPath]);
    expect(r.code).toBe(1);
    const text = r.out;
    expect(text).toContain(
      `${file}:4: stack "cli-hostile", service "app": ports (2377:2377/tcp, mode host) takes port 2377 (swarm management, tcp)`,
    );
    expect(text).toMatch(
      /cli-hostile\.yml: 1 problem \(judged by docker stack config on manager-1 \(.*; variables interpolated with only HOME and PATH, none from your shell\)/,
    );
    expect(text).toMatch(/traefik\/stack\.yml: ok \(judged by docker stack config on manager-1/);
  });
});

describe("existing networks", () => {
  const mtu = () => String(inv.swarm?.overlayMtu ?? 1500);
  const stack = (name: string) =>
    `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    driver_opts: {encrypted: ""}\n`.replace(
      "back:\n",
      name === "back" ? "back:\n" : `back:\n    name: ${name}\n`,
    );

  it("recreates the stack's own network when it exists plain and nothing uses it", async () => {
    await s.run(`docker network create --driver overlay --label ${STACK_LABEL}=reuse reuse_back`);
    const r = await deploy("reuse", stack("back"));
    expect(r.actions[0]).toMatch(
      /^recreate network reuse_back \(network reuse_back exists not encrypted and no .* option/,
    );
    const n = (await overlayNetworks(s)).find((x) => x.name === "reuse_back");
    expect([n?.options.encrypted, n?.options[MTU_OPTION]]).toEqual(["", mtu()]);
    await removeStack(s, "reuse");
  });

  it("refuses, with the fix, when the plain network is in use, and changes nothing", async () => {
    await s.run(
      `docker network create --driver overlay --attachable --label ${STACK_LABEL}=busy busy_back && docker service create -d --name busy-squatter --network busy_back --entrypoint /bin/sh ${LOCAL_IMAGE} -c 'sleep 3600'`,
    );
    const before = await snapshot();
    const attempt = deploy("busy", stack("back"));
    await expect(attempt).rejects.toThrow(
      /network "back": network busy_back exists not encrypted.*services use it \(busy-squatter\).*remove or move the services using it.*\[existing-network\]/,
    );
    expect(await snapshot()).toBe(before);
    await s.run("docker service rm busy-squatter && sleep 2 && docker network rm busy_back", { allowFailure: true });
  });

  it("judges a name: override by the real name: an existing plain network of that name is recreated", async () => {
    await s.run(`docker network create --driver overlay --label ${STACK_LABEL}=named innocent`);
    const r = await deploy("named", stack("innocent"));
    expect(r.actions[0]).toMatch(/^recreate network innocent \(network innocent exists not encrypted/);
    const n = (await overlayNetworks(s)).find((x) => x.name === "innocent");
    expect([n?.options.encrypted, n?.options[MTU_OPTION]]).toEqual(["", mtu()]);
    await removeStack(s, "named");
  });

  it("recreates a guaranteed external network that lacks the MTU, and refuses someone else's plain one", async () => {
    await s.run("docker network create --driver overlay --attachable --opt encrypted shared_ext");
    const guaranteed = `version: "3.8"\nx-hcloud-swarm:\n  external-networks: [shared_ext]\nservices:\n  app:\n    image: busybox\n    networks: [shared_ext]\nnetworks:\n  shared_ext:\n    external: true\n`;
    const r = await deploy("guar", guaranteed);
    expect(r.actions[0]).toMatch(/^recreate network shared_ext/);
    expect((await overlayNetworks(s)).find((x) => x.name === "shared_ext")?.options[MTU_OPTION]).toBe(mtu());
    await removeStack(s, "guar");
    await s.run("docker network create --driver overlay --attachable --opt encrypted foreign_ext");
    const before = await snapshot();
    const foreign = guaranteed
      .replace(/shared_ext/g, "foreign_ext")
      .replace("x-hcloud-swarm:\n  external-networks: [foreign_ext]\n", "");
    await expect(deploy("foreign", foreign)).rejects.toThrow(
      /network foreign_ext exists no com\.docker\.network\.driver\.mtu option .*not this stack's to replace/,
    );
    expect(await snapshot()).toBe(before);
  });
});

/**
 * Deploy uploads only the stack file: `docker stack deploy` on the manager opens each `file:` and
 * `env_file` in the manager's file system (here the node's own mount namespace, whose /root is not
 * this machine's). So the links are planted where Docker reads them, by the SSH user, and deploy is
 * run as the user types it.
 */
describe("stack deploy judges a stack's files where Docker reads them: on the manager", () => {
  const files = (use: string, top: string) =>
    `version: "3.8"\nservices:\n  app:\n    image: busybox\n    networks: [back]\n${use}networks:\n  back:\n    driver_opts: {encrypted: ""}\n${top}`;
  const secretStack = (file: string) => files("    secrets: [s]\n", `secrets:\n  s:\n    file: ./${file}\n`);
  const envStack = (file: string) => files(`    env_file: ${file}\n`, "");

  /** `hcloud-swarm stack deploy FILE`, the stack file in a project directory that also holds `local` files. */
  async function cliDeploy(
    name: string,
    text: string,
    local: Record<string, string>,
  ): Promise<{ out: string; code: number }> {
    const dir = path.join(tmp, `project-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, content] of Object.entries(local)) fs.writeFileSync(path.join(dir, f), content);
    const file = path.join(dir, `${name}.yml`);
    fs.writeFileSync(file, text);
    return hcloudSwarm([
      "stack",
      "deploy",
      file,
      "--inventory",
      bed().inventoryPath,
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(tmp, `${name}.env`),
      "--timeout",
      "120",
    ]);
  }

  it.each([
    ["a secret's file", "mf-secret", secretStack("mf-secret.txt"), "mf-secret.txt", 'secret "s"'],
    ["an env_file", "mf-env", envStack("mf-env.env"), "mf-env.env", 'service "app" env_file'],
  ])(
    "refuses %s that is, on the manager, a link out of the upload directory, and changes nothing",
    async (_what, name, text, file, what) => {
      // The project's own copy is an ordinary file: only the manager's copy, which Docker reads, leads out.
      const home = (
        await s.run(`mkdir -p .hcloud-swarm/stacks && cd .hcloud-swarm/stacks && pwd && ln -sfn /etc/hostname ${file}`)
      ).stdout.trim();
      try {
        const before = await snapshot();
        const r = await cliDeploy(name, text, { [file]: "A=1\n" });
        expect(r.code).toBe(1);
        expect(r.out).toContain(
          `${what} reads ${home}/${file} on manager-1, a symbolic link to /etc/hostname, outside the stack's directory ${home}`,
        );
        expect(r.out).toMatch(/nothing was deployed[\s\S]*\[file-outside\]/);
        expect(await snapshot()).toBe(before);
      } finally {
        await s.run(`rm -f .hcloud-swarm/stacks/${file}`);
      }
    },
  );

  it("refuses a secret's file that is not on the manager (only the stack file is uploaded) before creating anything", async () => {
    await s.run("rm -f .hcloud-swarm/stacks/mf-missing.txt");
    const before = await snapshot();
    const r = await cliDeploy("mf-missing", secretStack("mf-missing.txt"), { "mf-missing.txt": "value\n" });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /secret "s": Docker would read \S+\/mf-missing\.txt on manager-1, and it is not there: stack deploy uploads only the stack file.*\[file-missing\]/,
    );
    expect(await snapshot()).toBe(before);
  });

  it("deploys a secret whose file is an ordinary file in the manager's upload directory", async () => {
    await s.run("printf 'value' > .hcloud-swarm/stacks/mf-ok.txt");
    try {
      const r = await cliDeploy("mf-ok", secretStack("mf-ok.txt"), {});
      expect(r.out).not.toMatch(/\[file-(outside|missing)\]/);
      expect(r.code).toBe(0);
    } finally {
      await removeStack(s, "mf-ok");
      await s.run("rm -f .hcloud-swarm/stacks/mf-ok.txt; docker secret rm mf-ok_s >/dev/null 2>&1; true");
    }
  });
});
