// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Where a stack's services can run, decided before anything in the cluster changes: their
 * placement constraints, read from the file deploy will hand to Docker, matched against the nodes
 * (constraints.ts). A service no node could ever run is refused up front, naming the service, the
 * constraint and the fix, instead of leaving deploy to wait for a task that never starts. Pure.
 */
import type { InventoryNode } from "../../inventory/inventory";
import type { NodeFacts } from "../../swarm/facts";
import { type Constraint, matches, matchesAll, parseConstraint, requiredTrueLabel } from "./constraints";

/** One service of the rendered stack, as far as placement goes. */
export interface ServicePlacement {
  /** Docker's name: `<stack>_<service>`. */
  readonly name: string;
  readonly constraints: readonly Constraint[];
  /** False for `replicas: 0`, which asks for nothing to run. */
  readonly runs: boolean;
}

/**
 * Services and their constraints from a stack file, parsed once by the caller (precheck.ts parses
 * the text deploy uploads); unparsable constraints become problems.
 */
export function servicePlacements(
  parsed: unknown,
  stack: string,
): { services: ServicePlacement[]; problems: string[] } {
  type Svc = { deploy?: { mode?: string; replicas?: number; placement?: { constraints?: unknown } } };
  const doc = (parsed ?? {}) as { services?: Record<string, Svc | null> };
  const problems: string[] = [];
  const services = Object.entries(doc.services ?? {}).map(([key, svc]) => {
    const name = `${stack}_${key}`;
    const raw = svc?.deploy?.placement?.constraints;
    const list = Array.isArray(raw) ? raw.map(String) : [];
    const constraints: Constraint[] = [];
    for (const c of list) {
      const p = parseConstraint(c);
      if (p.ok) constraints.push(p.constraint);
      else
        problems.push(
          `service ${name}: placement constraint "${c}": ${p.reason}; fix the constraint in the stack file`,
        );
    }
    const runs = svc?.deploy?.mode === "global" || svc?.deploy?.replicas !== 0;
    return { name, constraints, runs };
  });
  return { services, problems };
}

/** The inventory's name for a node (it may differ from the swarm hostname), else its hostname. */
export function displayName(n: NodeFacts, inventory: readonly InventoryNode[]): string {
  const inv = inventory.find((x) => x.advertiseAddress === n.addr) ?? inventory.find((x) => x.name === n.hostname);
  return inv?.name ?? (n.hostname || n.id);
}

/** Takes new tasks now: ready and active (drained and paused nodes get none). */
export function takesTasks(n: NodeFacts): boolean {
  return n.status === "ready" && n.availability === "active";
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.join(", ");
}

export interface PlacementCheck {
  /** Refusals: each names the service, the constraint and the fix. */
  readonly problems: string[];
  readonly warnings: string[];
}

/**
 * Checks every service that should run against `nodes` (their labels as they will be after the
 * pins are applied). `pins` are the labels the stack declares as pins: deploy sets those itself.
 */
export function checkPlacement(
  services: readonly ServicePlacement[],
  nodes: readonly NodeFacts[],
  pins: readonly string[],
  inventory: readonly InventoryNode[],
): PlacementCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  const name = (n: NodeFacts) => displayName(n, inventory);
  const setHow = (label: string) =>
    `set it on the node that should run it (hcloud-swarm:nodeLabels or the inventory's "labels", then bootstrap; or docker node update --label-add ${label}=… NODE), or declare it under x-hcloud-swarm pins: to let deploy choose the node`;
  for (const svc of services.filter((x) => x.runs)) {
    let named = false;
    for (const c of svc.constraints) {
      if (c.label === undefined || c.op !== "==" || pins.includes(c.label)) continue;
      const carriers = nodes.filter((n) => n.labels[c.label as string] !== undefined);
      if (carriers.length === 0) {
        problems.push(
          `service ${svc.name}: constraint "${c.text}" names the label "${c.label}", which no node has; ${setHow(c.label)}`,
        );
        named = true;
      } else if (!carriers.some((n) => matches(c, n))) {
        const seen = carriers.map((n) => `${name(n)} has ${c.label}=${n.labels[c.label as string]}`).join(", ");
        problems.push(
          `service ${svc.name}: constraint "${c.text}" matches no node (${seen}); fix the constraint or the label`,
        );
        named = true;
      }
    }
    if (named) continue;
    const fit = nodes.filter((n) => matchesAll(svc.constraints, n));
    if (fit.length === 0) {
      const why = svc.constraints
        .map((c) => `"${c.text}" holds on ${list(nodes.filter((n) => matches(c, n)).map(name))}`)
        .join("; ");
      problems.push(
        `service ${svc.name}: no node meets all its placement constraints together (${why}); fix the constraints or the nodes' labels`,
      );
    } else if (!fit.some(takesTasks)) {
      warnings.push(
        `service ${svc.name} can only run on ${list(fit.map((n) => `${name(n)} (${n.status}, ${n.availability})`))}, which take no tasks now; it will wait until one is ready and active`,
      );
    }
  }
  return { problems, warnings };
}

/** The label constraints of `svc` that pin it to a declared pin. */
export function pinsOf(svc: ServicePlacement, pins: readonly string[]): string[] {
  return svc.constraints.map(requiredTrueLabel).filter((l): l is string => l !== undefined && pins.includes(l));
}
