/**
 * cloud-init user data for one node. Pure.
 *
 * It depends on the cluster-wide settings and the node's own host key only, never on the node
 * count or on other nodes: Hetzner replaces a server whose userData changes. It carries the
 * private host key, so the caller must treat the result as a secret.
 */
import * as YAML from "yaml";

/** Hetzner's limit on user data. */
export const MAX_USER_DATA_BYTES = 32 * 1024;
/** Fingerprint of Docker's apt release key (download.docker.com/linux/<distro>/gpg). */
export const DOCKER_APT_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
/** Docker CE packages carry epoch 5 in their Debian version: "5:28.5.1-1~ubuntu.24.04~noble". */
const DOCKER_EPOCH = "5";
/** Transient mirror or network trouble right after boot is common; retry downloads a few times. */
const CURL_RETRIES = 5;

/**
 * Kernel modules swarm needs. The first four are required: without a packet-match module the rules
 * that force encryption silently go missing (CVE-2023-28840), and without esp4/xt_policy IPsec
 * overlays cannot work. The rest (IPVS for the routing mesh, VXLAN) are loaded if present.
 */
export const REQUIRED_MODULES = ["esp4", "xt_policy", "xt_u32", "xt_bpf"];
export const OPTIONAL_MODULES = ["overlay", "br_netfilter", "vxlan", "xfrm_user", "esp6", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];

export interface UserDataInput {
  readonly distro: "ubuntu" | "debian";
  /** Docker CE release, "28.5.1". */
  readonly dockerVersion: string;
  /** The node's SSH host key, installed as /etc/ssh/ssh_host_ed25519_key so bootstrap can pin it. */
  readonly hostKey: { readonly privateKey: string; readonly publicKey: string };
  /** Extra authorized keys for root (humans). */
  readonly adminSshKeys: readonly string[];
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

function modulesScript(): string {
  return [
    "#!/bin/sh",
    "set -u",
    "rc=0",
    `for m in ${REQUIRED_MODULES.join(" ")}; do modprobe "$m" || { echo "hcloud-swarm: required kernel module $m is missing" >&2; rc=1; }; done`,
    `for m in ${OPTIONAL_MODULES.join(" ")}; do modprobe "$m" 2>/dev/null || echo "hcloud-swarm: kernel module $m not loaded" >&2; done`,
    "sysctl --system >/dev/null",
    "exit $rc",
    "",
  ].join("\n");
}

/** Renders "#cloud-config" YAML for one node. */
export function renderUserData(input: UserDataInput): string {
  const doc = {
    // Use only the program's host key, so the key bootstrap pins is the one sshd presents.
    ssh_deletekeys: true,
    ssh_genkeytypes: [] as string[],
    ssh_keys: { ed25519_private: input.hostKey.privateKey, ed25519_public: input.hostKey.publicKey },
    disable_root: false,
    write_files: [
      {
        path: "/etc/modules-load.d/hcloud-swarm.conf",
        content: [...REQUIRED_MODULES, ...OPTIONAL_MODULES].join("\n") + "\n",
      },
      {
        path: "/etc/sysctl.d/90-hcloud-swarm.conf",
        content: ["net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1", ""].join("\n"),
      },
      {
        path: "/etc/apt/preferences.d/docker-ce",
        content: `Package: docker-ce docker-ce-cli\nPin: version ${DOCKER_EPOCH}:${input.dockerVersion}-*\nPin-Priority: 1001\n`,
      },
      {
        // No live-restore: swarm mode refuses it. Bounded logs so a chatty task cannot fill the disk.
        path: "/etc/docker/daemon.json",
        content: JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" } }, null, 2) + "\n",
      },
      { path: "/usr/local/sbin/hcloud-swarm-modules", permissions: "0755", content: modulesScript() },
      { path: "/usr/local/sbin/hcloud-swarm-install-docker", permissions: "0755", content: installDockerScript(input.distro, input.dockerVersion) },
      ...(input.adminSshKeys.length > 0
        ? [{ path: "/root/.ssh/authorized_keys", permissions: "0600", append: true, defer: true, content: input.adminSshKeys.join("\n") + "\n" }]
        : []),
    ],
    // Failing commands mark cloud-init as errored, which bootstrap's `cloud-init status --wait` reports.
    runcmd: [["/usr/local/sbin/hcloud-swarm-modules"], ["/usr/local/sbin/hcloud-swarm-install-docker"]],
  };
  return "#cloud-config\n" + YAML.stringify(doc, { lineWidth: 0 });
}
