// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Bootstrap's check-and-repair of one node's host firewall, as ONE remote program (one round trip
 * per node, so it composes with a run that sends every member its command in one parallel wave):
 *   1. with systemd: installs or updates the firewall script, its unit and the docker.service
 *      drop-in (only files whose text differs), and enables the unit. Without systemd (the
 *      namespace bed, containers) nothing is installed and it says so: the rules then last until
 *      reboot, and verify reports the boot order as unprovable;
 *   2. hardens sshd where `sshd -T` shows it is not (a drop-in, validated with `sshd -t`, then reload);
 *   3. runs the firewall script, which rebuilds every rule from scratch and moves the jumps to rule 1,
 *      whatever the node's label says, and prints the list it enforces and what it had to change,
 *      read from the node's live rules.
 * Idempotent: a node in step gets nothing rewritten but its chains (one atomic restore each).
 * Every member runs it on every bootstrap run, so each process it starts is paid N times: it does
 * not print verify's full probe (./probe.ts), which bootstrap never read (issue 24).
 */
import { FIREWALL_SCRIPT_PATH, FIREWALL_UNIT, firewallScript } from "./script";
import {
  DOCKER_DROPIN_PATH,
  dockerDropIn,
  firewallUnit,
  FIREWALL_UNIT_PATH,
  SSHD_DROPIN_PATH,
  SSHD_HARDENED,
  SSHD_RELOAD,
  sshdHardening,
} from "./units";

/** Lines the program prints for each thing it installed or could not; bootstrap turns them into actions and warnings. */
export const INSTALLED = "installed:";
export const NOT_INSTALLED = "not-installed:";

/** Heredoc bodies end at a line nothing we generate contains. */
const EOF_MARK = "HCLOUD_SWARM_EOF_7c1e";

function heredoc(file: string, text: string): string {
  if (text.split("\n").includes(EOF_MARK))
    throw new Error(`generated text for ${file} contains the heredoc end marker`);
  return `cat > "${file}" <<'${EOF_MARK}'\n${text.endsWith("\n") ? text : text + "\n"}${EOF_MARK}`;
}

/** The program (sent on stdin to `sh -s -- MODE OPTIONS… ADDRESS…`); its arguments go to the firewall script. */
export function checkAndRepairProgram(): string {
  const hardened = Object.entries(SSHD_HARDENED)
    .map(([k, ok]) => `$1 == "${k}" && $2 !~ /^(${ok.join("|")})$/ { bad = 1 }`)
    .join(" ");
  return `set -u
d=$(mktemp -d /tmp/hcloud-swarm-fw.XXXXXX)
trap 'rm -rf "$d"' EXIT
${heredoc("$d/fw", firewallScript())}
${heredoc("$d/unit", firewallUnit())}
${heredoc("$d/dropin", dockerDropIn())}
${heredoc("$d/sshd", sshdHardening())}
put() { cmp -s "$2" "$1" && return 0; install -D -m "$3" "$2" "$1" && echo "${INSTALLED} $1" && changed=1; }
if [ -d /run/systemd/system ]; then
  changed=0
  put ${FIREWALL_SCRIPT_PATH} "$d/fw" 0755 && put ${FIREWALL_UNIT_PATH} "$d/unit" 0644 && put ${DOCKER_DROPIN_PATH} "$d/dropin" 0644 || { echo "${NOT_INSTALLED} the firewall files could not be written" ; exit 5; }
  [ $changed = 0 ] || systemctl daemon-reload
  systemctl is-enabled -q ${FIREWALL_UNIT} 2>/dev/null || { systemctl enable -q ${FIREWALL_UNIT} && echo "${INSTALLED} enabled ${FIREWALL_UNIT}"; }
  # start, never restart: docker.service Requires= the unit, and a restart would restart dockerd.
  systemctl is-active -q ${FIREWALL_UNIT} || { systemctl start ${FIREWALL_UNIT} && echo "${INSTALLED} started ${FIREWALL_UNIT}"; }
else
  echo "${NOT_INSTALLED} no systemd on this host: nothing restores the rules at reboot (re-run bootstrap after one)"
fi
PATH=$PATH:/usr/sbin
if command -v sshd >/dev/null 2>&1 && ! sshd -T 2>/dev/null | awk '${hardened} END { exit bad }'; then
  if [ -d /run/systemd/system ] && [ -d /etc/ssh/sshd_config.d ] && grep -qiE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config.d/' /etc/ssh/sshd_config; then
    install -m 0644 "$d/sshd" ${SSHD_DROPIN_PATH}
    if sshd -t && { ${SSHD_RELOAD}; }; then echo "${INSTALLED} ${SSHD_DROPIN_PATH} (sshd reloaded)"; else rm -f ${SSHD_DROPIN_PATH}; echo "${NOT_INSTALLED} sshd refused the hardening drop-in; its settings are unchanged"; fi
  else
    echo "${NOT_INSTALLED} sshd allows passwords or root password login, and this host has no systemd-managed sshd reading /etc/ssh/sshd_config.d: set PermitRootLogin prohibit-password and PasswordAuthentication no yourself"
  fi
fi
sh "$d/fw" "$@"
exit $?
`;
}
