// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * What a node really enforces, read from the node itself (never from a label), and judged against
 * what it must enforce. PROBE_SCRIPT only reads; verify runs it on every node. (Bootstrap's
 * check-and-repair no longer prints it: bootstrap never read it, and every member paid for it on
 * every run.) Pure apart from the script text.
 */
import { chainRules, DOCKER_USER_CHAIN, Family, FORWARD_CHAIN, HOST_CHAIN, allowList, familyOf } from "./rules";
import { FIREWALL_PRIVATE_FILE, FIREWALL_STATE_FILE, FIREWALL_UNIT, SHELL_VALIDATORS } from "./script";
import { DOCKER_DROPIN_PATH, dockerDropIn, SSHD_HARDENED } from "./units";

/** Where cloud-init's setup wrapper records the step that failed (infra/cloudinit-setup.ts). */
export const SETUP_FAILED_STEP_FILE = "/var/lib/hcloud-swarm/setup-failed-step";
const MARK = "== hcloud-swarm-probe ";

/** Sections of the probe's output, each the raw output of one read. */
export const PROBE_SCRIPT = [
  `sec() { echo "${MARK}$1"; }`,
  SHELL_VALIDATORS,
  "for f in 4 6; do",
  `  if [ $f = 4 ]; then t=iptables; else t=ip6tables; [ -e /proc/net/if_inet6 ] && command -v ip6tables >/dev/null 2>&1 || { sec v6-absent; continue; }; fi`,
  `  sec v$f-input; $t -w 10 -S INPUT 2>&1`,
  `  sec v$f-chain; $t -w 10 -S ${HOST_CHAIN} 2>&1`,
  `  sec v$f-docker-user; $t -w 10 -S ${DOCKER_USER_CHAIN} 2>&1`,
  `  sec v$f-fwd; $t -w 10 -S ${FORWARD_CHAIN} 2>&1`,
  `  sec v$f-forward; $t -w 10 -S FORWARD 2>&1 | head -n 1`,
  "done",
  `sec state; if [ -f ${FIREWALL_STATE_FILE} ]; then for a in $(cat ${FIREWALL_STATE_FILE}); do if valid "$a"; then echo "ok $a"; else echo "bad $a"; fi; done; else echo missing; fi`,
  `sec private; cat ${FIREWALL_PRIVATE_FILE} 2>/dev/null || true`,
  `sec systemd; if [ -d /run/systemd/system ]; then echo yes; else echo no; fi`,
  `if [ -d /run/systemd/system ]; then sec unit; systemctl is-enabled ${FIREWALL_UNIT} 2>&1; systemctl is-active ${FIREWALL_UNIT} 2>&1`,
  `  sec dropin; cat ${DOCKER_DROPIN_PATH} 2>/dev/null || true`,
  `  sec docker-requires; systemctl show docker.service -p Requires --value 2>&1; fi`,
  `sec sshd; if command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; then PATH=$PATH:/usr/sbin sshd -T 2>&1 | grep -E '^(${Object.keys(SSHD_HARDENED).join("|")}) ' || echo "sshd -T failed"; else echo "no sshd"; fi`,
  `sec cloud-init; if command -v cloud-init >/dev/null 2>&1; then cloud-init status 2>&1; else echo absent; fi`,
  `sec failed-step; cat ${SETUP_FAILED_STEP_FILE} 2>/dev/null || true`,
  "true",
].join("\n");

export type ProbeSections = ReadonlyMap<string, readonly string[]>;

export function parseProbe(stdout: string): ProbeSections {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(MARK)) out.set(line.slice(MARK.length).trim(), (cur = []));
    else if (cur && line.trim() !== "") cur.push(line.trimEnd());
  }
  return out;
}

export interface HostExpectation {
  /** The members' addresses (both families): exactly these are allow-listed. */
  readonly members: readonly string[];
  /** The node has a private address: its interface must admit members only. */
  readonly privateAddress?: string;
}

export interface HostCheck {
  readonly status: "pass" | "fail" | "unprovable";
  readonly what: string;
  readonly detail: string;
}

/**
 * Rules that may sit above the jump, as the script keeps it: a DROP cannot admit what the jump would
 * stop, and Docker's ACCEPT of VXLAN that arrived through IPsec admits only a peer holding the keys.
 */
export function harmlessAboveJump(l: string): boolean {
  return / -j DROP$/.test(l) || (/ --pol ipsec /.test(l) && / --dport 4789 /.test(l) && / -j ACCEPT$/.test(l));
}

/** The jump is first, or below rules that cannot admit what it would stop. */
export function jumpFirst(lines: readonly string[], chain: string, target: string): boolean {
  for (const l of lines.slice(1)) {
    if (l === `-A ${chain} -j ${target}`) return true;
    if (!harmlessAboveJump(l)) return false;
  }
  return false;
}

const REBOOTSTRAP = "re-run bootstrap (hcloud-swarm bootstrap, or pulumi up) to restore it";

function familyChecks(p: ProbeSections, f: Family, want: HostExpectation, iface: string | undefined): HostCheck[] {
  const v = `IPv${f}`;
  const sec = (n: string) => p.get(`v${f}-${n}`) ?? [];
  if (p.has("v6-absent") && f === 6)
    return [
      {
        status: "unprovable",
        what: `${v} firewall`,
        detail: "the node has no IPv6 stack or no ip6tables: nothing to show",
      },
    ];
  const out: HostCheck[] = [];
  const chain = sec("chain");
  const input = sec("input");
  const above = input.slice(1, Math.max(1, input.indexOf(`-A INPUT -j ${HOST_CHAIN}`)));
  if (!chain.includes(`-N ${HOST_CHAIN}`))
    out.push({
      status: "fail",
      what: `${v} chain`,
      detail: `no ${HOST_CHAIN} chain: every swarm port is open to whoever reaches the node; ${REBOOTSTRAP}`,
    });
  else if (jumpFirst(input, "INPUT", HOST_CHAIN))
    out.push({
      status: "pass",
      what: `${v} jump`,
      detail: `INPUT jumps to ${HOST_CHAIN} before any rule that could accept (${above.length ? `below ${above.length} of Docker's DROP or IPsec VXLAN rule${above.length === 1 ? "" : "s"}` : "rule 1"})`,
    });
  else
    out.push({
      status: "fail",
      what: `${v} jump`,
      detail: `${input.includes(`-A INPUT -j ${HOST_CHAIN}`) ? `a rule that may accept sits above the jump to ${HOST_CHAIN} (${JSON.stringify(above.find((l) => !harmlessAboveJump(l)))})` : `INPUT has no jump to ${HOST_CHAIN}`}: every swarm port is open to whoever reaches the node; ${REBOOTSTRAP}`,
    });
  if (chain.includes(`-N ${HOST_CHAIN}`)) {
    const live = chain.flatMap((l) => /^-A \S+ -s (\S+)\/(32|128) -j RETURN$/.exec(l)?.[1] ?? []).sort();
    const expected = allowList(want.members).addresses.filter((a) => familyOf(a) === f);
    const extra = live.filter((a) => !expected.includes(a));
    const missing = expected.filter((a) => !live.includes(a));
    out.push(
      extra.length + missing.length === 0
        ? {
            status: "pass",
            what: `${v} allow-list`,
            detail: `exactly the ${expected.length} member address${expected.length === 1 ? "" : "es"}`,
          }
        : {
            status: "fail",
            what: `${v} allow-list`,
            detail: `${extra.length ? `admits non-members ${extra.join(" ")}` : ""}${extra.length && missing.length ? "; " : ""}${missing.length ? `refuses members ${missing.join(" ")}` : ""}; ${REBOOTSTRAP}`,
          },
    );
    const rules = chainRules(f, want.members, { iface, open: [] });
    const drops = rules.input.filter((r) => / -j DROP$/.test(r) && !r.includes(" -i "));
    const lost = drops.filter((r) => !chain.includes(r));
    out.push(
      lost.length === 0
        ? {
            status: "pass",
            what: `${v} swarm ports`,
            detail: "2377/tcp, 7946/tcp+udp, 4789/udp and ESP dropped for everyone else",
          }
        : { status: "fail", what: `${v} swarm ports`, detail: `missing: ${lost.join(", ")}; ${REBOOTSTRAP}` },
    );
  }
  const du = sec("docker-user");
  const fwd = sec("fwd");
  const wantFwd = chainRules(f, want.members, { iface, open: [] }).forward.filter(
    (r) => / -j DROP$/.test(r) && !r.includes(" -i "),
  );
  const fwdLost = fwd.includes(`-N ${FORWARD_CHAIN}`) ? wantFwd.filter((r) => !fwd.includes(r)) : wantFwd;
  const metaFirst = f === 6 || fwd[1] === wantFwd[0];
  out.push(
    jumpFirst(du, DOCKER_USER_CHAIN, FORWARD_CHAIN) && fwdLost.length === 0 && metaFirst
      ? {
          status: "pass",
          what: `${v} container rules`,
          detail: `${DOCKER_USER_CHAIN} jumps first to ${FORWARD_CHAIN}: containers reach no swarm port, no ESP${f === 4 ? ", no metadata service (first rule)" : ""}`,
        }
      : {
          status: "fail",
          what: `${v} container rules`,
          detail: `${jumpFirst(du, DOCKER_USER_CHAIN, FORWARD_CHAIN) ? "" : `${DOCKER_USER_CHAIN} does not jump to ${FORWARD_CHAIN} before every rule that could accept (rule 1 is ${JSON.stringify(du[1] ?? "missing")}); `}${fwdLost.length ? `missing: ${fwdLost.join(", ")}; ` : ""}${metaFirst ? "" : "the metadata rule is not first; "}${REBOOTSTRAP}`,
        },
  );
  const policy = sec("forward")[0];
  out.push(
    policy === "-P FORWARD DROP"
      ? { status: "pass", what: `${v} FORWARD policy`, detail: "DROP" }
      : {
          status: "fail",
          what: `${v} FORWARD policy`,
          detail: `${policy ?? "unreadable"}: forwarded traffic nobody accepted passes; ${REBOOTSTRAP}`,
        },
  );
  if (want.privateAddress) {
    const rule = (c: string) => `-A ${c} -i ${iface} -m conntrack --ctstate NEW -j DROP`;
    const ok = iface !== undefined && chain.includes(rule(HOST_CHAIN)) && fwd.includes(rule(FORWARD_CHAIN));
    out.push(
      ok
        ? {
            status: "pass",
            what: `${v} private interface`,
            detail: `${iface} admits new connections from members (and opened ranges) only, to sshd and published ports alike`,
          }
        : {
            status: "fail",
            what: `${v} private interface`,
            detail: `${iface ? `${iface} lacks the members-only rule` : "no private interface recorded"}: non-members on the private network reach sshd and published ports; ${REBOOTSTRAP}`,
          },
    );
  }
  return out;
}

/** Judges one node's probe. Anything the host cannot show (no systemd, no cloud-init) is unprovable, never a pass. */
export function judgeHost(p: ProbeSections, want: HostExpectation): HostCheck[] {
  const iface = (p.get("private") ?? []).map((l) => /^iface (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
  const out = [...familyChecks(p, 4, want, iface), ...familyChecks(p, 6, want, iface)];
  const state = p.get("state") ?? [];
  const bad = state.filter((l) => l.startsWith("bad ")).map((l) => l.slice(4));
  const saved = state
    .filter((l) => l.startsWith("ok "))
    .map((l) => l.slice(3))
    .sort();
  const live = ["4", "6"]
    .flatMap((f) =>
      (p.get(`v${f}-chain`) ?? []).flatMap((l) => /^-A \S+ -s (\S+)\/(32|128) -j RETURN$/.exec(l)?.[1] ?? []),
    )
    .sort();
  if (state[0] === "missing")
    out.push({
      status: "fail",
      what: "saved allow-list",
      detail: `no ${FIREWALL_STATE_FILE}: at the next boot the rules come back closed to all, and the swarm cannot talk; ${REBOOTSTRAP}`,
    });
  else if (bad.length)
    out.push({
      status: "fail",
      what: "saved allow-list",
      detail: `${FIREWALL_STATE_FILE} holds entries that are no address (${bad.map((b) => JSON.stringify(b)).join(", ")}); ${REBOOTSTRAP}`,
    });
  else if (saved.join(" ") !== live.join(" "))
    out.push({
      status: "fail",
      what: "saved allow-list",
      detail: `${FIREWALL_STATE_FILE} (${saved.join(" ") || "empty"}) differs from the live rules (${live.join(" ") || "none"}): a reboot would change what is enforced; ${REBOOTSTRAP}`,
    });
  else out.push({ status: "pass", what: "saved allow-list", detail: "equals the live rules" });
  if ((p.get("systemd") ?? [])[0] !== "yes") {
    out.push({
      status: "unprovable",
      what: "boot order",
      detail:
        "no systemd on this host: no unit restores the rules at boot and no drop-in ties dockerd to them; after a reboot, re-run bootstrap before trusting the node",
    });
  } else {
    const [enabled, active] = p.get("unit") ?? [];
    // A failed unit (systemctl is-active says "failed") keeps dockerd down: docker.service Requires= it.
    const failed =
      active === "failed"
        ? {
            status: "fail" as const,
            what: "firewall unit",
            detail: `${FIREWALL_UNIT} failed (systemctl is-failed), so dockerd, which Requires= it, cannot run on this node: see journalctl -u ${FIREWALL_UNIT}, fix the cause, then systemctl start ${FIREWALL_UNIT} docker.service there and re-run bootstrap`,
          }
        : undefined;
    out.push(
      enabled === "enabled" && active === "active"
        ? { status: "pass", what: "firewall unit", detail: `${FIREWALL_UNIT} enabled and active` }
        : (failed ?? {
            status: "fail",
            what: "firewall unit",
            detail: `${FIREWALL_UNIT} is ${enabled ?? "?"}/${active ?? "?"}: see journalctl -u ${FIREWALL_UNIT}, then ${REBOOTSTRAP}`,
          }),
    );
    const dropin = (p.get("dropin") ?? []).join("\n");
    const requires = (p.get("docker-requires") ?? []).join(" ");
    const ok =
      dropin ===
        dockerDropIn()
          .split("\n")
          .filter((l) => l.trim() !== "")
          .join("\n") && requires.split(/\s+/).includes(FIREWALL_UNIT);
    out.push(
      ok
        ? { status: "pass", what: "docker drop-in", detail: `docker.service Requires= and After= ${FIREWALL_UNIT}` }
        : {
            status: "fail",
            what: "docker drop-in",
            detail: `${dropin ? `${DOCKER_DROPIN_PATH} differs from hcloud-swarm's` : `no ${DOCKER_DROPIN_PATH}`}${requires.includes(FIREWALL_UNIT) ? "" : " (docker.service does not require the firewall: it starts without it)"}; ${REBOOTSTRAP}`,
          },
    );
  }
  out.push(judgeSshd(p.get("sshd") ?? []));
  out.push(judgeCloudInit(p.get("cloud-init") ?? [], (p.get("failed-step") ?? [])[0]));
  return out;
}

function judgeSshd(lines: readonly string[]): HostCheck {
  if (lines[0] === "no sshd" || lines[0] === "sshd -T failed")
    return { status: "unprovable", what: "sshd", detail: `${lines[0]}: its effective settings cannot be shown` };
  const seen = new Map(lines.map((l) => l.split(/\s+/) as [string, string]));
  const wrong = Object.entries(SSHD_HARDENED)
    .filter(([k, ok]) => !ok.includes(seen.get(k) ?? ""))
    .map(([k]) => `${k} ${seen.get(k) ?? "?"}`);
  return wrong.length === 0
    ? { status: "pass", what: "sshd", detail: "sshd -T: root by key only, no password or keyboard-interactive login" }
    : {
        status: "fail",
        what: "sshd",
        detail: `sshd -T shows ${wrong.join(", ")}; re-run bootstrap (it writes /etc/ssh/sshd_config.d/10-hcloud-swarm.conf) or set them in sshd_config`,
      };
}

function judgeCloudInit(lines: readonly string[], step: string | undefined): HostCheck {
  const status = lines
    .find((l) => l.startsWith("status: "))
    ?.slice(8)
    .trim();
  if (lines[0] === "absent")
    return {
      status: "unprovable",
      what: "cloud-init",
      detail: "not installed: cloud-init did not prepare this host, so its setup cannot be shown",
    };
  if (status === "done") return { status: "pass", what: "cloud-init", detail: "status: done" };
  if (status === "error" || step)
    return {
      status: "fail",
      what: "cloud-init",
      detail: `status: ${status ?? "?"}${step ? `; setup step "${step}" failed` : ""}: see /var/log/cloud-init-output.log; rebuild the server (pulumi up --replace) after fixing the cause`,
    };
  return {
    status: "unprovable",
    what: "cloud-init",
    detail: `status: ${status ?? lines.join(" ")}: it did not finish on this host`,
  };
}
