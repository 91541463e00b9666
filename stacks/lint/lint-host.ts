// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The host rules: what reaches the node itself. privileged, cap_add, the host network (by
 * network_mode, by a listed network, or through `default`), binds of host paths, named volumes
 * whose local driver mounts host data (volume-drivers.ts), and files Docker reads on the deploying
 * machine from outside the stack's directory, judged after symlinks are followed.
 */
import * as fs from "fs";
import * as path from "path";
import type { ExceptionMatcher } from "./exceptions";
import type { At } from "./lint-at";
import { hostNetworkRules } from "./lint-network";
import type { HostMount, StackModel } from "../reading/structure";

/** Host paths any service may mount read-only: the node's time zone. Everything else must be declared. */
export const BIND_ALLOW_LIST: readonly string[] = ["/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo"];
export const DOCKER_SOCKETS: readonly string[] = ["/var/run/docker.sock", "/run/docker.sock"];

export function hostRules(model: StackModel, allow: ExceptionMatcher, at: At): void {
  const allowed = allow.allowed;
  const declare = (what: string) =>
    `declare it under x-hcloud-swarm allow: (service, ${what}, reason) if the service really needs it`;
  for (const svc of model.services) {
    const s = { service: svc.name };
    if (svc.privileged && !allowed(svc.name, "privileged", "true"))
      at(
        svc.privileged,
        "host-access",
        `privileged: true gives the containers every capability and every host device: root on the node; remove it, or ${declare("privileged: true")}`,
        s,
      );
    for (const c of svc.capAdd)
      if (!allowed(svc.name, "cap_add", c.cap))
        at(
          c.path,
          "host-access",
          `cap_add ${c.cap} widens what the containers may do to the node's kernel; remove it, or ${declare(`cap_add: ${c.cap}`)}`,
          s,
        );
    if (svc.networkMode?.value === "host" && !allowed(svc.name, "network_mode", "host"))
      at(
        svc.networkMode.path,
        "host-access",
        `network_mode: host shares the node's network stack (swarm ports, metadata address, every interface); remove it, or ${declare("network_mode: host")}`,
        s,
      );
    for (const b of svc.binds) bindRule(b, svc.name, (source) => allowed(svc.name, "bind", source), at, declare);
  }
  hostNetworkRules(model, (service) => allowed(service, "network_mode", "host"), declare("network_mode: host"), at);
  for (const b of model.volumeBinds) bindRule(b, undefined, () => false, at, declare);
  for (const v of model.volumeHost) {
    at(
      v.path,
      "host-access",
      `volume "${v.volume}" (local driver, ${v.opts}) gives every service that mounts it ${v.gets}; the local driver mounts driver_opts on the node as root. Use a plain named volume (no driver_opts), tmpfs, or a network file system`,
    );
  }
}

/** A declaration no rule used: it must go, so that it cannot cover something added later. */
export function unusedExceptions(allow: ExceptionMatcher, unused: (line: number, message: string) => void): void {
  for (const e of allow.unused())
    unused(
      e.line,
      `x-hcloud-swarm.allow: the exception for service "${e.service}" (${e.kind} ${e.value}) matches nothing in the stack; remove it so it cannot cover something added later`,
    );
}

function bindRule(
  b: HostMount,
  service: string | undefined,
  allowed: (source: string) => boolean,
  at: At,
  declare: (what: string) => string,
): void {
  const source = path.posix.normalize(b.source);
  const extra = service ? { service } : {};
  if (allowed(source)) return;
  if (DOCKER_SOCKETS.includes(source)) {
    at(
      b.path,
      "bind-mount",
      `mounts the Docker socket ${source}: whoever controls the container controls the node, and the whole swarm on a manager (read_only does not change that); remove it, or ${declare(`bind: ${source}`)}`,
      extra,
    );
  } else if (!(b.readOnly && BIND_ALLOW_LIST.some((a) => source === a || source.startsWith(`${a}/`)))) {
    at(
      b.path,
      "bind-mount",
      `mounts the host path ${source}${b.readOnly ? "" : " read-write"}, outside the allow-list (read-only ${BIND_ALLOW_LIST.join(", ")}); use a named volume, or ${declare(`bind: ${source}`)}`,
      extra,
    );
  }
}

/**
 * The file system Docker reads a stack's files from: this machine for `stack lint` and `stack
 * render`, the manager's (read over SSH before anything is created, manager-files.ts) for
 * `stack deploy`, which uploads only the stack file.
 */
export interface FileView {
  /** For messages: "this machine", "manager-1". */
  readonly machine: string;
  /** An absolute path with every link followed; undefined when it does not exist there. */
  realPath(p: string): string | undefined;
  /** Whether a file that is not there is a finding: deploy's Docker would fail halfway through. Local lint leaves that to Docker. */
  readonly missingRefused: boolean;
}

export const LOCAL_FILES: FileView = { machine: "this machine", realPath: localRealPath, missingRefused: false };

export function fileRules(model: StackModel, baseDir: string, at: At, view: FileView = LOCAL_FILES): void {
  const outside = (p: string, base: string): boolean => {
    const rel = path.posix.relative(path.posix.normalize(base), p);
    return rel === "" || rel.startsWith("..") || path.posix.isAbsolute(rel);
  };
  const on = view === LOCAL_FILES ? "" : ` on ${view.machine}`;
  for (const f of model.files) {
    const abs = path.posix.resolve(baseDir, f.file);
    if (outside(abs, baseDir)) {
      at(
        f.path,
        "file-outside",
        `${f.what} reads ${abs}${on}, outside the stack's directory ${baseDir}: Docker reads it on the machine that deploys (a manager) and hands it to the service; keep the file next to the stack file, or use an external secret`,
      );
      continue;
    }
    // Docker opens the path and follows links: judge where it really leads, where Docker reads it.
    const real = view.realPath(abs);
    const realBase = view.realPath(baseDir) ?? baseDir;
    if (real !== undefined && outside(real, realBase)) {
      at(
        f.path,
        "file-outside",
        `${f.what} reads ${abs}${on}, a symbolic link to ${real}, outside the stack's directory ${realBase}: Docker follows the link on the machine that deploys and hands that file to the service; copy the file next to the stack file instead of linking it, or use an external secret`,
      );
    } else if (real === undefined && view.missingRefused) {
      at(
        f.path,
        "file-missing",
        `${f.what}: Docker would read ${abs} on ${view.machine}, and it is not there: stack deploy uploads only the stack file, so docker stack deploy would fail after creating the stack's networks; use a secret the template generates (x-hcloud-swarm secrets:) or an external secret or config created beforehand`,
      );
    }
  }
}

function localRealPath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}
