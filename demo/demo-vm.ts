/**
 * `npm run demo:vm`: the journey on 3 real Debian VMs (see vm-journey.ts), ending with what was
 * proven, from what the run observed. Exit 0 only when `verify` and `verify --wire` both proved
 * everything. `npm run demo:vm:down` removes the VMs. `npm run demo` stays the fast namespace demo.
 */
import { runVmJourney } from "./vm-journey";

/** Where the VM demo's bed lives (git-ignored), apart from the namespace demo's. */
export const VM_DEMO_DIR = ".hcloud-swarm/local-vm";

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function demo(): Promise<number> {
  const started = Date.now();
  console.log("== hcloud-swarm on 3 real Debian 12 VMs: booted by cloud-init from the program's own user data, then bootstrap, stacks, verify, verify --wire");
  const r = await runVmJourney({ dir: VM_DEMO_DIR, nodes: 3 });
  console.log(`\n${"=".repeat(78)}\n== what this run proved\n${"=".repeat(78)}`);
  const proven: string[] = [];
  const broken: string[] = [];
  const vip = r.endpointModes.filter((s) => s.mode === "vip").map((s) => s.name);
  const dnsrr = r.endpointModes.filter((s) => s.mode !== "vip").map((s) => s.name);
  if (dnsrr.length === 0) proven.push(`every service runs in VIP mode (${vip.join(", ")}): no dnsrr fallback, this kernel has IPVS`);
  else broken.push(`services in ${dnsrr.join(", ")} fell back to dnsrr`);
  if (r.verify.exitCode === 0) proven.push(`verify: all ${r.verify.passed} checks proven (every overlay encrypted with MTU ${r.inventory.swarm?.overlayMtu}; every node enforces ESP and holds ESP states)`);
  else broken.push(`verify exited ${r.verify.exitCode}: ${r.verify.failed} failed, ${r.verify.unprovable} unprovable`);
  for (const c of r.wireChecks) (c.status === "pass" ? proven : broken).push(`${c.subject}: ${c.what}: ${c.detail}${c.status === "pass" ? "" : ` [${c.status.toUpperCase()}]`}`);
  if (r.wire.exitCode !== 0) broken.push(`verify --wire exited ${r.wire.exitCode}`);
  for (const p of proven) console.log(`  + ${p}`);
  for (const b of broken) console.log(`  - ${b}`);
  console.log("\nNot tested here: Traefik, WordPress and MySQL themselves (every service ran the local busybox image), Hetzner's API, its images and Docker's apt repository.");
  console.log(`\nFigures: ${Object.entries(r.timings).map(([k, v]) => `${k} ${secs(v)}`).join(", ")}; whole demo ${secs(Date.now() - started)}.`);
  console.log(`Memory (qemu RSS): ${r.memory.map((m) => `${m.name} ${m.rssMiB ?? "?"} MiB`).join(", ")}.`);
  console.log(`The VMs are still running: try npx hcloud-swarm local status --dir ${VM_DEMO_DIR}. Remove them with: npm run demo:vm:down`);
  return broken.length > 0 ? 1 : 0;
}

demo().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`\ndemo:vm failed: ${err instanceof Error ? err.message : String(err)}\nClean up with: npm run demo:vm:down`);
    process.exit(1);
  },
);
