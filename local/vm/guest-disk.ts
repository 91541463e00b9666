/**
 * The VM bed's guest image: Debian 12 built with mmdebstrap from Debian's own packages, with the
 * stock kernel (ESP, xfrm and IPVS as modules), cloud-init, docker.io and the bed's busybox image.
 * It is built once per recipe and cached under the recipe's content hash, in a directory shared by
 * every bed on the machine; a lock makes two beds that need the same image build it once. Images no
 * bed needs any more are pruned (./cache.ts).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { buildImageTar, LOCAL_IMAGE } from "../common/container-image";
import { run } from "../common/host-command";
import { pruneCache, touchImage } from "./guest-disk-cache";
import { withLock } from "./lock";

/** Where built images live unless HCLOUD_SWARM_VM_CACHE says otherwise: host-wide, so every checkout shares them. */
export const DEFAULT_CACHE_DIR = "/var/cache/hcloud-swarm/vm";
/** mmdebstrap takes ~2 min on 2 idle cores; a busy machine, a slow mirror and the disk image take longer. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
/** Another process building the same image holds the lock at most this long. */
const BUILD_WAIT_MS = BUILD_TIMEOUT_MS + 60_000;
/** Root filesystem size: the 1.1 GB system plus room for images and logs; the qcow2 stores only what is used. */
const DISK_SIZE = "6G";
/** Where the busybox image archive sits inside the guest; docker.service loads it (see DOCKER_DROP_IN). */
export const GUEST_IMAGE_TAR = "/usr/share/hcloud-swarm/busybox.tar";
/** Debian's sources, as the host's apt uses them. */
const HOST_SOURCES = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];

/** What a Hetzner Debian/Ubuntu image has, plus tcpdump for `verify --wire` and docker.io (the "Docker on the image" case). */
export const GUEST_PACKAGES = [
  "systemd-sysv",
  "udev",
  "dbus",
  "openssh-server",
  "docker.io",
  "apparmor",
  "iproute2",
  "iptables",
  "tcpdump",
  "kmod",
  "cloud-init",
  "ca-certificates",
  "busybox-static",
  "linux-image-amd64",
  "initramfs-tools",
  "procps",
  "netbase",
  "iputils-ping",
  "locales",
  "util-linux",
];

/**
 * docker.service drop-in: the bed's image is loaded before the unit counts as started, so a node
 * whose `systemctl start docker` returned (cloud-init waits for that) has it; and dockerd never tries
 * a registry for an image it has (none is reachable here).
 */
const DOCKER_DROP_IN = [
  "[Service]",
  "Environment=DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1",
  `ExecStartPost=/bin/sh -c 'docker image inspect ${LOCAL_IMAGE} >/dev/null 2>&1 || docker load -q -i ${GUEST_IMAGE_TAR}'`,
  "",
].join("\n");

/** mmdebstrap customize hooks; $1 is the root filesystem, `files` holds the archive and the drop-in. Part of the recipe hash. */
function customizeHooks(files: string): string[] {
  return [
    // NoCloud is the seed disk the bed attaches; nothing else is probed (no network metadata service here).
    `printf 'datasource_list: [ NoCloud, None ]\\n' > "$1/etc/cloud/cloud.cfg.d/90_dpkg.cfg"`,
    `printf '/dev/vda / ext4 defaults 0 1\\n' > "$1/etc/fstab"`,
    `chroot "$1" systemctl enable systemd-networkd`,
    // Hetzner's images carry en_US.UTF-8 as the system locale; without it cloud-init's locale module
    // fails (update-locale), and without /etc/default/locale it regenerates it on every first boot.
    `sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' "$1/etc/locale.gen" && chroot "$1" locale-gen && echo LANG=en_US.UTF-8 > "$1/etc/default/locale"`,
    // mmdebstrap copies the host's resolver and hostname in. The bed has no resolver, so lookups fail at
    // once instead of timing out; cloud-init sets each VM's hostname from its meta-data.
    `rm -f "$1/etc/resolv.conf" && : > "$1/etc/resolv.conf" && echo localhost > "$1/etc/hostname"`,
    // Every VM must get its own machine id (systemd makes one at first boot when the file is empty).
    `rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"`,
    `mkdir -p "$1${path.dirname(GUEST_IMAGE_TAR)}" && cp ${files}/image/busybox.tar "$1${GUEST_IMAGE_TAR}"`,
    `mkdir -p "$1/etc/systemd/system/docker.service.d" && cp ${files}/docker-drop-in.conf "$1/etc/systemd/system/docker.service.d/hcloud-swarm-bed.conf"`,
  ];
}

export interface GuestImage {
  /** Directory of this image in the cache. */
  readonly dir: string;
  readonly hash: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The qcow2 every node's copy-on-write overlay is based on. */
  readonly disk: string;
  /** True when this call built it, false when it came from the cache. */
  readonly built: boolean;
  /** Milliseconds this call spent (building, or finding it in the cache). */
  readonly ms: number;
}

export interface ImageOptions {
  /** Cache directory. Default: $HCLOUD_SWARM_VM_CACHE, else DEFAULT_CACHE_DIR. */
  readonly cacheDir?: string;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export function cacheDirOf(opts: ImageOptions = {}): string {
  return opts.cacheDir ?? process.env.HCLOUD_SWARM_VM_CACHE ?? DEFAULT_CACHE_DIR;
}

function hostSources(): { file: string; text: string } {
  for (const file of HOST_SOURCES) {
    if (fs.existsSync(file) && fs.readFileSync(file, "utf8").trim() !== "")
      return { file, text: fs.readFileSync(file, "utf8") };
  }
  throw new Error(
    `no Debian apt sources on this machine (looked at ${HOST_SOURCES.join(", ")}); the VM image is built from Debian's packages with mmdebstrap`,
  );
}

/** The recipe's content hash: packages, hooks, apt sources and the busybox image archive. */
export function recipeHash(parts: {
  packages: readonly string[];
  hooks: readonly string[];
  dropIn: string;
  sources: string;
  tarSha256: string;
  diskSize: string;
}): string {
  return crypto
    .createHash("sha256")
    .update(JSON.stringify({ recipe: 1, suite: "bookworm", variant: "minbase", ...parts }))
    .digest("hex")
    .slice(0, 16);
}

function paths(dir: string): Pick<GuestImage, "kernel" | "initrd" | "disk"> {
  return {
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
    disk: path.join(dir, "base.qcow2"),
  };
}

function complete(dir: string): boolean {
  return fs.existsSync(path.join(dir, "recipe.json")) && Object.values(paths(dir)).every((p) => fs.existsSync(p));
}

/** Builds into `work` (same filesystem as the cache, so the final step is one rename). */
async function build(
  work: string,
  hooks: readonly string[],
  sourcesFile: string,
  log?: (line: string) => void,
): Promise<void> {
  const rootfs = path.join(work, "rootfs");
  const logFile = path.join(work, "mmdebstrap.log");
  log?.(
    `building the guest image with mmdebstrap (Debian 12, ${GUEST_PACKAGES.length} packages; ~2 min on 2 idle cores; log ${logFile})`,
  );
  const fd = fs.openSync(logFile, "w");
  try {
    const r = await run(
      "mmdebstrap",
      [
        "--mode=root",
        "--variant=minbase",
        '--aptopt=APT::Install-Recommends "false"',
        `--include=${GUEST_PACKAGES.join(",")}`,
        ...hooks.map((h) => `--customize-hook=${h}`),
        "bookworm",
        rootfs,
        sourcesFile,
      ],
      { timeoutMs: BUILD_TIMEOUT_MS, allowFail: true, logFd: fd },
    );
    if (r.code !== 0) {
      const tail = fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-15).join("\n");
      throw new Error(`mmdebstrap failed (exit ${r.code}); the end of ${logFile}:\n${tail}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  const boot = path.join(rootfs, "boot");
  const kernel = fs.readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  const initrd = fs.readdirSync(boot).find((f) => f.startsWith("initrd.img-"));
  if (!kernel || !initrd)
    throw new Error(`the guest image has no kernel or initramfs in /boot (found: ${fs.readdirSync(boot).join(", ")})`);
  const out = paths(work);
  fs.copyFileSync(path.join(boot, kernel), out.kernel);
  fs.copyFileSync(path.join(boot, initrd), out.initrd);
  const raw = path.join(work, "base.raw");
  log?.("making the root disk (mkfs.ext4 -d, qcow2)");
  await run("truncate", ["-s", DISK_SIZE, raw]);
  await run("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", rootfs, raw], { timeoutMs: BUILD_TIMEOUT_MS });
  await run("qemu-img", ["convert", "-O", "qcow2", raw, out.disk], { timeoutMs: BUILD_TIMEOUT_MS });
  fs.rmSync(raw, { force: true });
  fs.rmSync(rootfs, { recursive: true, force: true });
}

/** Returns the guest image for the current recipe, building it when the cache lacks it. */
export async function ensureGuestImage(opts: ImageOptions = {}): Promise<GuestImage> {
  const started = Date.now();
  const cache = cacheDirOf(opts);
  fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
  const sources = hostSources();
  // The busybox archive is reproducible (fixed mtimes and order), so its hash is stable across runs.
  // Named with the pid, so a crashed process's scratch is recognised as a leftover (cache.ts).
  const scratch = fs.mkdtempSync(path.join(cache, `tar-${process.pid}-`));
  try {
    const tar = await buildImageTar(scratch);
    fs.writeFileSync(path.join(scratch, "docker-drop-in.conf"), DOCKER_DROP_IN);
    const tarSha256 = crypto.createHash("sha256").update(fs.readFileSync(tar)).digest("hex");
    const hash = recipeHash({
      packages: GUEST_PACKAGES,
      hooks: customizeHooks("FILES"),
      dropIn: DOCKER_DROP_IN,
      sources: sources.text,
      tarSha256,
      diskSize: DISK_SIZE,
    });
    const dir = path.join(cache, hash);
    const found = (built: boolean): GuestImage => {
      touchImage(cache, hash);
      try {
        for (const line of pruneCache(cache, hash)) opts.log?.(`image cache: removed ${line}`);
      } catch (err) {
        opts.log?.(`image cache: pruning failed (${(err as Error).message}); nothing else is affected`);
      }
      return { dir, hash, ...paths(dir), built, ms: Date.now() - started };
    };
    if (complete(dir)) return found(false);
    return await withLock(`${dir}.lock`, BUILD_WAIT_MS, `building guest image ${hash}`, async () => {
      if (complete(dir)) return found(false); // built by the process we waited for
      const work = `${dir}.build-${process.pid}`;
      fs.rmSync(work, { recursive: true, force: true });
      fs.mkdirSync(work, { recursive: true });
      try {
        await build(work, customizeHooks(scratch), sources.file, opts.log);
        fs.writeFileSync(
          path.join(work, "recipe.json"),
          JSON.stringify(
            { hash, packages: GUEST_PACKAGES, sources: sources.text, tarSha256, builtAt: new Date().toISOString() },
            null,
            2,
          ) + "\n",
        );
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(work, dir);
      } catch (err) {
        fs.rmSync(work, { recursive: true, force: true });
        throw err;
      }
      return found(true);
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
