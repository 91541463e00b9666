/**
 * `npm run demo:vm`: the journey on 3 real Debian VMs (see vm-journey.ts), ending with what was
 * proven, from what the run observed. Exit 0 only when `verify` and `verify --wire` both proved
 * everything. `npm run demo:vm:down` removes the VMs. `npm run demo` stays the fast namespace demo.
 *
 *   node dist/demo/demo-vm.js [--nodes N] [--dir DIR] [--result FILE]
 *
 * The CI journey (test/integration/vm-journey.test.ts) runs this very program on 2 VMs in a child
 * process, reading what it observed from --result, so the test process holds nothing of the journey
 * (no SSH session, no timer) and can always end it.
 */
import * as fs from "fs";
import { runVmJourney, type VmJourneyResult } from "./vm-journey";

/** Where the VM demo's bed lives (git-ignored), apart from the namespace demo's. */
export const VM_DEMO_DIR = ".hcloud-swarm/local-vm";
const DEMO_NODES = 3;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface DemoVmArgs {
  readonly nodes: number;
  readonly dir: string;
  /** Where the observed result is written as JSON. Default: nowhere. */
  readonly result?: string;
}

/** The demo's command line; every problem at once, naming the flag. */
export function parseDemoVmArgs(argv: readonly string[]): DemoVmArgs {
  const problems: string[] = [];
  const out: { nodes: number; dir: string; result?: string } = { nodes: DEMO_NODES, dir: VM_DEMO_DIR };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!["--nodes", "--dir", "--result"].includes(flag))
      problems.push(`unknown argument ${JSON.stringify(flag)}; use --nodes N, --dir DIR, --result FILE`);
    else if (value === undefined || value.startsWith("--")) problems.push(`${flag} needs a value`);
    else {
      i++;
      if (flag === "--nodes") {
        out.nodes = Number(value);
        if (!Number.isInteger(out.nodes) || out.nodes < 2)
          problems.push(
            `--nodes must be a whole number of at least 2 (the wire proof needs two nodes), got ${JSON.stringify(value)}`,
          );
      } else if (flag === "--dir") out.dir = value;
      else out.result = value;
    }
  }
  if (problems.length > 0) throw new Error(`demo:vm: ${problems.join("; ")}`);
  return out;
}

/** What the run proved and what it did not, from the observed result. */
export function provenAndBroken(r: VmJourneyResult): { proven: string[]; broken: string[] } {
  const proven: string[] = [];
  const broken: string[] = [];
  const vip = r.endpointModes.filter((s) => s.mode === "vip").map((s) => s.name);
  const dnsrr = r.endpointModes.filter((s) => s.mode !== "vip").map((s) => s.name);
  if (dnsrr.length === 0)
    proven.push(`every service runs in VIP mode (${vip.join(", ")}): no dnsrr fallback, this kernel has IPVS`);
  else broken.push(`services in ${dnsrr.join(", ")} fell back to dnsrr`);
  // The command the user typed decides first: a verify that said UNPROVABLE is not rescued by the later run.
  if (r.verifyExitCode !== 0) broken.push(`\`hcloud-swarm verify\` exited ${r.verifyExitCode} (0 = all proven)`);
  if (r.verifyExitCode === 0 && r.verify.exitCode === 0)
    proven.push(
      `verify: all ${r.verify.passed} checks proven (every overlay encrypted with MTU ${r.inventory.swarm?.overlayMtu}; every node enforces ESP and holds ESP states)`,
    );
  else if (r.verify.exitCode !== 0)
    broken.push(`verify's checks in the --wire run: ${r.verify.failed} failed, ${r.verify.unprovable} unprovable`);
  for (const c of r.wireChecks)
    (c.status === "pass" ? proven : broken).push(
      `${c.subject}: ${c.what}: ${c.detail}${c.status === "pass" ? "" : ` [${c.status.toUpperCase()}]`}`,
    );
  if (r.wire.exitCode !== 0) broken.push(`verify --wire exited ${r.wire.exitCode}`);
  return { proven, broken };
}

async function demo(args: DemoVmArgs): Promise<number> {
  const started = Date.now();
  console.log(
    `== hcloud-swarm on ${args.nodes} real Debian 12 VMs: booted by cloud-init from the program's own user data, then bootstrap, stacks, verify, verify --wire`,
  );
  const r = await runVmJourney({ dir: args.dir, nodes: args.nodes });
  if (args.result) fs.writeFileSync(args.result, JSON.stringify(r, null, 2) + "\n");
  console.log(`\n${"=".repeat(78)}\n== what this run proved\n${"=".repeat(78)}`);
  const { proven, broken } = provenAndBroken(r);
  for (const p of proven) console.log(`  + ${p}`);
  for (const b of broken) console.log(`  - ${b}`);
  console.log(
    "\nNot tested here: Traefik, WordPress and MySQL themselves (every service ran the local busybox image), Hetzner's API, its images and Docker's apt repository.",
  );
  console.log(
    `\nFigures: ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${secs(v)}`)
      .join(", ")}; whole demo ${secs(Date.now() - started)}.`,
  );
  console.log(`Memory (qemu RSS): ${r.memory.map((m) => `${m.name} ${m.rssMiB ?? "?"} MiB`).join(", ")}.`);
  console.log(
    `The VMs are still running: try npx hcloud-swarm local status --dir ${args.dir}. Remove them with: npx hcloud-swarm local down --dir ${args.dir}`,
  );
  return broken.length > 0 ? 1 : 0;
}

if (require.main === module) {
  let args: DemoVmArgs;
  try {
    args = parseDemoVmArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  // process.exit: whatever the journey left open (an SSH session to a VM that stopped answering) ends with it.
  demo(args).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(
        `\ndemo:vm failed: ${err instanceof Error ? err.message : String(err)}\nClean up with: npx hcloud-swarm local down --dir ${args.dir}`,
      );
      process.exit(1);
    },
  );
}
