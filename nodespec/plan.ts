// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The node reconcile decision: what the node shows (READ_SCRIPT's output, parsed) against the spec,
 * as a list of changes. Changes that do not disturb running containers (admin keys, the kernel
 * modules' boot file) are applied by every bootstrap run; changes that need the engine restarted
 * or replaced (daemon.json, the Docker package) are "rolling" changes, applied only to a drained
 * node by the rolling engine (rolling/). What a host cannot change (no systemd: the engine and the
 * kernel are the host machine's, as on the namespace bed) is a note, never a pretended action. Pure.
 */
import {
  ADMIN_BLOCK_BEGIN,
  DAEMON_JSON_PATH,
  daemonJsonHas,
  MATCH_MODULES,
  mergedDaemonJson,
  modulesConf,
  MODULES_CONF_PATH,
  NodeSpec,
  packageCarries,
  REQUIRED_MODULES,
  SPEC_FILE,
  specFileText,
  withAdminBlock,
} from "./spec";

const MARK = "== hcloud-swarm-spec ";
const b64 = (file: string) => `if [ -f ${file} ]; then base64 < ${file} | tr -d '\\n'; echo; else echo absent; fi`;

/** Reads everything reconcile compares, in one command. Changes nothing. */
export const READ_SCRIPT = [
  `sec() { echo "${MARK}$1"; }`,
  "sec systemd; if [ -d /run/systemd/system ]; then echo yes; else echo no; fi",
  "sec packages; dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' docker-ce docker.io 2>/dev/null | awk '$3 ~ /^ii/ {print $1, $2}'",
  "sec engine; docker version --format '{{.Server.Version}}' 2>/dev/null || true",
  `sec daemon-json; ${b64(DAEMON_JSON_PATH)}`,
  `sec authorized-keys; ${b64('"$HOME/.ssh/authorized_keys"')}`,
  `sec modules; awk '{print $1}' /proc/modules 2>/dev/null | grep -xE '${[...REQUIRED_MODULES, ...MATCH_MODULES].join("|")}' || true`,
  `sec modules-conf; ${b64(MODULES_CONF_PATH)}`,
  `sec spec-file; ${b64(SPEC_FILE)}`,
  "true",
].join("\n");

export interface NodeState {
  readonly systemd: boolean;
  /** Installed engine package: "docker-ce" or "docker.io", with its Debian version. */
  readonly pkg?: { readonly name: string; readonly version: string };
  /** What the running engine reports ("" when it does not answer). */
  readonly engine: string;
  /** File texts; undefined when the file does not exist. */
  readonly daemonJson?: string;
  readonly authorizedKeys?: string;
  readonly modulesConf?: string;
  readonly specFile?: string;
  /** Required and match modules loaded now. */
  readonly modules: readonly string[];
}

/** Parses READ_SCRIPT's output. */
export function parseNodeState(stdout: string): NodeState {
  const sec = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(MARK)) sec.set(line.slice(MARK.length).trim(), (cur = []));
    else if (cur && line.trim() !== "") cur.push(line.trim());
  }
  const one = (k: string) => (sec.get(k) ?? [])[0] ?? "";
  const file = (k: string): string | undefined => {
    const v = one(k);
    return v === "absent" || !sec.has(k) ? undefined : Buffer.from(v, "base64").toString("utf8");
  };
  const pkgs = (sec.get("packages") ?? []).map((l) => l.split(" "));
  // docker-ce is what cloud-init installs; docker.io is Debian's own.
  const pkg = pkgs.find((p) => p[0] === "docker-ce") ?? pkgs.find((p) => p[0] === "docker.io");
  return {
    systemd: one("systemd") === "yes",
    ...(pkg && pkg[1] ? { pkg: { name: pkg[0], version: pkg[1] } } : {}),
    engine: one("engine"),
    daemonJson: file("daemon-json"),
    authorizedKeys: file("authorized-keys"),
    modulesConf: file("modules-conf"),
    specFile: file("spec-file"),
    modules: sec.get("modules") ?? [],
  };
}

/** One change to a node. `path`/`content`: a file to write (atomically, `mode`). */
export interface Change {
  readonly item: "admin-keys" | "kernel-modules" | "daemon-json" | "docker" | "spec";
  readonly detail: string;
  /** Needs the node drained (the engine restarts or is replaced): done only by the rolling engine. */
  readonly rolling: boolean;
  readonly path?: string;
  readonly content?: string;
  readonly mode?: string;
  /** daemon.json: the engine must restart to read it. docker: the package to install, from the wanted release. */
  readonly restartEngine?: boolean;
  readonly docker?: { readonly pkg: string; readonly want: string };
}

export interface ReconcilePlan {
  readonly changes: readonly Change[];
  /** What this host cannot change, and why. */
  readonly notes: readonly string[];
}

/** The changes that bring `state` to `spec`. With no rolling change left, the spec is recorded. */
export function planReconcile(state: NodeState, spec: NodeSpec, dockerOverride?: string): ReconcilePlan {
  const changes: Change[] = [];
  const notes: string[] = [];
  if (spec.adminSshKeys !== undefined) {
    const current = state.authorizedKeys ?? "";
    const next = withAdminBlock(current, spec.adminSshKeys);
    if (next !== current) {
      const had = current.includes(ADMIN_BLOCK_BEGIN);
      changes.push({
        item: "admin-keys",
        detail: `${spec.adminSshKeys.length} admin key${spec.adminSshKeys.length === 1 ? "" : "s"} in the managed block of authorized_keys${had ? "" : " (block created)"}`,
        rolling: false,
        path: "$HOME/.ssh/authorized_keys",
        content: next,
        mode: "0600",
      });
    }
  }
  if (state.systemd) {
    if (state.modulesConf !== modulesConf())
      changes.push({
        item: "kernel-modules",
        detail: `${MODULES_CONF_PATH} written and the modules loaded`,
        rolling: false,
        path: MODULES_CONF_PATH,
        content: modulesConf(),
        mode: "0644",
      });
  } else {
    const missing = REQUIRED_MODULES.filter((m) => !state.modules.includes(m));
    const match = MATCH_MODULES.some((m) => state.modules.includes(m));
    if (missing.length || !match)
      notes.push(
        `kernel modules are the host machine's here (no systemd; e.g. the namespace bed) and are left as they are: not loaded: ${[...missing, ...(match ? [] : [MATCH_MODULES.join(" or ")])].join(", ")}${missing.includes("esp4") ? " (this kernel lacks ESP)" : ""}`,
      );
  }
  if (spec.daemonJson !== undefined && !daemonJsonHas(state.daemonJson ?? "", spec.daemonJson)) {
    let content: string | undefined;
    try {
      content = mergedDaemonJson(state.daemonJson ?? "", spec.daemonJson);
    } catch (err) {
      notes.push(`${DAEMON_JSON_PATH} cannot be read as JSON (${(err as Error).message}); fix it by hand`);
    }
    if (content !== undefined)
      changes.push({
        item: "daemon-json",
        detail: `${DAEMON_JSON_PATH}: ${Object.keys(spec.daemonJson).join(", ")} set; the engine restarts to read it`,
        rolling: true,
        path: DAEMON_JSON_PATH,
        content,
        mode: "0644",
        restartEngine: true,
      });
  }
  const want = dockerOverride ?? spec.dockerVersion;
  if (want !== undefined) {
    if (!state.systemd)
      notes.push(
        `the Docker Engine is not run by systemd from a package here (the namespace bed's engine is the host machine's ${state.engine || "dockerd"}): its version cannot be changed to ${want}`,
      );
    else if (!state.pkg)
      notes.push(
        `no docker-ce or docker.io package is installed (Docker on the image?): the engine's version ${state.engine || "?"} is not changed to ${want}`,
      );
    else if (!packageCarries(state.pkg.version, want))
      changes.push({
        item: "docker",
        detail: `${state.pkg.name} ${state.pkg.version} → ${want}`,
        rolling: true,
        docker: { pkg: state.pkg.name, want },
      });
  }
  return { changes, notes };
}

/** The SPEC_FILE change, once nothing rolling is left (the node then runs the spec). */
export function recordChange(state: NodeState, spec: NodeSpec): Change | undefined {
  const text = specFileText(spec);
  if (state.specFile === text) return undefined;
  return {
    item: "spec",
    detail: `recorded in ${SPEC_FILE}`,
    rolling: false,
    path: SPEC_FILE,
    content: text,
    mode: "0644",
  };
}
