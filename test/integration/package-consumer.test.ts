/**
 * The component package as a user gets it: `npm pack` of this repository, installed from the
 * tarball into a fresh project outside it (its dependencies from the npm cache or registry, as for
 * any user), a TypeScript program compiled against the installed declarations that imports
 * `SwarmCluster` from "hcloud-swarm", run under Pulumi's own mocks (test/support/consumer/index.ts).
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { builtEntry, BUILD_TIMEOUT_MS } from "../support/child-journey";

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
/** Packing copies ~1 MB; installing resolves ~240 packages, from the npm cache when it holds them. */
const NPM_TIMEOUT_MS = 5 * 60_000;
/** Compiling one small file against the installed declarations, and running it under mocks. */
const PROGRAM_TIMEOUT_MS = 2 * 60_000;

let work: string;

beforeAll(async () => {
  // The tarball holds dist/: it must be built from the sources under test.
  await builtEntry("infra/public");
  work = fs.mkdtempSync(path.join(os.tmpdir(), "hcloud-swarm-consumer-"));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test(
  "a fresh project installs the packed package and runs SwarmCluster from it under Pulumi mocks",
  async () => {
    const started = Date.now();
    const npm = (args: string[], cwd: string) =>
      exec("npm", args, { cwd, timeout: NPM_TIMEOUT_MS, maxBuffer: 64 << 20 });
    const packed = JSON.parse(
      (await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", work], ROOT)).stdout,
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0].files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        "dist/infra/public.js",
        "dist/infra/public.d.ts",
        "dist/infra/cluster.d.ts",
        "bin/hcloud-swarm.js",
        "stacks/templates/wordpress/stack.yml",
      ]),
    );
    expect(
      files.filter(
        (f) => /^(test|node_modules|\.hcloud-swarm)\//.test(f) || (f.endsWith(".ts") && !f.endsWith(".d.ts")),
      ),
    ).toEqual([]);

    const consumer = path.join(work, "consumer");
    fs.mkdirSync(consumer);
    fs.writeFileSync(
      path.join(consumer, "package.json"),
      JSON.stringify({ name: "consumer", version: "1.0.0", private: true }),
    );
    // --ignore-scripts: ssh2's optional native speed-up is not needed here.
    await npm(
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        path.join(work, packed[0].filename),
      ],
      consumer,
    );
    // Publishable: a private package cannot be published to a registry.
    expect(
      JSON.parse(fs.readFileSync(path.join(consumer, "node_modules/hcloud-swarm/package.json"), "utf8")).private,
    ).toBeUndefined();
    fs.copyFileSync(path.join(__dirname, "../support/consumer/index.ts"), path.join(consumer, "index.ts"));
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    await exec(
      process.execPath,
      [
        tsc,
        "--strict",
        "--module",
        "node16",
        "--moduleResolution",
        "node16",
        "--target",
        "es2022",
        "--skipLibCheck",
        "--outDir",
        "out",
        "index.ts",
      ],
      { cwd: consumer, timeout: PROGRAM_TIMEOUT_MS },
    );
    const out = await exec(process.execPath, [path.join(consumer, "out/index.js")], {
      cwd: consumer,
      timeout: PROGRAM_TIMEOUT_MS,
    });
    const seen = JSON.parse(out.stdout) as {
      afterImport: number;
      types: string[];
      nodes: string[];
      inventory: { nodes: Array<{ name: string; role: string; hostKey: string }> };
      providerRequires: string[];
      unresolved: string[];
    };

    // The package entry is the component, not this project's Pulumi program.
    expect(seen.afterImport).toBe(0);
    expect(seen.types).toEqual(
      expect.arrayContaining([
        "hcloud-swarm:index:SwarmCluster",
        "hcloud:index/server:Server",
        "hcloud:index/firewall:Firewall",
      ]),
    );
    expect(seen.nodes).toEqual(["manager-1", "worker-1", "worker-2"]);
    expect(seen.inventory.nodes.map((n) => [n.name, n.role])).toEqual([
      ["manager-1", "manager"],
      ["worker-1", "worker"],
      ["worker-2", "worker"],
    ]);
    for (const n of seen.inventory.nodes) expect(n.hostKey).toMatch(/^ssh-ed25519 AAAA/);
    // The dynamic providers' serialized code requires the package's files by path: they must resolve in the user's project.
    expect(seen.providerRequires.length).toBeGreaterThan(0);
    expect(seen.unresolved).toEqual([]);
    console.log(`pack, install, compile and run took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  NPM_TIMEOUT_MS * 2 + PROGRAM_TIMEOUT_MS * 2,
);
