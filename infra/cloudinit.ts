/**
 * cloud-init user data for one node. Pure.
 *
 * It depends on the cluster-wide settings and the node's own host key only, never on the node
 * count or on other nodes: Hetzner replaces a server whose userData changes. It carries the
 * private host key, so the caller must treat the result as a secret.
 */
import * as YAML from "yaml";
import { FIREWALL_SCRIPT_PATH, firewallScript } from "../hostfw/script";
import {
  DOCKER_DROPIN_PATH,
  dockerDropIn,
  firewallUnit,
  FIREWALL_UNIT_PATH,
  SSHD_DROPIN_PATH,
  sshdHardening,
} from "../hostfw/units";
import { SETUP_PATH, setupScript, setupSteps, SSHD_STEP_PATH, sshdStepScript } from "./cloudinit-setup";
import {
  DAEMON_JSON_DEFAULTS,
  MATCH_MODULES,
  modulesConf,
  MODULES_CONF_PATH,
  OPTIONAL_MODULES,
  REQUIRED_MODULES,
} from "../nodespec/spec";

/** Hetzner's limit on user data. */
export const MAX_USER_DATA_BYTES = 32 * 1024;
/** Fingerprint of Docker's apt release key (download.docker.com/linux/<distro>/gpg). */
export const DOCKER_APT_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
/** Docker CE packages carry epoch 5 in their Debian version: "5:28.5.1-1~ubuntu.24.04~noble". */
const DOCKER_EPOCH = "5";
/** Transient mirror or network trouble right after boot is common; retry downloads a few times. */
const CURL_RETRIES = 5;

// The kernel modules and daemon.json keys are the node spec's (nodespec/spec.ts), which bootstrap
// reconciles in place on live nodes: one list, re-exported here for the user data.
export { MATCH_MODULES, OPTIONAL_MODULES, REQUIRED_MODULES } from "../nodespec/spec";
/**
 * Docker releases with the fixes for CVE-2023-28840/28841/28842 (encrypted overlays that sent or
 * accepted clear text): 20.10.24 and later 20.10 releases (Debian 12's docker.io is 20.10.24), and
 * 23.0.3 or later (there were no 21 or 22 releases).
 */
export const DOCKER_FIXED_20_10_PATCH = 24;
export const DOCKER_FIXED_MIN = [23, 0, 3] as const;

/** True when "major.minor.patch[anything]" is a Docker release with the CVE-2023-28840/1/2 fixes. */
export function dockerHasCveFixes(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (a === 20 && b === 10) return c >= DOCKER_FIXED_20_10_PATCH;
  const [x, y, z] = DOCKER_FIXED_MIN;
  return a !== x ? a > x : b !== y ? b > y : c >= z;
}

export interface UserDataInput {
  readonly distro: "ubuntu" | "debian";
  /** Docker CE release, "28.5.1". */
  readonly dockerVersion: string;
  /** The node's SSH host key, installed as /etc/ssh/ssh_host_ed25519_key so bootstrap can pin it. */
  readonly hostKey: { readonly privateKey: string; readonly publicKey: string };
  /** Extra authorized keys for root (humans). */
  readonly adminSshKeys: readonly string[];
  /** Docker is already on the image (e.g. a Packer snapshot): check its version instead of installing Docker CE; dockerVersion is then unused. Default false. */
  readonly dockerOnImage?: boolean;
}

function installDockerScript(distro: string, version: string): string {
  const repo = `https://download.docker.com/linux/${distro}`;
  return [
    "#!/bin/sh",
    "# Docker CE from Docker's apt repository, pinned (get.docker.com is not meant for production).",
    "set -eu",
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update -q",
    "apt-get install -y -q ca-certificates curl gnupg",
    "install -m 0755 -d /etc/apt/keyrings",
    `curl -fsSL --retry ${CURL_RETRIES} --retry-connrefused ${repo}/gpg -o /etc/apt/keyrings/docker.asc`,
    "# Refuse any key but Docker's release key.",
    `gpg --show-keys --with-colons /etc/apt/keyrings/docker.asc | grep -q '^fpr:*${DOCKER_APT_KEY_FINGERPRINT}:'`,
    "chmod a+r /etc/apt/keyrings/docker.asc",
    ". /etc/os-release",
    `echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] ${repo} $VERSION_CODENAME stable" > /etc/apt/sources.list.d/docker.list`,
    "apt-get update -q",
    "apt-get install -y -q docker-ce docker-ce-cli containerd.io",
    "# Unattended upgrades must not restart dockerd under a running swarm.",
    "apt-mark hold docker-ce docker-ce-cli containerd.io",
    "systemctl enable --now docker",
    `test "$(docker version --format '{{.Server.Version}}')" = "${version}"`,
    "",
  ].join("\n");
}

/**
 * For images that carry Docker: start it, then refuse an engine without the CVE-2023-28840/1/2
 * fixes (the same rule as dockerHasCveFixes), so cloud-init ends in error instead of a swarm that
 * may send clear text.
 */
function checkDockerScript(): string {
  const [x, y, z] = DOCKER_FIXED_MIN;
  return [
    "#!/bin/sh",
    "# Docker is on the image (hcloud-swarm:dockerOnImage): check the engine instead of installing Docker CE.",
    "set -eu",
    `command -v docker >/dev/null || { echo "hcloud-swarm: dockerOnImage is set but the image has no docker command" >&2; exit 1; }`,
    "systemctl enable --now docker",
    "v=$(docker version --format '{{.Server.Version}}')",
    `IFS=.- read -r a b c rest <<EOF`,
    "$v",
    "EOF",
    `c=\${c%%[!0-9]*}`,
    `for n in "$a" "$b" "$c"; do case "$n" in ''|*[!0-9]*) echo "hcloud-swarm: cannot read the Docker Engine version '$v'" >&2; exit 1;; esac; done`,
    `if [ "$a" -eq 20 ] && [ "$b" -eq 10 ]; then ok=$((c >= ${DOCKER_FIXED_20_10_PATCH}))`,
    `elif [ "$a" -ne ${x} ]; then ok=$((a > ${x}))`,
    `elif [ "$b" -ne ${y} ]; then ok=$((b > ${y}))`,
    `else ok=$((c >= ${z})); fi`,
    `[ "$ok" -eq 1 ] || { echo "hcloud-swarm: Docker Engine $v on the image lacks the fixes for CVE-2023-28840/28841/28842 (needs 20.10.${DOCKER_FIXED_20_10_PATCH}+ or ${x}.${y}.${z}+)" >&2; exit 1; }`,
    `echo "hcloud-swarm: Docker Engine $v from the image"`,
    "",
  ].join("\n");
}

function modulesScript(): string {
  return [
    "#!/bin/sh",
    "set -u",
    "rc=0",
    `for m in ${REQUIRED_MODULES.join(" ")}; do modprobe "$m" || { echo "hcloud-swarm: required kernel module $m is missing" >&2; rc=1; }; done`,
    `match=""; for m in ${MATCH_MODULES.join(" ")}; do modprobe "$m" 2>/dev/null && match="$match $m"; done`,
    `[ -n "$match" ] || { echo "hcloud-swarm: neither ${MATCH_MODULES.join(" nor ")} loads: Docker cannot install the rules that force encryption (CVE-2023-28840)" >&2; rc=1; }`,
    `for m in ${OPTIONAL_MODULES.join(" ")}; do modprobe "$m" 2>/dev/null || echo "hcloud-swarm: kernel module $m not loaded" >&2; done`,
    "sysctl --system >/dev/null",
    "exit $rc",
    "",
  ].join("\n");
}

/** The Docker step of runcmd: installs Docker CE, or (dockerOnImage) checks the engine the image has. */
const INSTALL_DOCKER = "/usr/local/sbin/hcloud-swarm-install-docker";
const CHECK_DOCKER = "/usr/local/sbin/hcloud-swarm-check-docker";

/** Renders "#cloud-config" YAML for one node. */
export function renderUserData(input: UserDataInput): string {
  const doc = {
    // Use only the program's host key, so the key bootstrap pins is the one sshd presents. With
    // ssh_keys given, cloud-init generates none; should a release generate anyway, only ed25519,
    // which exists already. (An empty list fails cloud-init's schema: "[] is too short".)
    ssh_deletekeys: true,
    ssh_genkeytypes: ["ed25519"],
    ssh_keys: { ed25519_private: input.hostKey.privateKey, ed25519_public: input.hostKey.publicKey },
    disable_root: false,
    // No password login of any kind (sshd is also hardened by its own drop-in below).
    ssh_pwauth: false,
    write_files: [
      {
        path: MODULES_CONF_PATH,
        content: modulesConf(),
      },
      {
        path: "/etc/sysctl.d/90-hcloud-swarm.conf",
        content: [
          "net.ipv4.ip_forward = 1",
          "net.bridge.bridge-nf-call-iptables = 1",
          "net.bridge.bridge-nf-call-ip6tables = 1",
          "",
        ].join("\n"),
      },
      ...(input.dockerOnImage
        ? []
        : [
            {
              path: "/etc/apt/preferences.d/docker-ce",
              content: `Package: docker-ce docker-ce-cli\nPin: version ${DOCKER_EPOCH}:${input.dockerVersion}-*\nPin-Priority: 1001\n`,
            },
          ]),
      {
        // No live-restore: swarm mode refuses it. Bounded logs so a chatty task cannot fill the disk.
        path: "/etc/docker/daemon.json",
        content: JSON.stringify(DAEMON_JSON_DEFAULTS, null, 2) + "\n",
      },
      { path: "/usr/local/sbin/hcloud-swarm-modules", permissions: "0755", content: modulesScript() },
      input.dockerOnImage
        ? { path: CHECK_DOCKER, permissions: "0755", content: checkDockerScript() }
        : {
            path: INSTALL_DOCKER,
            permissions: "0755",
            content: installDockerScript(input.distro, input.dockerVersion),
          },
      // The host firewall (hostfw/): the same script bootstrap runs, a unit that restores it at every
      // boot, and a drop-in without which docker.service does not start (written before Docker exists).
      { path: FIREWALL_SCRIPT_PATH, permissions: "0755", content: firewallScript() },
      { path: FIREWALL_UNIT_PATH, content: firewallUnit() },
      { path: DOCKER_DROPIN_PATH, content: dockerDropIn() },
      { path: SSHD_DROPIN_PATH, content: sshdHardening() },
      { path: SSHD_STEP_PATH, permissions: "0755", content: sshdStepScript() },
      {
        path: SETUP_PATH,
        permissions: "0755",
        content: setupScript(setupSteps(input.dockerOnImage ? CHECK_DOCKER : INSTALL_DOCKER)),
      },
      ...(input.adminSshKeys.length > 0
        ? [
            {
              path: "/root/.ssh/authorized_keys",
              permissions: "0600",
              append: true,
              defer: true,
              content: input.adminSshKeys.join("\n") + "\n",
            },
          ]
        : []),
    ],
    // One command: runcmd is a plain sh script where only the last status counted. The setup program
    // stops at the first failed step (firewall first), so cloud-init ends in `error` and bootstrap
    // refuses the node, quoting the step.
    runcmd: [[SETUP_PATH]],
  };
  // cloud-init parses YAML 1.1 (PyYAML): writing 1.1 quotes every string that 1.1 would read as
  // something else (yes/no/on/off, 1:20 as base 60, 0755 as octal).
  return "#cloud-config\n" + YAML.stringify(doc, { lineWidth: 0, version: "1.1" });
}
