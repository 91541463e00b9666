// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * What a named volume of the `local` driver really mounts. The local driver passes `driver_opts`
 * straight to mount(2) on the node, as root, outside any container: `type` is the file system,
 * `device` its source and `o` its options. So a volume can be a bind of any host path (`o: bind`),
 * an overlay whose lower layer is the host's `/` (`type: overlay, o: lowerdir=/`), the host's
 * `/proc` or `/sys` (`type: proc`), a host block device (`device: /dev/sda1, type: ext4`), or a
 * kernel interface (devtmpfs, cgroup, bpf, debugfs, …).
 *
 * Hence an allow-list rather than a list of dangers: besides binds (judged by the bind rule with
 * their path), only file systems that hold no host data pass — tmpfs, and network file systems
 * whose data lives on another machine (nfs, cifs). Any other `type`, or a `device` under /dev,
 * is host access. A volume of another driver (a plugin the operator installed) is not judged.
 */
import { type GoMap, type GoValue, isGoMap } from "./dialect";
import type { ValuePath } from "./origin";
import type { HostMount } from "./structure";

/** Host access of a volume other than a bind: what the container would get, for the finding. */
export interface VolumeHostAccess {
  readonly volume: string;
  /** E.g. `the host's / (overlay lowerdir)`. */
  readonly gets: string;
  /** The driver_opts as written, for the finding. */
  readonly opts: string;
  readonly path: ValuePath;
}

/** File systems of the local driver that hold no data of the node's own. */
export const SAFE_LOCAL_TYPES: readonly string[] = ["tmpfs", "nfs", "nfs4", "cifs", "smb3"];

/** What each kernel file system type exposes of the host, for the message. */
const KERNEL_TYPES: ReadonlyArray<readonly [string, string]> = [
  ["proc", "the host's /proc (every process of the node, its kernel settings)"],
  ["sysfs", "the host's /sys (devices, kernel settings)"],
  ["devtmpfs", "the host's device nodes (/dev: every disk of the node)"],
  ["devpts", "the host's terminals"],
  ["cgroup", "the host's cgroups (limits and processes of every container)"],
  ["cgroup2", "the host's cgroups (limits and processes of every container)"],
  ["bpf", "the host's BPF file system"],
  ["debugfs", "the host kernel's debug interface"],
  ["tracefs", "the host kernel's tracing interface"],
  ["securityfs", "the host kernel's security modules"],
  ["configfs", "the host kernel's configuration objects"],
  ["mqueue", "the host's message queues"],
];

const str = (v: GoValue | undefined): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
const hasOpt = (o: string, name: string): boolean => o.split(",").some((x) => x.trim() === name);

/** Binds (for the bind rule) and other host access of the volume `key`. */
export function localVolumeAccess(
  key: string,
  v: GoValue | undefined,
): { binds: HostMount[]; host: VolumeHostAccess[] } {
  const none = { binds: [], host: [] };
  if (!isGoMap(v)) return none;
  const driver = str(v.driver);
  if (driver !== undefined && driver !== "" && driver !== "local") return none;
  const opts: GoMap | undefined = isGoMap(v.driver_opts) ? v.driver_opts : undefined;
  if (!opts || Object.keys(opts).length === 0) return none;
  const type = (str(opts.type) ?? "").trim();
  const o = str(opts.o) ?? "";
  const device = str(opts.device);
  const at = (k: string): ValuePath => [
    "volumes",
    key,
    "driver_opts",
    ...(Object.prototype.hasOwnProperty.call(opts, k) ? [k] : []),
  ];
  const written = Object.keys(opts)
    .map((k) => `${k}: ${str(opts[k]) ?? JSON.stringify(opts[k])}`)
    .join(", ");
  if ((hasOpt(o, "bind") || hasOpt(o, "rbind") || type === "none") && device !== undefined) {
    return { binds: [{ source: device, readOnly: hasOpt(o, "ro"), path: at("device") }], host: [] };
  }
  const host = (gets: string, k: string): { binds: HostMount[]; host: VolumeHostAccess[] } => ({
    binds: [],
    host: [{ volume: key, gets, opts: written, path: at(k) }],
  });
  if (type === "overlay") {
    const dirs = o.split(",").flatMap((x) => {
      const m = /^\s*(lowerdir|upperdir|workdir)=(.*)$/.exec(x);
      return m ? m[2].split(":").map((d) => `${d} (${m[1]})`) : [];
    });
    return host(
      `an overlay of the host's ${dirs.length ? dirs.join(", ") : "directories"}: the host's files, and writes to them through upperdir`,
      "o",
    );
  }
  const kernel = KERNEL_TYPES.find(([t]) => t === type);
  if (kernel) return host(kernel[1], "type");
  if (device !== undefined && /^\/dev\//.test(device.trim()))
    return host(`the host's block device ${device.trim()} (its whole file system, read-write)`, "device");
  if (type === "" || SAFE_LOCAL_TYPES.includes(type)) return none;
  return host(
    `a ${type} file system mounted by the node's kernel from ${device ?? "(no device)"}: host data, and the node's kernel parsing it`,
    "type",
  );
}
