/**
 * What the rehearsal looks at besides the engine's own report, on the real things: the VMs and
 * namespace of the bed, the stack's outputs as `pulumi stack output` would give them, and the
 * swarm itself over SSH (pinned host keys, as every command of the product connects).
 */
import * as fs from "fs";
import * as path from "path";
import { type Inventory, validateInventory } from "../inventory/inventory";
import { waitFor } from "../common/time";
import { replicas } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { qemuPidsByPrefix, readVmState } from "../local";
import { FileStore } from "./engine/checkpoint";
import { unwrap } from "./engine/properties";
import { bedDir, checkpointFile } from "./step";
import { STACKS_TYPE } from "./tally";

/**
 * How long the rehearsal watches the stacks converge after a step. Under TCG on a loaded host the
 * first task on a new encrypted overlay was seen to need over 3 minutes; 10 is "broken".
 */
export const STACKS_OBSERVE_TIMEOUT_MS = 10 * 60_000;
const STACKS_POLL_MS = 5_000;

/** Names of the VMs the bed holds now (its state, as `local status` reads it). */
export function vmsOf(dir: string): string[] {
  return (readVmState(bedDir(dir))?.vms ?? []).map((v) => v.name).sort();
}

/** What is left of the bed on this machine: its namespace and qemu processes. */
export function leftovers(k: number): { namespace: boolean; qemu: number[] } {
  return { namespace: fs.existsSync(`/run/netns/hsv${k}`), qemu: qemuPidsByPrefix(`hsv${k}-`) };
}

/** The bed's number, while it exists. */
export function bedNumber(dir: string): number | undefined {
  return readVmState(bedDir(dir))?.k;
}

export interface UserFiles {
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  /** The deploy key, mode 0600: `pulumi stack output --show-secrets sshPrivateKey > FILE`. */
  readonly identityPath: string;
}

/**
 * The user's `pulumi stack output inventory > inventory.json` and `pulumi stack output
 * --show-secrets sshPrivateKey > key`, from the rehearsal's checkpoint.
 */
export function writeUserFiles(dir: string): UserFiles {
  const outputs = unwrap(new FileStore(checkpointFile(dir)).load().outputs) as Record<string, unknown>;
  const inventory = validateInventory(outputs.inventory, "the stack output `inventory`");
  const key = outputs.sshPrivateKey;
  if (typeof key !== "string" || !key.includes("PRIVATE KEY"))
    throw new Error("the stack has no `sshPrivateKey` output");
  const inventoryPath = path.join(dir, "inventory.json");
  const identityPath = path.join(dir, "id_deploy");
  fs.writeFileSync(inventoryPath, JSON.stringify(inventory, null, 2) + "\n");
  fs.writeFileSync(identityPath, key.endsWith("\n") ? key : key + "\n", { mode: 0o600 });
  fs.chmodSync(identityPath, 0o600);
  return { inventory, inventoryPath, identityPath };
}

/** Each swarm member's address as the managers know it (`docker node inspect`), by hostname. */
export async function swarmAddresses(files: UserFiles): Promise<Map<string, string>> {
  const s = await connectManager(files.inventory, files.identityPath);
  try {
    const ids = (await s.run("docker node ls --quiet")).stdout.split(/\s+/).filter(Boolean);
    const out = (
      await s.run(`docker node inspect --format '{{.Description.Hostname}} {{.Status.Addr}}' ${ids.join(" ")}`)
    ).stdout;
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/) as [string, string]),
    );
  } finally {
    s.close();
  }
}

/** The stacks the checkpoint's Stacks resource deploys, by name. */
export function deployedStacks(dir: string): string[] {
  const r = new FileStore(checkpointFile(dir)).load().resources.find((x) => x.type === STACKS_TYPE);
  const stacks = (unwrap(r?.inputs.stacks) as { name: string }[] | undefined) ?? [];
  return stacks.map((s) => s.name);
}

/**
 * Watches every service of `stacks` until each runs its desired tasks (as `docker stack services`
 * shows them); returns what still did not, after STACKS_OBSERVE_TIMEOUT_MS. Observes only.
 */
export async function unconvergedServices(files: UserFiles, stacks: readonly string[]): Promise<string[]> {
  const s = await connectManager(files.inventory, files.identityPath);
  let behind: string[] = [];
  try {
    await waitFor(
      async () => {
        behind = [];
        for (const stack of stacks) {
          const rs = await replicas(s, stack);
          if (rs.length === 0) behind.push(`stack ${stack} has no services`);
          for (const r of rs)
            if (r.running < r.desired || r.desired === 0) behind.push(`${r.name} ${r.running}/${r.desired} running`);
        }
        return behind.length === 0;
      },
      STACKS_OBSERVE_TIMEOUT_MS,
      STACKS_POLL_MS,
    );
    return behind;
  } finally {
    s.close();
  }
}
