/**
 * The real cloud-init on one namespace-bed node, never on the host. Debian's `cloud-init` package
 * is downloaded and unpacked aside (apt-get download + dpkg -x, never installed: a cloud-init on
 * the host's PATH would make every node's `cloud-init status --wait` block forever), and a
 * wrapper that runs it is mounted on /usr/local/sbin inside that node's own mount namespace only.
 * The state it reports is cloud-init's own reading of the node's private /run.
 */
import * as fs from "fs";
import * as path from "path";
import { run, sh } from "../../local/run";

/** What cloud-init finds on the node: not run in this boot (the hang), or disabled by its generator. */
export type CloudInitState = "absent" | "not-run" | "disabled";

/** Outside /tmp, /run, /var/lib, /var/log and /root, which every node mounts privately: nodes must see it. */
const ASIDE_ROOT = "/var/cache/hcloud-swarm-tests/cloud-init-aside";
/** What `cloud-init status` imports, from Debian (cloud-init's own Depends, the Python part). */
const PYTHON_DEPS: ReadonlyArray<readonly [string, string]> = [
  ["yaml", "python3-yaml"], ["jinja2", "python3-jinja2"], ["configobj", "python3-configobj"], ["jsonschema", "python3-jsonschema"],
  ["netifaces", "python3-netifaces"], ["oauthlib", "python3-oauthlib"], ["requests", "python3-requests"], ["jsonpatch", "python3-jsonpatch"],
];
/** apt-get on a CI machine that has just been updated; generous because apt may wait for another apt's lock. */
const APT_TIMEOUT_MS = 600_000;
/** Debian's interpreter: cloud-init's modules are built for it, not for another python on the PATH. */
const PYTHON = "/usr/bin/python3";

async function missingPythonModules(): Promise<string[]> {
  const missing: string[] = [];
  for (const [mod, pkg] of PYTHON_DEPS) if ((await run(PYTHON, ["-c", `import ${mod}`], { allowFail: true })).code !== 0) missing.push(pkg);
  return missing;
}

/** Unpacks Debian's cloud-init once per machine (atomically, so two suites may ask at once); returns the unpacked root. */
export async function cloudInitAside(): Promise<string> {
  const missing = await missingPythonModules();
  if (missing.length > 0) await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env: { DEBIAN_FRONTEND: "noninteractive" }, timeoutMs: APT_TIMEOUT_MS });
  const version = (await run("apt-cache", ["policy", "cloud-init"])).stdout.match(/Candidate:\s*(\S+)/)?.[1];
  if (!version || version === "(none)") throw new Error("apt knows no cloud-init package; run apt-get update");
  const root = path.join(ASIDE_ROOT, version.replace(/[^A-Za-z0-9.+~-]/g, "_"));
  if (fs.existsSync(path.join(root, "usr/lib/python3/dist-packages/cloudinit"))) return root;
  fs.mkdirSync(ASIDE_ROOT, { recursive: true });
  const work = fs.mkdtempSync(path.join(ASIDE_ROOT, ".unpack-"));
  try {
    // apt-get download writes to the current directory, and warns (harmlessly) that _apt cannot read it.
    await sh('cd "$1" && apt-get download "cloud-init=$2"', [work, version], { timeoutMs: APT_TIMEOUT_MS });
    const deb = fs.readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download cloud-init left no .deb in ${work}`);
    await run("dpkg", ["-x", path.join(work, deb), path.join(work, "root")]);
    try {
      fs.renameSync(path.join(work, "root"), root);
    } catch (err) {
      if (!fs.existsSync(root)) throw err; // another suite won the race: its copy is the same package
    }
    return root;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Shell, run inside the node, that puts the wrapper on /usr/local/sbin (a tmpfs in the node's own
 * mount namespace) and sets cloud-init's boot markers in the node's private /run.
 */
export function cloudInitStateScript(aside: string, state: CloudInitState): string {
  const wrapper = `#!/bin/sh\nPYTHONPATH=${aside}/usr/lib/python3/dist-packages exec ${PYTHON} -m cloudinit.cmd.main "$@"\n`;
  const lines = ["set -e", "while mountpoint -q /usr/local/sbin; do umount /usr/local/sbin; done", "rm -rf /run/cloud-init /run/systemd/system"];
  if (state === "absent") return lines.join("\n");
  lines.push("mount -t tmpfs -o mode=755 tmpfs /usr/local/sbin", `cat > /usr/local/sbin/cloud-init <<'EOF'\n${wrapper}EOF`, "chmod 755 /usr/local/sbin/cloud-init");
  // cloud-init's generator marks a disabled boot in /run/cloud-init/disabled; it reads "systemd" from /run/systemd/system.
  if (state === "disabled") lines.push("mkdir -p /run/systemd/system /run/cloud-init", "touch /run/cloud-init/disabled");
  return lines.join("\n");
}
