/**
 * `hcloud-swarm:nodeLabels`: swarm node labels from the config, per role and per node name.
 *
 *   hcloud-swarm:nodeLabels:
 *     managers: {ingress-edge: "true"}        # every manager
 *     workers:  {tier: app}                   # every worker
 *     worker-1: {wordpress-data: "true"}      # one node; wins over its role's labels
 *
 * A node's labels depend only on its own role and name, so adding workers never changes the
 * inputs of existing servers or memberships. Pure: validated with every other key in config.ts.
 */
import { labelProblems } from "../inventory/labels";
import type { NodeRole } from "../inventory/inventory";

export const NODE_LABELS_KEY = "nodeLabels";

export interface NodeLabelsConfig {
  /** Labels of every manager. Default {}. */
  readonly managers: Readonly<Record<string, string>>;
  /** Labels of every worker. Default {}. */
  readonly workers: Readonly<Record<string, string>>;
  /** Labels of single nodes by name ("worker-1"); they win over the role's. Default {}. */
  readonly nodes: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export const NO_NODE_LABELS: NodeLabelsConfig = { managers: {}, workers: {}, nodes: {} };
/** Labels the plan sets itself (plan.ts): a config value would contradict the servers' real location. */
export const PLANNED_LABELS = ["location", "edge"];
const NODE_NAME = /^(manager|worker)-([1-9]\d*)$/;

/**
 * `pulumi config set --path` stores "true" as a boolean and "3" as a number; swarm labels are
 * strings, so scalars are taken as their text.
 */
function asText(labels: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(labels).map(([k, v]) => [k, typeof v === "boolean" || typeof v === "number" ? String(v) : v]),
  );
}

/** Validates the value (an object, or its JSON text as Pulumi hands it over); `problems` receives every problem. */
export function parseNodeLabels(
  raw: unknown,
  counts: { readonly managers: number; readonly workers: number },
  key: (k: string) => string,
  problems: string[],
): NodeLabelsConfig {
  if (raw === undefined || raw === "") return NO_NODE_LABELS;
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
  }
  const at = key(NODE_LABELS_KEY);
  const example = `e.g. pulumi config set --path '${at}["worker-1"]["wordpress-data"]' true`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(
      `${at} must be an object of "managers", "workers" or node names ("worker-1") to labels, got ${JSON.stringify(raw)}; ${example}`,
    );
    return NO_NODE_LABELS;
  }
  const out = {
    managers: {} as Record<string, string>,
    workers: {} as Record<string, string>,
    nodes: {} as Record<string, Record<string, string>>,
  };
  for (const [name, labels] of Object.entries(value)) {
    const where = `${at}[${JSON.stringify(name)}]`;
    const m = NODE_NAME.exec(name);
    if (name !== "managers" && name !== "workers" && !m) {
      const hint = /^(manager|worker)s?-?\d*$/.test(name) ? `; node names look like "worker-1"` : "";
      problems.push(
        `${where}: "${name}" is neither "managers", "workers" nor a node name such as "manager-1" or "worker-2"${hint}`,
      );
      continue;
    }
    if (m) {
      const count = m[1] === "manager" ? counts.managers : counts.workers;
      if (Number(m[2]) > count) {
        problems.push(
          `${where}: there is no ${name}: ${key(`${m[1]}s`)} is ${count}; remove these labels or raise ${key(`${m[1]}s`)}`,
        );
        continue;
      }
    }
    const text =
      typeof labels === "object" && labels !== null && !Array.isArray(labels)
        ? asText(labels as Record<string, unknown>)
        : labels;
    const found = labelProblems(text, where, PLANNED_LABELS);
    problems.push(...found);
    if (found.length > 0) continue;
    if (name === "managers" || name === "workers") out[name] = text as Record<string, string>;
    else out.nodes[name] = text as Record<string, string>;
  }
  return out;
}

/** The configured labels of one node: its role's, then its own. */
export function configuredLabels(config: NodeLabelsConfig, role: NodeRole, name: string): Record<string, string> {
  return { ...(role === "manager" ? config.managers : config.workers), ...(config.nodes[name] ?? {}) };
}
