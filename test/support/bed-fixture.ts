/**
 * A fresh local test bed for an integration suite, torn down even when the suite fails:
 *
 *   const bed = useBedFixture({ name: "bootstrap-basic", nodes: 3, managers: 1 });
 *   it("…", async () => { const inv = bed().inventory; await bed().exec("worker-1", "docker info"); });
 *
 * Each suite gets its own directory (os.tmpdir()/hcloud-swarm-tests/<name>), hence its own /24,
 * bridge and names, so suites may run in parallel; leftovers of a crashed earlier run with the same
 * name are removed before the bed starts. Needs root on Linux (the integration project runs as root).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Inventory, InventoryNode, NodeRole } from "../../inventory/inventory";
import {
  addNode,
  Bed,
  BUSYBOX,
  CLEAR,
  createIntruder,
  createMetadataService,
  createNodeCgroups,
  createOutsider,
  downBed,
  dropSshSessions,
  execInNode,
  LOCAL_IMAGE,
  METADATA_ADDRESS,
  nodeProcesses,
  NodeProcesses,
  NodeRecord,
  NodeShape,
  powerOff,
  procsFiles,
  readShape,
  run,
  RunResult,
  selectNodes,
  ShapeAction,
  shapeNodes,
  ShapeRequest,
  sshdAnswers,
  startDockerd,
  startSshd,
  stopPid,
  upBed,
  waitDockerd,
  waitSshd,
} from "../../local";
import { CloudInitState, cloudInitStateScript } from "./cloud-init";
import { waitFor } from "../../common/time";

export { LOCAL_IMAGE };
export type { RunResult };

/** Daemons restarted by a test answer within seconds; this is the "something is broken" bound. */
const RESTART_TIMEOUT_MS = 60_000;
/** Bringing up 20 nodes takes ~10 s on 2 cores; beforeAll gets this long. */
export const BED_SETUP_TIMEOUT_MS = 180_000;

export interface BedFixtureOptions {
  /** Suite name: names the bed's directory, so it must be unique per suite. */
  readonly name: string;
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of them are managers (the first ones). Default 1. */
  readonly managers?: number;
}

export interface Outsider {
  /** Address of a namespace outside the bed, reachable from the host but (by design) not from nodes. */
  readonly ip: string;
  /** Runs a shell script in the outsider namespace. */
  exec(script: string): Promise<RunResult>;
}

export interface BedFixture {
  readonly dir: string;
  /** Current inventory (updated by addNode); also on disk at inventoryPath. */
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  /** known_hosts built from the inventory's pinned host keys. */
  readonly knownHostsPath: string;
  readonly privateKeyPath: string;
  /** The bed's gateway on the host bridge: the host's address as nodes see it. */
  readonly gateway: string;
  node(name: string): InventoryNode;
  /** Runs a shell script ON the node (its namespaces and cgroup) as root, without SSH. Never throws on exit codes. */
  exec(node: string, script: string): Promise<RunResult>;
  /** Runs a command over real SSH with the inventory key and pinned host keys (StrictHostKeyChecking=yes). */
  ssh(node: string, command: string, knownHostsPath?: string): Promise<RunResult>;
  /** Stops the listening sshd (new connections are refused; open sessions continue). */
  stopSshd(node: string): Promise<void>;
  /** Starts sshd; with delayMs it returns at once and sshd comes up that much later. */
  startSshd(node: string, opts?: { delayMs?: number }): Promise<void>;
  /** Kills the node's SSH session processes: every open SSH connection to it drops mid-run. Returns how many. */
  dropSshSessions(node: string): Promise<number>;
  stopDocker(node: string): Promise<void>;
  startDocker(node: string): Promise<void>;
  /** Kills every process of the node at once (power cut). Its /var/lib/docker survives for powerOn. */
  powerOff(node: string): Promise<void>;
  /** Starts dockerd and sshd again after powerOff and waits until both answer. */
  powerOn(node: string): Promise<void>;
  processes(node: string): NodeProcesses;
  /** Adds a node (next free name of that role) and rewrites the inventory. */
  addNode(role?: NodeRole): Promise<InventoryNode>;
  /** Creates (once) a namespace outside the bed, for proving nodes can't reach it. */
  outsider(): Promise<Outsider>;
  /** Sets conditions on nodes ("all" for every node), as `local shape` does; returns the changes made. */
  shape(nodes: string | readonly string[], req: ShapeRequest): Promise<ShapeAction[]>;
  /** Lifts every condition on every node. */
  clearShape(): Promise<ShapeAction[]>;
  /** The conditions in force on a node, read back from its rules, cgroups and processes. */
  readShape(node: string): Promise<NodeShape>;
  /** Puts Debian's real cloud-init (unpacked aside, never installed) on this node's PATH only, in the given state; "absent" takes it away. */
  cloudInit(node: string, state: CloudInitState): Promise<void>;
  /**
   * Creates (once) an "intruder" on the bed's own bridge, at an address no node has: a foreign server
   * on the same private network. Nothing on the host filters it; only the nodes' own firewalls can.
   */
  intruder(): Promise<Outsider>;
  /**
   * Starts (once) a stand-in for the metadata service at 169.254.169.254 (a namespace on the bridge,
   * routed from every node present now), serving `body` at /hetzner/v1/userdata over HTTP port 80.
   */
  metadata(body: string): Promise<Outsider>;
  down(): Promise<void>;
}

/**
 * Several checkouts (git worktrees, CI beside a developer) may run the same suite at once; each
 * keeps its own beds, or one checkout's `up` would remove the other's bed as a leftover.
 */
const CHECKOUT_ID = crypto.createHash("sha256").update(path.resolve(__dirname, "../..")).digest("hex").slice(0, 8);

export function bedFixtureDir(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new Error(`test bed name must be lowercase letters, digits and dashes, got "${name}"`);
  return path.join(os.tmpdir(), "hcloud-swarm-tests", CHECKOUT_ID, name);
}

class LiveBedFixture implements BedFixture {
  private outsiderReady?: Promise<Outsider>;
  private intruderReady?: Promise<Outsider>;
  private metadataReady?: Promise<Outsider>;
  constructor(private bed: Bed) {}

  get dir(): string {
    return this.bed.dir;
  }
  get inventory(): Inventory {
    return this.bed.inventory;
  }
  get inventoryPath(): string {
    return this.bed.inventoryPath;
  }
  get knownHostsPath(): string {
    return this.bed.knownHostsPath;
  }
  get privateKeyPath(): string {
    return this.bed.privateKeyPath;
  }
  get gateway(): string {
    return this.bed.ctx.names.gateway;
  }

  private rec(name: string): NodeRecord {
    const n = this.bed.nodes.find((x) => x.name === name);
    if (!n)
      throw new Error(`no node "${name}" in the test bed; nodes: ${this.bed.nodes.map((x) => x.name).join(", ")}`);
    return n;
  }

  node(name: string): InventoryNode {
    const n = this.bed.inventory.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node "${name}" in the inventory`);
    return n;
  }

  exec(node: string, script: string): Promise<RunResult> {
    return execInNode(this.bed.ctx, this.rec(node), script, { allowFail: true, timeoutMs: 300_000 });
  }

  ssh(node: string, command: string, knownHostsPath = this.bed.knownHostsPath): Promise<RunResult> {
    const n = this.node(node);
    return run(
      "ssh",
      [
        "-i",
        this.bed.privateKeyPath,
        "-o",
        `UserKnownHostsFile=${knownHostsPath}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-p",
        String(n.port),
        `${n.user}@${n.host}`,
        command,
      ],
      { allowFail: true, timeoutMs: 300_000 },
    );
  }

  async stopSshd(node: string): Promise<void> {
    const n = this.rec(node);
    await stopPid(nodeProcesses(this.bed.ctx, n).sshd);
    await waitFor(async () => !(await sshdAnswers(n)), 5_000);
  }

  async startSshd(node: string, opts: { delayMs?: number } = {}): Promise<void> {
    const n = this.rec(node);
    startSshd(this.bed.ctx, n, opts.delayMs ?? 0);
    if (!opts.delayMs) await waitSshd(this.bed.ctx, n, RESTART_TIMEOUT_MS);
  }

  dropSshSessions(node: string): Promise<number> {
    return dropSshSessions(this.bed.ctx, this.rec(node));
  }

  async stopDocker(node: string): Promise<void> {
    await stopPid(nodeProcesses(this.bed.ctx, this.rec(node)).dockerd);
  }

  async startDocker(node: string): Promise<void> {
    const n = this.rec(node);
    startDockerd(this.bed.ctx, n);
    await waitDockerd(this.bed.ctx, n, RESTART_TIMEOUT_MS);
  }

  powerOff(node: string): Promise<void> {
    return powerOff(this.bed.ctx, this.rec(node));
  }

  async powerOn(node: string): Promise<void> {
    const n = this.rec(node);
    startDockerd(this.bed.ctx, n);
    startSshd(this.bed.ctx, n);
    await Promise.all([
      waitDockerd(this.bed.ctx, n, RESTART_TIMEOUT_MS),
      waitSshd(this.bed.ctx, n, RESTART_TIMEOUT_MS),
    ]);
  }

  processes(node: string): NodeProcesses {
    return nodeProcesses(this.bed.ctx, this.rec(node));
  }

  async addNode(role: NodeRole = "worker"): Promise<InventoryNode> {
    this.bed = await addNode(this.bed, role);
    return this.bed.inventory.nodes[this.bed.inventory.nodes.length - 1];
  }

  /** A namespace the tests run scripts in; its processes join the bed's cgroup too, so `down` kills them with the nodes. */
  private extraNamespace(cgroup: string, netns: string, ip: string): Outsider {
    const { names, hierarchies } = this.bed.ctx;
    createNodeCgroups(hierarchies, names.cgroup, cgroup);
    const join = `for f in ${procsFiles(hierarchies, names.cgroup, cgroup).join(" ")}; do echo $$ > "$f"; done\n`;
    return {
      ip,
      exec: (script: string) =>
        run("nsenter", [`--net=/run/netns/${netns}`, "/bin/sh", "-c", join + script], { allowFail: true }),
    };
  }

  outsider(): Promise<Outsider> {
    const { names } = this.bed.ctx;
    this.outsiderReady ??= createOutsider(names).then(() =>
      this.extraNamespace("outsider", names.outsiderNetns, names.outsiderAddress),
    );
    return this.outsiderReady;
  }

  shape(nodes: string | readonly string[], req: ShapeRequest): Promise<ShapeAction[]> {
    return shapeNodes(this.bed.ctx, selectNodes(this.bed.nodes, typeof nodes === "string" ? [nodes] : nodes), req);
  }

  clearShape(): Promise<ShapeAction[]> {
    return this.shape("all", CLEAR);
  }

  readShape(node: string): Promise<NodeShape> {
    return readShape(this.bed.ctx, this.rec(node));
  }

  async cloudInit(node: string, state: CloudInitState): Promise<void> {
    const script = await cloudInitStateScript(state);
    const r = await this.exec(node, script);
    if (r.code !== 0) throw new Error(`setting cloud-init to ${state} on ${node} failed: ${r.stderr}`);
  }

  intruder(): Promise<Outsider> {
    this.intruderReady ??= createIntruder(this.bed.ctx.names).then((i) =>
      this.extraNamespace("intruder", i.netns, i.address),
    );
    return this.intruderReady;
  }

  metadata(body: string): Promise<Outsider> {
    this.metadataReady ??= createMetadataService(
      this.bed.ctx.names,
      this.bed.nodes.map((n) => n.netns),
    ).then(async (m) => {
      const ns = this.extraNamespace("metadata", m.netns, METADATA_ADDRESS);
      const root = path.join(this.bed.dir, "metadata");
      fs.mkdirSync(path.join(root, "hetzner", "v1"), { recursive: true });
      fs.writeFileSync(path.join(root, "hetzner", "v1", "userdata"), body);
      // busybox httpd daemonizes; it stays in the bed's cgroup, so `down` ends it.
      const r = await ns.exec(`exec ${BUSYBOX} httpd -p ${METADATA_ADDRESS}:80 -h ${root}`);
      if (r.code !== 0) throw new Error(`the metadata stand-in did not start: ${r.stderr}`);
      return ns;
    });
    return this.metadataReady;
  }

  async down(): Promise<void> {
    await downBed(this.bed.dir);
  }
}

/** Starts a bed in the suite's own directory (removing leftovers of an earlier run first). */
export async function startBedFixture(opts: BedFixtureOptions): Promise<BedFixture> {
  const bed = await upBed({
    dir: bedFixtureDir(opts.name),
    nodes: opts.nodes,
    managers: opts.managers,
    install: false,
  });
  return new LiveBedFixture(bed);
}

/** Removes the bed of a suite by name, whatever state it is in. */
export async function downBedFixture(name: string): Promise<void> {
  await downBed(bedFixtureDir(name));
}

/**
 * Jest wiring: starts the bed in beforeAll and always removes it in afterAll (by directory, so
 * even a bed whose start failed halfway is cleaned). Returns a getter for use inside tests.
 */
export function useBedFixture(opts: BedFixtureOptions): () => BedFixture {
  let bed: BedFixture | undefined;
  beforeAll(async () => {
    bed = await startBedFixture(opts);
  }, BED_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await downBedFixture(opts.name);
  }, BED_SETUP_TIMEOUT_MS);
  return () => {
    if (!bed) throw new Error(`test bed "${opts.name}" did not start; see the beforeAll error`);
    return bed;
  };
}
