// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Placement pins: a template declares the node labels its data is pinned to (x-hcloud-swarm
 * pins:), and deploy makes sure exactly one node carries each. On the first deploy, when no node
 * has the label, it picks one the services' other constraints allow: the one the user named with
 * `--pin label=node`, else the least loaded. It labels that node and records which stacks keep
 * data there (`hcloud-swarm.pin.<label>`), so that scale-down can refuse to remove it. A pin that
 * exists is never moved: the data lives there. Pure planning; deploy.ts applies the actions.
 */
import { heldPins, pinBookkeepingKey, splitStacks } from "../../inventory/labels";
import type { InventoryNode } from "../../inventory/inventory";
import type { NodeFacts } from "../../swarm/facts";
import { type Constraint, matches, requiredTrueLabel } from "./constraints";
import { displayName, type ServicePlacement, takesTasks } from "./placement";

/** `--pin label=node`: the node that should hold a pin that no node holds yet. */
export interface PinRequest {
  readonly label: string;
  /** Inventory name, swarm hostname or node ID. */
  readonly node: string;
}

export interface PinAction {
  readonly label: string;
  readonly nodeId: string;
  /** The node's inventory name, or hostname. */
  readonly node: string;
  /** "label": set `<label>=true` and the bookkeeping; "record": the label exists, add this stack to the bookkeeping. */
  readonly kind: "label" | "record";
  /** Labels to add: the pin (for "label") and the bookkeeping with every stack whose data is there. */
  readonly labels: Readonly<Record<string, string>>;
  /** Why this node, for the action line. */
  readonly reason: string;
}

export interface PinPlan {
  readonly actions: PinAction[];
  readonly problems: string[];
  readonly warnings: string[];
  /** The nodes with the labels they will have once the actions are applied. */
  readonly nodes: NodeFacts[];
}

/** Parses `label=node` arguments; problems name the argument. */
export function parsePinArgs(args: readonly string[]): { requests: PinRequest[]; problems: string[] } {
  const requests: PinRequest[] = [];
  const problems: string[] = [];
  for (const a of args) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(a);
    if (!m) problems.push(`--pin ${JSON.stringify(a)} must be LABEL=NODE, e.g. --pin wordpress-data=worker-1`);
    else if (requests.some((r) => r.label === m[1]))
      problems.push(`--pin ${m[1]} is given twice; a pin is held by one node`);
    else requests.push({ label: m[1], node: m[2] });
  }
  return { requests, problems };
}

const isTrue = (v: string | undefined) => v !== undefined && v.toLowerCase() === "true";
const natural = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

export interface PinInputs {
  readonly stack: string;
  /** Declared pins, in declaration order. */
  readonly pins: readonly string[];
  readonly services: readonly ServicePlacement[];
  readonly nodes: readonly NodeFacts[];
  /** Node ID → tasks that should be running there. Only read when a node must be chosen. */
  readonly load: ReadonlyMap<string, number>;
  readonly requests: readonly PinRequest[];
  readonly inventory: readonly InventoryNode[];
}

export function planPins(i: PinInputs): PinPlan {
  const problems: string[] = [];
  const warnings: string[] = [];
  const actions: PinAction[] = [];
  const nodes: Array<NodeFacts & { labels: Record<string, string> }> = i.nodes.map((n) => ({
    ...n,
    labels: { ...n.labels },
  }));
  const name = (n: NodeFacts) => displayName(n, i.inventory);
  const placed = new Set<string>();
  for (const r of i.requests) {
    if (!i.pins.includes(r.label))
      problems.push(
        `--pin ${r.label}=${r.node}: stack ${i.stack} declares no pin "${r.label}"; its pins: ${i.pins.join(", ") || "none"}`,
      );
  }
  for (const label of i.pins) {
    const users = i.services.filter((s) => s.runs && s.constraints.some((c) => requiredTrueLabel(c) === label));
    // The other constraints of every service using this pin; those on pins not placed yet are open.
    const others: Constraint[] = users.flatMap((s) =>
      s.constraints.filter((c) => {
        const pin = requiredTrueLabel(c);
        return pin === undefined || (pin !== label && (placed.has(pin) || !i.pins.includes(pin)));
      }),
    );
    const failing = (n: NodeFacts) => others.filter((c) => !matches(c, n)).map((c) => `"${c.text}"`);
    const holders = nodes.filter((n) => isTrue(n.labels[label]));
    const request = i.requests.find((r) => r.label === label);
    placed.add(label);
    if (holders.length > 0) {
      const holderNames = holders.map(name).join(", ");
      const stacksThere = [...new Set(holders.flatMap((h) => splitStacks(h.labels[pinBookkeepingKey(label)])))];
      if (request && !holders.some((h) => [name(h), h.hostname, h.id].includes(request.node))) {
        problems.push(
          `--pin ${label}=${request.node}: the pin ${label} is already on ${holderNames}${stacksThere.length ? `, with the data of stack(s) ${stacksThere.join(", ")}` : ""}; deploy never moves a pin. To move it, move the data, then docker node update --label-rm ${label} on ${holderNames} and deploy again`,
        );
        continue;
      }
      const usable = holders.filter((h) => failing(h).length === 0);
      if (usable.length === 0) {
        problems.push(
          `pin ${label} is on ${holderNames}, but ${users.map((u) => u.name).join(", ")} also need(s) ${[...new Set(holders.flatMap(failing))].join(" and ")}, which ${holderNames} do(es) not meet; the data stays where it is, so fix the node (its role or labels) or, if no data is there yet, remove the label (docker node update --label-rm ${label} NODE) and deploy again`,
        );
        continue;
      }
      if (holders.length > 1)
        warnings.push(
          `pin ${label} is on ${holders.length} nodes (${holderNames}): the data of stack ${i.stack} may end up on any of them; keep the label on one node`,
        );
      for (const h of holders) {
        const before = splitStacks(h.labels[pinBookkeepingKey(label)]);
        if (before.includes(i.stack)) continue;
        const stacks = [...before, i.stack].sort();
        h.labels[pinBookkeepingKey(label)] = stacks.join(",");
        actions.push({
          label,
          nodeId: h.id,
          node: name(h),
          kind: "record",
          labels: { [pinBookkeepingKey(label)]: stacks.join(",") },
          reason: `${label}=true is already set there`,
        });
      }
      continue;
    }
    const eligible = nodes.filter((n) => takesTasks(n) && failing(n).length === 0);
    let chosen: (typeof nodes)[number] | undefined;
    let reason = "";
    if (request) {
      const target =
        nodes.find((n) => name(n) === request.node) ??
        nodes.find((n) => n.hostname === request.node || n.id === request.node);
      if (!target) {
        problems.push(
          `--pin ${label}=${request.node}: there is no node "${request.node}"; nodes: ${nodes.map(name).sort(natural).join(", ")}`,
        );
        continue;
      }
      const why = [
        ...(takesTasks(target) ? [] : [`it is ${target.status} and ${target.availability}`]),
        ...failing(target).map((c) => `it does not meet ${c}`),
      ];
      if (why.length > 0) {
        problems.push(
          `--pin ${label}=${request.node}: ${request.node} cannot hold this pin: ${why.join("; ")}; eligible: ${eligible.map(name).sort(natural).join(", ") || "none"}`,
        );
        continue;
      }
      [chosen, reason] = [target, `chosen with --pin ${label}=${request.node}`];
    } else {
      if (eligible.length === 0) {
        const why = nodes
          .map(
            (n) =>
              `${name(n)}: ${[...(takesTasks(n) ? [] : [`${n.status}, ${n.availability}`]), ...failing(n).map((c) => `not ${c}`)].join(", ")}`,
          )
          .join("; ");
        problems.push(
          `pin ${label}: no node can hold it (${why}); add a node that meets the constraints of ${users.map((u) => u.name).join(", ")}`,
        );
        continue;
      }
      const load = (n: NodeFacts) => i.load.get(n.id) ?? 0;
      const ranked = [...eligible].sort(
        (a, b) =>
          load(a) - load(b) || heldPins(a.labels).length - heldPins(b.labels).length || natural(name(a), name(b)),
      );
      chosen = ranked[0];
      const tasks = (n: NodeFacts) => `${name(n)} ${load(n)} task${load(n) === 1 ? "" : "s"}`;
      reason =
        eligible.length === 1
          ? `the only eligible node: ${tasks(chosen)}`
          : `least loaded of ${eligible.length} eligible nodes: ${ranked.map(tasks).join(", ")}`;
    }
    chosen.labels[label] = "true";
    chosen.labels[pinBookkeepingKey(label)] = i.stack;
    actions.push({
      label,
      nodeId: chosen.id,
      node: name(chosen),
      kind: "label",
      labels: { [label]: "true", [pinBookkeepingKey(label)]: i.stack },
      reason,
    });
  }
  return { actions, problems, warnings, nodes };
}

export function describePin(a: PinAction): string {
  return a.kind === "label"
    ? `pin ${a.label}=true on ${a.node} (${a.reason})`
    : `record pin ${a.label} on ${a.node} for ${a.labels[pinBookkeepingKey(a.label)]} (${a.reason})`;
}
