// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The files that make the firewall a precondition of the node, not a hope: the systemd unit that
 * restores the rules at every boot, a docker.service drop-in that refuses to start dockerd without
 * it, and sshd's hardening. cloud-init writes them at first boot (infra/cloudinit.ts); bootstrap
 * writes the same text on hosts cloud-init did not prepare (./install.ts). Pure.
 */
import { FIREWALL_SCRIPT_PATH, FIREWALL_UNIT } from "./script";

/** Without the firewall unit active, systemd does not start dockerd (Requires= + After=). */
export const DOCKER_DROPIN_PATH = "/etc/systemd/system/docker.service.d/10-hcloud-swarm-firewall.conf";
export const FIREWALL_UNIT_PATH = `/etc/systemd/system/${FIREWALL_UNIT}`;
/** sshd reads sshd_config.d/*.conf first (Debian 12, Ubuntu 22.04+), and the first value of a keyword wins. */
export const SSHD_DROPIN_PATH = "/etc/ssh/sshd_config.d/10-hcloud-swarm.conf";

/** `sshd -T` keywords and the values a hardened node shows (root by key only, no passwords of any kind). */
export const SSHD_HARDENED: Readonly<Record<string, readonly string[]>> = {
  permitrootlogin: ["prohibit-password", "without-password", "no"],
  passwordauthentication: ["no"],
  kbdinteractiveauthentication: ["no"],
  permitemptypasswords: ["no"],
};

/** The systemd unit that restores the rules at every boot, before the network and before dockerd. */
export function firewallUnit(): string {
  return `[Unit]
Description=hcloud-swarm host firewall (swarm ports from cluster nodes only, no metadata for containers)
DefaultDependencies=no
Wants=network-pre.target
After=local-fs.target
Before=network-pre.target docker.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${FIREWALL_SCRIPT_PATH} restore

[Install]
WantedBy=multi-user.target
`;
}

/**
 * dockerd opens 2377 and 7946 as soon as it runs: it must never run without the rules. Note that
 * Requires= also stops (and restarts) docker when the unit is stopped (restarted) by hand; bootstrap
 * therefore runs the script, never `systemctl restart` on the unit.
 */
export function dockerDropIn(): string {
  return `# hcloud-swarm: dockerd never runs without the host firewall (hostfw/units.ts).
[Unit]
Requires=${FIREWALL_UNIT}
After=${FIREWALL_UNIT}
`;
}

/**
 * Makes a running sshd read the drop-in. try-reload-or-restart does nothing to a unit that is not
 * running: on Ubuntu 24.04 ssh.service is socket-activated and stays inactive until the first
 * connection (a plain `reload` fails there, which would end every fresh node's setup in error), and
 * it starts with the new settings anyway. Debian names the unit ssh.service, others sshd.service.
 */
export const SSHD_RELOAD =
  "systemctl try-reload-or-restart ssh.service 2>/dev/null || systemctl try-reload-or-restart sshd.service";

export function sshdHardening(): string {
  return `# hcloud-swarm: root by key only, no passwords (hostfw/units.ts).
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
`;
}
