/**
 * Which nodes a new bed has, for both kinds (pure): names and roles from the counts `local up`
 * takes. Addresses are each kind's own business (ns/plan.ts, vm/plan.ts).
 */
import { NodeRole } from "../../inventory/inventory";
import { throwIfProblems } from "../../common/problems";

export interface NodeCounts {
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of them are managers (the first ones). Default 1. */
  readonly managers?: number;
}

export interface NodeRolePlan {
  readonly name: string;
  readonly role: NodeRole;
}

/** The first `managers` nodes are managers (manager-1…), the rest workers (worker-1…); `maxNodes` is what the bed's network holds. */
export function planRoles(counts: NodeCounts, maxNodes: number): NodeRolePlan[] {
  const nodes = counts.nodes ?? 3;
  const mgrs = counts.managers ?? 1;
  const problems: string[] = [];
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > maxNodes)
    problems.push(`--nodes must be a whole number from 1 to ${maxNodes}, got ${nodes}`);
  if (!Number.isInteger(mgrs) || mgrs < 1)
    problems.push(`--managers must be a whole number of at least 1, got ${mgrs}`);
  else if (Number.isInteger(nodes) && mgrs > nodes)
    problems.push(`--managers (${mgrs}) cannot exceed --nodes (${nodes})`);
  throwIfProblems("local test bed", problems);
  const out: NodeRolePlan[] = [];
  for (let i = 0; i < nodes; i++) {
    const role: NodeRole = i < mgrs ? "manager" : "worker";
    out.push({ name: role === "manager" ? `manager-${i + 1}` : `worker-${i - mgrs + 1}`, role });
  }
  return out;
}
