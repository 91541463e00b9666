/**
 * cloud-init's own schema check (`cloud-init schema --config-file`) from Debian's package, unpacked
 * aside and run with Debian's python3: never installed on the host, whose namespace-bed nodes would
 * otherwise wait forever in `cloud-init status --wait` (see the VM notes). Its Python libraries are
 * ordinary Debian packages and are installed with apt when missing.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "../../local";

/** What cloud-init's Depends needs for `schema` to import. */
const PYTHON_DEPS = [
  "python3-configobj",
  "python3-jinja2",
  "python3-jsonpatch",
  "python3-jsonschema",
  "python3-netifaces",
  "python3-oauthlib",
  "python3-requests",
  "python3-serial",
  "python3-yaml",
];
/** Outside the directories every namespace-bed node mounts privately (/tmp, /run, /var/lib, /var/log, /root): nodes run it too (./cloud-init.ts). */
const UNPACKED = "/var/cache/hcloud-swarm-tests/cloud-init";
/** apt on a fresh machine (update plus downloads) can take minutes. */
const APT_TIMEOUT_MS = 600_000;

async function apt(args: string[], cwd?: string): Promise<number> {
  const r = await run("/bin/sh", ["-c", `cd "${cwd ?? "/"}" && apt-get "$@"`, "sh", ...args], {
    allowFail: true,
    timeoutMs: APT_TIMEOUT_MS,
    env: { DEBIAN_FRONTEND: "noninteractive" },
  });
  return r.code;
}

/** Unpacks Debian's cloud-init once and returns its dist-packages directory. */
export async function cloudInitPythonPath(): Promise<string> {
  const pkgs = path.join(UNPACKED, "root", "usr", "lib", "python3", "dist-packages");
  if (fs.existsSync(path.join(pkgs, "cloudinit", "cmd", "main.py"))) return pkgs;
  const missing = (
    await run("dpkg-query", ["-W", "-f", "${db:Status-Abbrev} ${Package}\\n", ...PYTHON_DEPS], { allowFail: true })
  ).stdout;
  const need = PYTHON_DEPS.filter((p) => !new RegExp(`^ii +${p}$`, "m").test(missing));
  if (need.length > 0 && (await apt(["install", "-y", "-qq", "--no-install-recommends", ...need])) !== 0) {
    await apt(["update", "-qq"]);
    if ((await apt(["install", "-y", "-qq", "--no-install-recommends", ...need])) !== 0)
      throw new Error(`cannot install ${need.join(" ")} with apt-get`);
  }
  fs.mkdirSync(path.dirname(UNPACKED), { recursive: true });
  const work = `${UNPACKED}.tmp-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  if ((await apt(["download", "cloud-init"], work)) !== 0) {
    await apt(["update", "-qq"]);
    if ((await apt(["download", "cloud-init"], work)) !== 0) throw new Error("apt-get download cloud-init failed");
  }
  const deb = fs.readdirSync(work).find((f) => f.startsWith("cloud-init_") && f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download cloud-init left no .deb in ${work}`);
  await run("dpkg", ["-x", path.join(work, deb), path.join(work, "root")]);
  fs.rmSync(UNPACKED, { recursive: true, force: true });
  fs.renameSync(work, UNPACKED);
  return pkgs;
}

export interface SchemaResult {
  readonly valid: boolean;
  /** cloud-init's own words. */
  readonly output: string;
}

/** Runs cloud-init's schema check on one #cloud-config document. */
export async function cloudInitSchema(userData: string): Promise<SchemaResult> {
  const pkgs = await cloudInitPythonPath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ci-schema-"));
  try {
    const file = path.join(dir, "user-data");
    fs.writeFileSync(file, userData, { mode: 0o600 });
    const r = await run("/usr/bin/python3", ["-m", "cloudinit.cmd.main", "schema", "--config-file", file], {
      allowFail: true,
      env: { PYTHONPATH: pkgs },
      timeoutMs: 60_000,
    });
    const output = `${r.stdout}${r.stderr}`.trim();
    return { valid: r.code === 0 && /Valid cloud-config/.test(output), output };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
