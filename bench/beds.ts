/**
 * `npm run bench:beds`: time to bring up 3, 10 and 20 nodes with every dockerd answering, memory
 * per node (PSS of dockerd + containerd) and the host's memory delta. Prints figures; asserts nothing.
 * Needs root. Uses its own bed directory and removes the bed afterwards, also when interrupted.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alignColumns } from "../common/columns";
import { downBed, nodeProcesses, upBed } from "../local";

const SIZES = (process.env.BENCH_SIZES ?? "3,10,20").split(",").map(Number);
const DIR = path.join(os.tmpdir(), "hcloud-swarm-bench", "beds");
/** Let freshly started daemons finish their start-up allocations before measuring memory. */
const SETTLE_MS = 3_000;

function memUsedBytes(): number {
  const info = fs.readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return (kb("MemTotal") - kb("MemAvailable")) * 1024;
}

function pssBytes(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Memory charged to the bed's cgroup (processes, page cache, tmpfs): unaffected by other work on the machine. */
function bedCgroupBytes(cgroup: string): number | undefined {
  for (const file of [
    `/sys/fs/cgroup/memory/${cgroup}/memory.usage_in_bytes`,
    `/sys/fs/cgroup/${cgroup}/memory.current`,
  ]) {
    try {
      return Number(fs.readFileSync(file, "utf8").trim());
    } catch {
      // Not this cgroup layout.
    }
  }
  return undefined;
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function benchOne(nodes: number): Promise<string[]> {
  await downBed(DIR);
  const memBefore = memUsedBytes();
  const bed = await upBed({ dir: DIR, nodes, managers: 1, install: false });
  const ready = bed.timings.total - (bed.timings.image ?? 0);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  let pss = 0;
  for (const n of bed.nodes) {
    for (const pid of nodeProcesses(bed.ctx, n).all)
      if (["dockerd", "containerd"].includes(comm(pid))) pss += pssBytes(pid);
  }
  const memAfter = memUsedBytes();
  const cgroupMem = bedCgroupBytes(bed.ctx.names.cgroup);
  const t = Date.now();
  await downBed(DIR);
  const down = Date.now() - t;
  const phases = Object.entries(bed.timings)
    .filter(([k]) => k !== "total")
    .map(([k, v]) => `${k} ${sec(v)}`)
    .join(", ");
  const cg = cgroupMem === undefined ? "n/a" : `${mb(cgroupMem)} (${mb(cgroupMem / nodes)}/node)`;
  return [
    String(nodes),
    sec(ready),
    sec(bed.timings.total),
    mb(pss / nodes),
    cg,
    mb(memAfter - memBefore),
    sec(down),
    phases,
  ];
}

async function main(): Promise<void> {
  const rows = [
    [
      "nodes",
      "all dockerd+sshd answer",
      "+ image on every node",
      "PSS/node (dockerd+containerd)",
      "bed memory cgroup",
      "host memory delta",
      "down",
      "phases",
    ],
  ];
  const stop = (): void => {
    void downBed(DIR).finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    for (const n of SIZES) {
      rows.push(await benchOne(n));
      process.stderr.write(`${n} nodes done\n`);
    }
  } finally {
    await downBed(DIR);
  }
  process.stdout.write(
    `local test bed on ${os.cpus().length} cores, ${mb(os.totalmem())} RAM, kernel ${os.release()}\n`,
  );
  for (const line of alignColumns(rows)) process.stdout.write(line + "\n");
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exit(1);
});
