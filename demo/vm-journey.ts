/**
 * The journey on real VMs, through the same CLI a user types: `local up --vm`, bootstrap, both
 * sample stacks (local images, VIP mode), `verify`, and `verify --wire`. `npm run demo:vm` runs it
 * on 3 VMs; the CI integration test on the smallest bed that proves it (2 VMs).
 */
import * as fs from "fs";
import * as path from "path";
import { main as cli } from "../cli/main";
import { loadInventory, type Inventory } from "../inventory/inventory";
import { LOCAL_IMAGE, readPid, readVmState, rssMiB, vmPaths } from "../local";
import { stackServices } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { formatChecks, summarise, type Check, type VerifySummary } from "../verify/checks";
import { verifyCluster } from "../verify/collect";

export const STACKS: ReadonlyArray<[string, string[]]> = [
  ["traefik", ["--var", "acme_email=ops@example.test", "--var", "dashboard_domain=traefik.example.test"]],
  ["wordpress", ["--var", "domain=blog.example.test"]],
];
/**
 * Starting a task on a 1-vCPU VM under software emulation takes tens of seconds, and minutes on a busy
 * machine (seen: 3 min for the first task); deploy's default 3 min is sized for real servers.
 */
const VM_CONVERGE_TIMEOUT_S = 900;

export interface VmJourneyOptions {
  /** Bed directory. */
  readonly dir: string;
  /** Number of VMs (at least 2: the wire proof needs two nodes). */
  readonly nodes: number;
  /** Output lines (the CLI's own output goes to the console). Default console.log. */
  readonly log?: (line: string) => void;
}

export interface VmJourneyResult {
  readonly inventory: Inventory;
  /** The exit code of `hcloud-swarm verify` exactly as a user types it (0 = all proven). */
  readonly verifyExitCode: number;
  /** verify's checks, as judged again inside the --wire run (for the counts and details). */
  readonly verify: VerifySummary;
  /** verify --wire: the same checks plus the wire probes. */
  readonly wire: VerifySummary;
  readonly wireChecks: readonly Check[];
  /** Services with their endpoint mode ("vip" or "dnsrr"). */
  readonly endpointModes: ReadonlyArray<{ name: string; mode: string }>;
  /** Milliseconds per step. */
  readonly timings: Readonly<Record<string, number>>;
  /** qemu's resident memory per VM at the end, MiB. */
  readonly memory: ReadonlyArray<{ name: string; rssMiB?: number }>;
}

/** The checks only --wire adds (judged by checkWire). */
function isWireCheck(c: Check): boolean {
  return c.what === "on the wire" || c.what === "capture sees plain traffic" || c.subject === "wire capture";
}

/** Runs one CLI command in-process, showing it as the user would type it; returns its exit code. */
async function run(args: string[], log: (l: string) => void): Promise<number> {
  log(`\n$ npx hcloud-swarm ${args.join(" ")}`);
  process.exitCode = 0;
  await cli(["node", "hcloud-swarm", ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return code;
}

async function mustRun(args: string[], log: (l: string) => void): Promise<void> {
  const code = await run(args, log);
  if (code !== 0) throw new Error(`\`hcloud-swarm ${args.join(" ")}\` exited ${code}; see above`);
}

export async function runVmJourney(o: VmJourneyOptions): Promise<VmJourneyResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await f();
    } finally {
      timings[name] = Date.now() - t;
    }
  };
  const dir = o.dir;
  await timed("local up --vm", () =>
    mustRun(["local", "up", "--vm", "--nodes", String(o.nodes), "--managers", "1", "--dir", dir], log),
  );
  // The inventory exactly as `local up` wrote it: stack deploy pins the templates' data to nodes itself.
  const journeyInventory = path.join(dir, "inventory.json");
  const inv = loadInventory(journeyInventory);
  await timed("bootstrap", () => mustRun(["bootstrap", "--inventory", journeyInventory], log));
  await timed("stacks", async () => {
    for (const [name, vars] of STACKS) {
      await mustRun(
        [
          "stack",
          "deploy",
          name,
          "--inventory",
          journeyInventory,
          ...vars,
          "--local-images",
          LOCAL_IMAGE,
          "--secrets-file",
          path.join(dir, "secrets", `${name}.env`),
          "--timeout",
          String(VM_CONVERGE_TIMEOUT_S),
        ],
        log,
      );
    }
  });
  const m = await connectManager(inv);
  const endpointModes = (await stackServices(m).finally(() => m.close())).map((s) => ({
    name: s.name,
    mode: s.endpointMode ?? "vip",
  }));
  const verifyCode = await timed("verify", () => run(["verify", "--inventory", journeyInventory], log));
  // verify --wire as the CLI runs it, kept as data: it repeats verify's checks, then adds the wire's.
  log(`\n$ npx hcloud-swarm verify --wire --probe-image ${LOCAL_IMAGE} --inventory ${journeyInventory}`);
  const wire = await timed("verify --wire", () => verifyCluster(inv, undefined, { probeImage: LOCAL_IMAGE, log }));
  for (const l of formatChecks(wire)) log(l);
  const wireChecks = wire.checks.filter(isWireCheck);
  const verify = summarise(wire.checks.filter((c) => !isWireCheck(c)));
  if (verify.exitCode !== verifyCode)
    log(`(verify answered ${verifyCode} on the command line and ${verify.exitCode} in the --wire run)`);
  const state = readVmState(fs.realpathSync(dir));
  const memory = (state?.vms ?? []).map((v) => {
    const pid = readPid(vmPaths(state?.dir ?? dir, v.name).pidFile);
    const rss = pid ? rssMiB(pid) : undefined;
    return { name: v.name, ...(rss !== undefined ? { rssMiB: rss } : {}) };
  });
  return { inventory: inv, verifyExitCode: verifyCode, verify, wire, wireChecks, endpointModes, timings, memory };
}
