/**
 * Helpers for the bootstrap integration suites: run the real CLI code path and read the swarm's
 * state back through the node's own docker (no SSH, no bootstrap code), so checks are independent.
 */
import * as fs from "fs";
import * as path from "path";
import { BootstrapError } from "../../bootstrap/actions";
import { Inventory, InventoryNode } from "../../inventory/inventory";
import { BootstrapResult } from "../../bootstrap/bootstrap";
import { sshStats, SshStats } from "../../transport/ssh";
import { runBootstrapCommand } from "../../cli/bootstrap";
import { BedFixture } from "../support/bed-fixture";

export interface CliRun {
  readonly result?: BootstrapResult;
  readonly error?: Error;
  /** Every line the user saw (verbose: every remote command too). */
  readonly output: string;
  /** SSH connections/commands this run used. */
  readonly ssh: SshStats;
}

/** Everything any run printed in this test file, for the no-secrets check. */
export const transcript: string[] = [];

/** Writes `inv` next to the bed's inventory and returns its path. */
export function writeInventory(bed: Pick<BedFixture, "dir">, inv: Inventory, name: string): string {
  const file = path.join(bed.dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(inv, null, 2));
  return file;
}

/** The bed's inventory with a change to its node list. */
export function withNodes(bed: BedFixture, nodes: (n: readonly InventoryNode[]) => InventoryNode[]): Inventory {
  return { ...bed.inventory, nodes: nodes(bed.inventory.nodes) };
}

/** Runs `hcloud-swarm bootstrap --inventory FILE --verbose` in-process, capturing its output. */
export async function runCli(inventory: string, onLine?: (line: string) => void): Promise<CliRun> {
  const lines: string[] = [];
  const before = sshStats();
  let result: BootstrapResult | undefined;
  let error: Error | undefined;
  try {
    result = await runBootstrapCommand({ inventory, verbose: true }, (l) => {
      lines.push(l);
      onLine?.(l);
    });
  } catch (err) {
    error = err as Error;
    lines.push(`error: ${error.message}`);
  }
  const after = sshStats();
  const output = lines.join("\n");
  transcript.push(output);
  return {
    result,
    error,
    output,
    ssh: {
      connections: after.connections - before.connections,
      connectAttempts: after.connectAttempts - before.connectAttempts,
      commands: after.commands - before.commands,
      roundTrips: after.roundTrips - before.roundTrips,
    },
  };
}

export function expectSuccess(run: CliRun): BootstrapResult {
  if (!run.result) throw new Error(`bootstrap failed:\n${run.output}`);
  return run.result;
}

export function actionsOf(run: CliRun): string[] {
  const actions = run.result?.actions ?? (run.error instanceof BootstrapError ? run.error.actions : []);
  return actions.map((a) => `${a.node} ${a.kind}`);
}

export interface Member {
  readonly id: string;
  readonly hostname: string;
  readonly status: string;
  readonly availability: string;
  readonly role: string;
  readonly managerStatus: string;
  readonly labels: Record<string, string>;
}

/** The cluster as the given manager's own docker reports it. */
export async function members(bed: Pick<BedFixture, "exec">, manager: string): Promise<Member[]> {
  const r = await bed.exec(manager, "docker node inspect $(docker node ls -q)");
  if (r.code !== 0) throw new Error(`docker node inspect on ${manager} failed: ${r.stderr}`);
  type Raw = {
    ID: string;
    Description: { Hostname: string };
    Status: { State: string };
    Spec: { Role: string; Availability: string; Labels?: Record<string, string> };
    ManagerStatus?: { Leader?: boolean; Reachability: string };
  };
  return (JSON.parse(r.stdout) as Raw[]).map((n) => ({
    id: n.ID,
    hostname: n.Description.Hostname,
    status: n.Status.State,
    availability: n.Spec.Availability,
    role: n.Spec.Role,
    managerStatus: n.ManagerStatus ? (n.ManagerStatus.Leader ? "leader" : n.ManagerStatus.Reachability) : "",
    labels: n.Spec.Labels ?? {},
  }));
}

/** `docker info` swarm state of a node, read on the node itself. */
export async function localState(bed: BedFixture, node: string): Promise<{ state: string; nodeId: string }> {
  const r = await bed.exec(node, "docker info --format '{{json .Swarm}}'");
  const j = JSON.parse(r.stdout) as { LocalNodeState: string; NodeID: string };
  return { state: j.LocalNodeState, nodeId: j.NodeID };
}

export async function ingressOptions(bed: BedFixture, manager: string): Promise<Record<string, string>> {
  const r = await bed.exec(manager, "docker network inspect ingress --format '{{json .Options}}'");
  return JSON.parse(r.stdout) as Record<string, string>;
}

/** Join tokens fetched afterwards from a manager, to search captured output for them. */
export async function joinTokens(bed: BedFixture, manager: string): Promise<string[]> {
  const out: string[] = [];
  for (const role of ["worker", "manager"])
    out.push((await bed.exec(manager, `docker swarm join-token -q ${role}`)).stdout.trim());
  return out;
}
