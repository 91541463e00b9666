/**
 * The VM bed for suites that need real guest kernels (netem, ESP): `local up --vm` in the suite's
 * own directory, torn down even when the suite fails. It offers what the resilience scenarios use
 * (test/integration/resilience-scenarios.ts: ScenarioBed): commands as root over SSH with the
 * pinned host keys, `local shape` (latency, loss, freezing), and power cuts that keep the disk.
 */
import * as fs from "fs";
import { execFileSync } from "child_process";
import { Inventory, loadInventory } from "../../inventory/inventory";
import {
  CLEAR,
  downAnyBed,
  inventoryPath,
  powerOffVm,
  powerOnVm,
  qemuPidOf,
  readVmState,
  RunResult,
  selectNodes,
  ShapeAction,
  ShapeRequest,
  shapeVmNodes,
  upVmBed,
  vmPaths,
  vmShapeContext,
  waitUntilReady,
} from "../../local";
import { connect } from "../../transport/ssh";
import { bedFixtureDir } from "./bed-fixture";

/** Booting 6 TCG VMs at once took 10–25 min on a busy 2-core machine; beforeAll gets this long. */
export const VM_BED_SETUP_TIMEOUT_MS = 45 * 60_000;
/** A command run by a test; docker commands on a TCG guest answer in seconds. */
const EXEC_TIMEOUT_MS = 300_000;

export interface VmBedFixtureOptions {
  /** Suite name: names the bed's directory, so it must be unique per suite. */
  readonly name: string;
  readonly nodes: number;
  readonly managers: number;
  /** Progress lines of the bed's start. Default: none. */
  readonly log?: (line: string) => void;
}

export class VmBedFixture {
  constructor(readonly dir: string) {}

  get inventory(): Inventory {
    return loadInventory(inventoryPath(this.dir));
  }

  get inventoryPath(): string {
    return inventoryPath(this.dir);
  }

  private key(): string {
    return fs.readFileSync(`${this.dir}/id_ed25519`, "utf8");
  }

  private node(name: string) {
    const n = this.inventory.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}" in the VM bed ${this.dir}`);
    return n;
  }

  async exec(node: string, script: string): Promise<RunResult> {
    const s = await connect(this.node(node), this.key());
    try {
      const r = await s.run(script, { allowFailure: true, timeoutMs: EXEC_TIMEOUT_MS });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    } finally {
      s.close();
    }
  }

  shape(nodes: string | readonly string[], req: ShapeRequest): Promise<ShapeAction[]> {
    const ctx = vmShapeContext(this.dir);
    return shapeVmNodes(ctx, selectNodes(ctx.inventory.nodes, typeof nodes === "string" ? [nodes] : nodes), req);
  }

  clearShape(): Promise<ShapeAction[]> {
    return this.shape("all", CLEAR);
  }

  powerOff(node: string): Promise<void> {
    return powerOffVm(this.dir, node);
  }

  /** Starts the VM from its own disk and waits as a user would: sshd, cloud-init's boot stages, docker. */
  async powerOn(node: string): Promise<void> {
    const n = this.node(node);
    const startedAt = Date.now();
    await powerOnVm(this.dir, node);
    await waitUntilReady({
      target: n,
      privateKey: this.key(),
      startedAt,
      consoleTail: () => fs.readFileSync(vmPaths(this.dir, node).console, "utf8").split("\n").slice(-40).join("\n"),
      running: () => qemuPidOf(this.dir, node) !== undefined,
    });
  }

  /**
   * A lost server replaced the way Hetzner's rebuild does it: powered off, a fresh disk from the
   * bed's guest image, the same address and user data (so the same pinned host key), then booted
   * and waited for. Its swarm state is gone, as on any replacement.
   */
  async rebuild(node: string): Promise<void> {
    await this.powerOff(node);
    const s = readVmState(this.dir);
    if (!s) throw new Error(`no VM bed in ${this.dir}`);
    const disk = vmPaths(this.dir, node).disk;
    fs.rmSync(disk, { force: true });
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", s.image.disk, "-F", "qcow2", disk]);
    await this.powerOn(node);
  }
}

/** Starts a VM bed in the suite's own directory (removing whatever an earlier run left there). */
export async function startVmBedFixture(o: VmBedFixtureOptions): Promise<VmBedFixture> {
  const dir = bedFixtureDir(o.name);
  await downAnyBed(dir);
  const r = await upVmBed({ dir, nodes: o.nodes, managers: o.managers, ...(o.log ? { log: o.log } : {}) });
  return new VmBedFixture(r.bed.dir);
}

/** Jest wiring, as useBedFixture: start in beforeAll, always remove in afterAll. */
export function useVmBedFixture(o: VmBedFixtureOptions): () => VmBedFixture {
  let bed: VmBedFixture | undefined;
  beforeAll(async () => {
    bed = await startVmBedFixture(o);
  }, VM_BED_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await downAnyBed(bedFixtureDir(o.name));
  }, VM_BED_SETUP_TIMEOUT_MS);
  return () => {
    if (!bed) throw new Error(`VM test bed "${o.name}" did not start; see the beforeAll error`);
    return bed;
  };
}
