/** `local status` and `local exec` for a VM bed: what runs, what answers, and commands over the bed's SSH. */
import * as fs from "fs";
import { InventoryNode, loadInventory } from "../../inventory/inventory";
import { connect } from "../../transport/ssh";
import { shellQuote } from "../../transport/shell";
import { inventoryPath } from "../common/inventory-file";
import { sshBanner } from "../common/ssh-banner";
import { canonicalDir } from "../common/bed-dir";
import { VM_PUBLIC_RANGE } from "./plan";
import { readVmState, vmPaths } from "./state";
import { isOurQemu, readPid, rssMiB } from "./qemu";

export interface VmStatus {
  readonly name: string;
  readonly role: string;
  readonly publicIp: string;
  readonly privateIp: string;
  readonly running: boolean;
  readonly rssMiB?: number;
  readonly sshd: boolean;
  /** Engine version, when docker answers over SSH. */
  readonly engine?: string;
}

/** `local status` asks each VM's dockerd once; a VM that does not answer in this long shows DOWN. */
const STATUS_DOCKER_TIMEOUT_MS = 10_000;
/** `local exec` runs what the user asked for; long enough for a stack deploy, short enough to end a hung one. */
const EXEC_TIMEOUT_MS = 600_000;

function inventoryNodes(dir: string): Map<string, InventoryNode> {
  try {
    return new Map(loadInventory(inventoryPath(dir)).nodes.map((n) => [n.name, n]));
  } catch {
    return new Map();
  }
}

async function engineOf(node: InventoryNode | undefined): Promise<string | undefined> {
  if (!node?.privateKeyPath) return undefined;
  try {
    const s = await connect(node, fs.readFileSync(node.privateKeyPath, "utf8"));
    try {
      const r = await s.run("docker info --format '{{.ServerVersion}}'", {
        allowFailure: true,
        timeoutMs: STATUS_DOCKER_TIMEOUT_MS,
      });
      return r.code === 0 ? r.stdout.trim() : undefined;
    } finally {
      s.close();
    }
  } catch {
    return undefined;
  }
}

/** What `local status` reads of a VM bed; undefined when DIR holds none. */
export interface VmBedStatus {
  readonly dir: string;
  readonly namespace: string;
  readonly publicSubnet: string;
  readonly privateCidr: string;
  readonly accelerator: string;
  readonly acceleratorReason: string;
  readonly imageHash: string;
  readonly vms: readonly VmStatus[];
}

export async function readVmBedStatus(dirArg: string): Promise<VmBedStatus | undefined> {
  const dir = canonicalDir(dirArg);
  const s = readVmState(dir);
  if (!s) return undefined;
  const inv = inventoryNodes(dir);
  const vms: VmStatus[] = await Promise.all(
    s.vms.map(async (v) => {
      const pid = readPid(vmPaths(dir, v.name).pidFile) ?? 0;
      const running = pid > 0 && isOurQemu(pid, `hsv${s.k}-${v.name}`);
      const rss = running ? rssMiB(pid) : undefined;
      const sshd = running && (await sshBanner(v.publicIp));
      const engine = sshd ? await engineOf(inv.get(v.name)) : undefined;
      return {
        name: v.name,
        role: inv.get(v.name)?.role ?? "-",
        publicIp: v.publicIp,
        privateIp: v.privateIp,
        running,
        sshd,
        ...(rss !== undefined ? { rssMiB: rss } : {}),
        ...(engine ? { engine } : {}),
      };
    }),
  );
  return {
    dir,
    namespace: `hsv${s.k}`,
    publicSubnet: `10.215.${s.k}.0/25`,
    privateCidr: s.privateCidr,
    accelerator: s.accel,
    acceleratorReason: s.accelReason,
    imageHash: s.image.hash,
    vms,
  };
}

/** Formatted status of the VM bed in DIR. */
export async function vmBedStatus(dirArg: string): Promise<string> {
  const s = await readVmBedStatus(dirArg);
  if (!s) return `no VM bed in ${canonicalDir(dirArg)}\n`;
  const table = [
    ["VM", "ROLE", "PUBLIC", "PRIVATE", "QEMU", "RSS", "SSHD", "DOCKER"],
    ...s.vms.map((r) => [
      r.name,
      r.role,
      r.publicIp,
      r.privateIp,
      r.running ? "running" : "DOWN",
      r.rssMiB !== undefined ? `${r.rssMiB} MiB` : "-",
      r.sshd ? "up" : "DOWN",
      r.engine ?? "DOWN",
    ]),
  ];
  const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const out = [
    `VM bed ${s.dir}: namespace ${s.namespace}, public ${s.publicSubnet} (of ${VM_PUBLIC_RANGE}), private ${s.privateCidr}`,
    `accelerator ${s.accelerator.toUpperCase()}: ${s.acceleratorReason}`,
    `guest image ${s.imageHash}: Debian 12, stock kernel (ESP, xfrm, IPVS, VXLAN as modules)`,
    ...table.map((r) =>
      r
        .map((c, i) => c.padEnd(w[i]))
        .join("  ")
        .trimEnd(),
    ),
  ];
  return out.join("\n") + "\n";
}

/** Runs a command on a VM over SSH with the bed's key and pinned host key; returns its exit code. */
export async function vmExec(
  dirArg: string,
  node: string,
  command: readonly string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const dir = canonicalDir(dirArg);
  const inv = inventoryNodes(dir);
  const n = inv.get(node);
  if (!n)
    throw new Error(
      `no node "${node}" in the VM bed's inventory ${inventoryPath(dir)}; nodes: ${[...inv.keys()].join(", ") || "none"}`,
    );
  if (!n.privateKeyPath) throw new Error(`the inventory has no privateKeyPath for ${node}`);
  const s = await connect(n, fs.readFileSync(n.privateKeyPath, "utf8"));
  try {
    const r = await s.run(command.map(shellQuote).join(" "), { allowFailure: true, timeoutMs: EXEC_TIMEOUT_MS });
    out.write(r.stdout);
    err.write(r.stderr);
    return r.code;
  } finally {
    s.close();
  }
}
