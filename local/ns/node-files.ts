/**
 * The files that make a node a node: hostname, hosts, resolv.conf, sshd config with the node's own
 * ed25519 host key, and dockerd's daemon.json. They live in DIR/nodes/<name>/etc and are bind-mounted
 * over the matching paths of /etc inside the node's mount namespace, so the host's /etc is untouched.
 */
import * as fs from "fs";
import * as path from "path";
import { BedNames } from "./plan";
import { run } from "../common/host-command";

export interface NodeRecord {
  readonly name: string;
  readonly role: "manager" | "worker";
  readonly octet: number;
  readonly ip: string;
  readonly netns: string;
  readonly veth: string;
}

export interface NodePaths {
  readonly root: string;
  readonly etc: string;
  readonly ssh: string;
  readonly docker: string;
  readonly hostKey: string;
  readonly dockerLog: string;
  readonly sshdLog: string;
  /** Files pinning the node's mount and UTS namespaces, so they outlive every process of the node. */
  readonly nsMnt: string;
  readonly nsUts: string;
}

export function nodePaths(dir: string, name: string): NodePaths {
  const root = path.join(dir, "nodes", name);
  const etc = path.join(root, "etc");
  return {
    root,
    etc,
    ssh: path.join(etc, "ssh"),
    docker: path.join(etc, "docker"),
    hostKey: path.join(etc, "ssh", "ssh_host_ed25519_key"),
    dockerLog: path.join(root, "dockerd.log"),
    sshdLog: path.join(root, "sshd.log"),
    nsMnt: path.join(dir, "ns", `${name}.mnt`),
    nsUts: path.join(dir, "ns", `${name}.uts`),
  };
}

/** Key-only root login on the node's address; nothing else is offered, so pinning is tested for real. */
export function sshdConfig(ip: string): string {
  const sftp = "/usr/lib/openssh/sftp-server";
  return [
    `ListenAddress ${ip}`,
    "Port 22",
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "AuthorizedKeysFile /etc/ssh/authorized_keys",
    "PidFile /run/sshd.pid",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    // Bootstrap opens many sessions at once against a few nodes; the default 10:30:100 drops some.
    "MaxStartups 200:30:400",
    "MaxSessions 100",
    ...(fs.existsSync(sftp) ? [`Subsystem sftp ${sftp}`] : []),
    "",
  ].join("\n");
}

/**
 * dockerd with default paths (its /run, /var/lib/docker and /etc/docker are the node's own), a
 * cgroup parent under the node's cgroup so teardown finds every container, and quiet logs.
 */
export function daemonJson(cgroupParent: string): string {
  return (
    JSON.stringify(
      {
        "cgroup-parent": cgroupParent,
        "storage-driver": "overlay2",
        "log-level": "warn",
        "log-driver": "json-file",
        "log-opts": { "max-size": "1m", "max-file": "2" },
        "userland-proxy": false,
        // Containers of the bed's image die on their stop signal; anything else gets little grace.
        "shutdown-timeout": 5,
      },
      null,
      2,
    ) + "\n"
  );
}

/** Writes the node's /etc files and generates its host key; returns the host public key ("ssh-ed25519 AAAA…"). */
export async function writeNodeFiles(
  b: BedNames,
  node: NodeRecord,
  p: NodePaths,
  authorizedKey: string,
): Promise<string> {
  fs.mkdirSync(p.ssh, { recursive: true, mode: 0o755 });
  fs.mkdirSync(p.docker, { recursive: true, mode: 0o755 });
  fs.chmodSync(p.ssh, 0o755);
  fs.writeFileSync(path.join(p.etc, "hostname"), `${node.name}\n`);
  fs.writeFileSync(
    path.join(p.etc, "hosts"),
    `127.0.0.1\tlocalhost\n${node.ip}\t${node.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  fs.writeFileSync(
    path.join(p.etc, "resolv.conf"),
    `# Dead on purpose: the bed has no DNS, so lookups fail at once instead of hanging.\nnameserver ${b.deadResolver}\noptions timeout:1 attempts:1\n`,
  );
  fs.writeFileSync(path.join(p.ssh, "sshd_config"), sshdConfig(node.ip));
  fs.writeFileSync(path.join(p.ssh, "authorized_keys"), authorizedKey.trim() + "\n", { mode: 0o644 });
  fs.writeFileSync(path.join(p.docker, "daemon.json"), daemonJson(`/${b.cgroup}/${node.name}`));
  fs.rmSync(p.hostKey, { force: true });
  fs.rmSync(`${p.hostKey}.pub`, { force: true });
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${node.name}`, "-f", p.hostKey]);
  return fs.readFileSync(`${p.hostKey}.pub`, "utf8").trim();
}
