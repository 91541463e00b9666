/**
 * The bed's only image: a root filesystem made of the host's static busybox (one binary plus one
 * symlink per applet, about 2 MB), imported on every node so stacks run tasks without a registry.
 * busybox as PID 1 ignores SIGTERM, which would make every `docker stop` wait out the 10 s grace
 * period; the image's stop signal is SIGKILL, so tasks stop at once. Loaded (not imported), because
 * `docker import` refuses STOPSIGNAL.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import { run } from "./host-command";

/** Image name stacks and tests use on the local bed (deploy with `--resolve-image never`). */
export const LOCAL_IMAGE = "hcloud-swarm/busybox:local";
export const BUSYBOX = "/bin/busybox";

/** The image config: busybox's shell by default, and a stop signal busybox cannot ignore as PID 1. */
export const IMAGE_CONFIG = {
  Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
  Cmd: ["sh"],
  WorkingDir: "/",
  StopSignal: "SIGKILL",
  Labels: { "org.opencontainers.image.description": "busybox-static for the hcloud-swarm local test bed" },
};

const GOARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
};

/**
 * Builds DIR/image/busybox.tar, a `docker save`-format archive (manifest.json, image config, one
 * layer). `docker import` cannot set STOPSIGNAL, `docker load` takes the whole config as written.
 */
export async function buildImageTar(dir: string): Promise<string> {
  const base = path.join(dir, "image");
  const rootfs = path.join(base, "rootfs");
  const archive = path.join(base, "archive");
  const tar = path.join(base, "busybox.tar");
  fs.rmSync(base, { recursive: true, force: true });
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "tmp", "var/tmp"])
    fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.mkdirSync(path.join(archive, "layer"), { recursive: true });
  fs.chmodSync(path.join(rootfs, "tmp"), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  const applets = (await run(BUSYBOX, ["--list-full"])).stdout.split("\n").filter((a) => a && a !== "bin/busybox");
  for (const a of applets) {
    fs.mkdirSync(path.dirname(path.join(rootfs, a)), { recursive: true });
    fs.symlinkSync("/bin/busybox", path.join(rootfs, a));
  }
  fs.writeFileSync(
    path.join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  fs.writeFileSync(path.join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  const layer = path.join(archive, "layer", "layer.tar");
  const tarFlags = ["--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "--sort=name"];
  await run("tar", [...tarFlags, "-C", rootfs, "-cf", layer, "."]);
  const diffId = createHash("sha256").update(fs.readFileSync(layer)).digest("hex");
  const created = "2000-01-01T00:00:00Z";
  const config = JSON.stringify({
    architecture: GOARCH[process.arch] ?? process.arch,
    os: "linux",
    created,
    config: IMAGE_CONFIG,
    rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
    history: [{ created, created_by: "hcloud-swarm local: busybox-static rootfs" }],
  });
  const configName = `${createHash("sha256").update(config).digest("hex")}.json`;
  fs.writeFileSync(path.join(archive, configName), config);
  fs.writeFileSync(
    path.join(archive, "manifest.json"),
    JSON.stringify([{ Config: configName, RepoTags: [LOCAL_IMAGE], Layers: ["layer/layer.tar"] }]),
  );
  await run("tar", [...tarFlags, "-C", archive, "-cf", tar, "."]);
  fs.rmSync(rootfs, { recursive: true, force: true });
  fs.rmSync(archive, { recursive: true, force: true });
  return tar;
}
