/**
 * What one run of the program did, counted from the engine's operations: resources created,
 * updated, replaced and deleted (by type), servers booted and deleted, and the actions the swarm
 * membership and stacks providers reported in their diagnostics. Pure.
 *
 * Actions are read from the providers' own log lines, the same lines `pulumi up` shows:
 * bootstrap logs `[node] <kind>: <detail>` for every action (bootstrap/bootstrap.ts), and a stack
 * deploy logs `<stack>: <action>` for every change it makes, placement pins included
 * (stacks/deploy/deploy.ts, stacks/deploy/plan.ts, stacks/placement/placement-pins.ts).
 */
import type { ActionKind } from "../bootstrap/actions";
import type { Operation, OperationKind } from "./engine/engine";

export const SERVER_TYPE = "hcloud:index/server:Server";
export const SWARM_NODE_TYPE = "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode";
export const STACKS_TYPE = "pulumi-nodejs:dynamic/hcloud-swarm:Stacks";

const ACTION_KINDS = [
  "init",
  "ingress",
  "firewall",
  "join",
  "promote",
  "demote",
  "label",
  "drain",
  "leave",
  "remove",
  "reconcile",
  "unlock",
  "autolock",
] as const;
// Fails to compile when bootstrap gains an action kind this list does not know.
const everyKindListed: Exclude<ActionKind, (typeof ACTION_KINDS)[number]> extends never ? true : false = true;
void everyKindListed;
const BOOTSTRAP_ACTION = new RegExp(`^\\[([^\\]]+)\\] (${ACTION_KINDS.join("|")}): (.*)$`);
/** The verbs of stacks/deploy/plan.ts describeAction and stacks/placement/placement-pins.ts describePin. */
const DEPLOY_ACTION =
  /^([a-z0-9][a-z0-9_.-]*): (recreate network|create network|create secret|docker stack deploy|record pin|pin) (.*)$/;

export interface ActionLine {
  /** The node (bootstrap) or stack (deploy) the action was on. */
  readonly on: string;
  readonly kind: string;
  readonly detail: string;
}

export interface Tally {
  readonly counts: Readonly<Record<OperationKind, number>>;
  /** "type name" of every operation that changed something (not `same`), in order. */
  readonly changes: readonly string[];
  /** Logical names of servers created / deleted (each a VM on the rehearsal's bed). */
  readonly serversCreated: readonly string[];
  readonly serversDeleted: readonly string[];
  readonly serversChanged: readonly string[];
  readonly bootstrapActions: readonly ActionLine[];
  readonly deployActions: readonly ActionLine[];
  /** Operations that failed, with their error. */
  readonly failures: readonly string[];
}

function parse(lines: readonly string[], re: RegExp): ActionLine[] {
  return lines.flatMap((l) => {
    const m = re.exec(l.trim());
    return m ? [{ on: m[1], kind: m[2], detail: m[3] }] : [];
  });
}

export function tally(ops: readonly Operation[]): Tally {
  const counts: Record<OperationKind, number> = { create: 0, same: 0, update: 0, replace: 0, delete: 0 };
  for (const o of ops) if (!o.error) counts[o.op]++;
  const ok = ops.filter((o) => !o.error);
  const names = (type: string, ...kinds: OperationKind[]) =>
    ok.filter((o) => o.type === type && kinds.includes(o.op)).map((o) => o.name);
  return {
    counts,
    changes: ok.filter((o) => o.op !== "same").map((o) => `${o.op} ${o.type} ${o.name}`),
    serversCreated: names(SERVER_TYPE, "create", "replace"),
    serversDeleted: names(SERVER_TYPE, "delete"),
    serversChanged: names(SERVER_TYPE, "update", "replace"),
    bootstrapActions: ops
      .filter((o) => o.type === SWARM_NODE_TYPE)
      .flatMap((o) => parse(o.diagnostics, BOOTSTRAP_ACTION)),
    deployActions: ops.filter((o) => o.type === STACKS_TYPE).flatMap((o) => parse(o.diagnostics, DEPLOY_ACTION)),
    failures: ops.filter((o) => o.error).map((o) => `${o.op} ${o.type} ${o.name}: ${o.error}`),
  };
}

/** "3 created, 1 updated, 0 replaced, 2 deleted, 14 unchanged". */
export function formatCounts(c: Tally["counts"]): string {
  return `${c.create} created, ${c.update} updated, ${c.replace} replaced, ${c.delete} deleted, ${c.same} unchanged`;
}

/** Short type name for display: "hcloud:index/server:Server" → "Server", dynamic ones likewise. */
export function shortType(type: string): string {
  return type.split(":").pop() ?? type;
}
