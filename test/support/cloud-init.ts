/**
 * The real cloud-init on one namespace-bed node, never on the host. Debian's `cloud-init` package
 * is unpacked aside (./cloud-init-schema.ts: apt-get download + dpkg -x, never installed: a
 * cloud-init on the host's PATH would make every node's `cloud-init status --wait` block forever),
 * and a wrapper that runs it is mounted on /usr/local/sbin inside that node's own mount namespace
 * only. The state it reports is cloud-init's own reading of the node's private /run.
 */
import { cloudInitPythonPath } from "./cloud-init-schema";

/** What cloud-init finds on the node: not run in this boot (the hang), or disabled by its generator. */
export type CloudInitState = "absent" | "not-run" | "disabled";

/** Debian's interpreter: cloud-init's modules are built for it, not for another python on the PATH. */
const PYTHON = "/usr/bin/python3";

/**
 * Shell, run inside the node, that puts the wrapper on /usr/local/sbin (a tmpfs in the node's own
 * mount namespace) and sets cloud-init's boot markers in the node's private /run.
 */
export async function cloudInitStateScript(state: CloudInitState): Promise<string> {
  const lines = [
    "set -e",
    "while mountpoint -q /usr/local/sbin; do umount /usr/local/sbin; done",
    "rm -rf /run/cloud-init /run/systemd/system",
  ];
  if (state === "absent") return lines.join("\n");
  const wrapper = `#!/bin/sh\nPYTHONPATH=${await cloudInitPythonPath()} exec ${PYTHON} -m cloudinit.cmd.main "$@"\n`;
  lines.push(
    "mount -t tmpfs -o mode=755 tmpfs /usr/local/sbin",
    `cat > /usr/local/sbin/cloud-init <<'EOF'\n${wrapper}EOF`,
    "chmod 755 /usr/local/sbin/cloud-init",
  );
  // cloud-init's generator marks a disabled boot in /run/cloud-init/disabled; it reads "systemd" from /run/systemd/system.
  if (state === "disabled")
    lines.push("mkdir -p /run/systemd/system /run/cloud-init", "touch /run/cloud-init/disabled");
  return lines.join("\n");
}
