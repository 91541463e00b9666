/**
 * `local up` and friends: wires the planning, network, node, image and inventory modules together.
 * Order matters only where the kernel needs it (bridge before veths, namespaces before daemons);
 * everything per node runs in parallel, which is what keeps 10 nodes well under 15 s on 2 cores.
 */
import * as fs from "fs";
import * as path from "path";
import { Inventory, loadInventory, NodeRole } from "../../inventory/inventory";
import { createNodeCgroups, hostHierarchies } from "./cgroups";
import { buildImageTar } from "../common/container-image";
import { importImage } from "./probe";
import { hostKeysOf, inventoryPath, knownHostsPath, writeInventory } from "../common/inventory-file";
import { buildInventory } from "./inventory";
import { claimBridge, configureBridge, createNodeLinks } from "./network";
import {
  BedContext,
  createNodeNamespaces,
  ensureNsDir,
  nodeProcesses,
  startDockerd,
  startSshd,
  waitDockerd,
  waitSshd,
} from "./node";
import { nodePaths, NodeRecord, writeNodeFiles } from "./node-files";
import { ensureClientKey } from "../common/client-key";
import { bedNames, netnsOf, nodeAddress, planExtraNode, planNodes, PlannedNode, vethOf } from "./plan";
import { ensurePrerequisites } from "../common/prerequisites";
import { canonicalDir, dirIdOf } from "../common/bed-dir";
import { BedState, cgroupBeds, downBed, ownerAlias, readState, writeState } from "./state";

/** Where `local up` puts a bed unless told otherwise (git-ignored). */
export const DEFAULT_DIR = ".hcloud-swarm/local";
/** 20 dockerds starting at once on 2 cores answer within ~10 s; a minute means something is broken. */
const READY_TIMEOUT_MS = 60_000;

export interface UpOptions {
  /** Bed directory. Default DEFAULT_DIR. */
  readonly dir?: string;
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of the nodes are managers (the first ones). Default 1. */
  readonly managers?: number;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Progress messages. Default: none. */
  readonly log?: (msg: string) => void;
}

export interface Bed {
  readonly dir: string;
  readonly ctx: BedContext;
  readonly nodes: readonly NodeRecord[];
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  readonly knownHostsPath: string;
  readonly privateKeyPath: string;
  /** Milliseconds per phase of the last `up`/`addNode`, for the benchmark. */
  readonly timings: Readonly<Record<string, number>>;
}

function record(k: number, p: PlannedNode): NodeRecord {
  return { ...p, ip: nodeAddress(k, p.octet), netns: netnsOf(k, p.name), veth: vethOf(k, p.octet) };
}

/** Brings nodes from nothing to "sshd and dockerd answer, image imported"; returns their host keys. */
async function startNodes(
  ctx: BedContext,
  nodes: readonly NodeRecord[],
  publicKey: string,
  tar: string,
  timings: Record<string, number>,
): Promise<Map<string, string>> {
  let t = Date.now();
  const lap = (name: string): void => {
    timings[name] = (timings[name] ?? 0) + Date.now() - t;
    t = Date.now();
  };
  const keys = await Promise.all(nodes.map((n) => writeNodeFiles(ctx.names, n, nodePaths(ctx.dir, n.name), publicKey)));
  lap("files+hostkeys");
  await createNodeLinks(ctx.names, nodes);
  for (const n of nodes) createNodeCgroups(ctx.hierarchies, ctx.names.cgroup, n.name);
  await Promise.all(nodes.map((n) => createNodeNamespaces(ctx, n)));
  lap("namespaces");
  for (const n of nodes) {
    startDockerd(ctx, n);
    startSshd(ctx, n);
  }
  await Promise.all(
    nodes.map((n) => Promise.all([waitDockerd(ctx, n, READY_TIMEOUT_MS), waitSshd(ctx, n, READY_TIMEOUT_MS)])),
  );
  lap("daemons");
  await Promise.all(nodes.map((n) => importImage(nodeProcesses(ctx, n).dockerd ?? 0, tar)));
  lap("image");
  return new Map(nodes.map((n, i) => [n.name, keys[i]]));
}

/** `local up`: removes leftovers of DIR, then creates a fresh bed and writes DIR/inventory.json. */
export async function upBed(opts: UpOptions = {}): Promise<Bed> {
  const started = Date.now();
  const timings: Record<string, number> = {};
  await ensurePrerequisites({ install: opts.install, log: opts.log });
  const plan = planNodes({ nodes: opts.nodes, managers: opts.managers });
  const dir = canonicalDir(opts.dir ?? DEFAULT_DIR, true);
  const cleaned = await downBed(dir);
  if (cleaned.removed.length > 0) opts.log?.(`removed leftovers of an earlier bed in ${dir}`);
  timings.cleanup = Date.now() - started;
  const hierarchies = hostHierarchies();
  const dirId = dirIdOf(dir);
  const k = await claimBridge(ownerAlias(dirId, dir), cgroupBeds(hierarchies));
  const names = bedNames(k, dirId);
  const nodes = plan.map((p) => record(k, p));
  // Written before anything else exists, so a crash from here on leaves a state `down` can follow.
  writeState({ version: 1, dir, dirId, k, nodes, createdAt: new Date().toISOString() });
  const ctx: BedContext = { dir, names, hierarchies };
  const t0 = Date.now();
  const [, client, tar] = await Promise.all([
    configureBridge(names),
    ensureClientKey(dir),
    buildImageTar(dir),
    ensureNsDir(dir),
  ]);
  timings["bridge+firewall"] = Date.now() - t0;
  const hostKeys = await startNodes(ctx, nodes, client.publicKey, tar, timings);
  const inventory = buildInventory({ dir, nodes, hostKeys, privateKeyPath: client.privateKeyPath });
  const invPath = writeInventory(dir, inventory);
  timings.total = Date.now() - started;
  return {
    dir,
    ctx,
    nodes,
    inventory,
    inventoryPath: invPath,
    knownHostsPath: knownHostsPath(dir),
    privateKeyPath: client.privateKeyPath,
    timings,
  };
}

/** Opens an existing bed from DIR/state.json and DIR/inventory.json. */
export function openBed(dirArg: string = DEFAULT_DIR): Bed {
  const dir = canonicalDir(dirArg);
  const state = readState(dir);
  if (!state)
    throw new Error(`no test bed in ${dir} (no state.json); start one with \`hcloud-swarm local up --dir ${dirArg}\``);
  const inventory = loadInventory(inventoryPath(dir));
  const ctx: BedContext = { dir, names: bedNames(state.k, state.dirId), hierarchies: hostHierarchies() };
  const privateKeyPath = path.join(dir, "id_ed25519");
  return {
    dir,
    ctx,
    nodes: state.nodes,
    inventory,
    inventoryPath: inventoryPath(dir),
    knownHostsPath: knownHostsPath(dir),
    privateKeyPath,
    timings: {},
  };
}

/** Adds one node of `role` to a running bed (next free name and address) and rewrites the inventory. */
export async function addNode(bed: Bed, role: NodeRole = "worker"): Promise<Bed> {
  const state = readState(bed.dir);
  if (!state) throw new Error(`no test bed in ${bed.dir}`);
  const node = record(state.k, planExtraNode(state.nodes, role));
  const nodes = [...state.nodes, node];
  const next: BedState = { ...state, nodes };
  writeState(next);
  const timings: Record<string, number> = {};
  const publicKey = fs.readFileSync(`${bed.privateKeyPath}.pub`, "utf8");
  const tar = path.join(bed.dir, "image", "busybox.tar");
  const keys = await startNodes(bed.ctx, [node], publicKey, tar, timings);
  const hostKeys = new Map([...hostKeysOf(bed.inventory), ...keys]);
  const inventory = buildInventory({ dir: bed.dir, nodes, hostKeys, privateKeyPath: bed.privateKeyPath });
  writeInventory(bed.dir, inventory);
  return { ...bed, nodes, inventory, timings };
}
