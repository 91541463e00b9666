// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Everything deploy checks against the cluster before it changes anything, beyond the lint:
 * where the services can run (placement.ts), which node holds each placement pin (placement-pins.ts),
 * whether that node has the stack's data (pin-history.ts), and whether the external secrets the
 * stack names exist. Pure: deploy.ts reads the facts, calls this,
 * and either stops with every problem at once or carries out the pin actions it returns.
 */
import { parse } from "yaml";
import type { InventoryNode } from "../../inventory/inventory";
import { ValidationError } from "../../common/problems";
import type { NodeFacts } from "../../swarm/facts";
import { checkPlacement, servicePlacements } from "./placement";
import { type PinAction, type PinRequest, planPins } from "./placement-pins";
import { type PinRecord, planPinHistory } from "./pin-history";

export interface PrecheckInputs {
  readonly stack: string;
  /** The stack file deploy hands to Docker. */
  readonly text: string;
  /** Labels the stack declares as placement pins. */
  readonly pins: readonly string[];
  /** Secrets deploy generates when missing (`<stack>_<key>`). */
  readonly generatedSecrets: readonly string[];
  readonly existingSecrets: ReadonlySet<string>;
  readonly nodes: readonly NodeFacts[];
  readonly load: ReadonlyMap<string, number>;
  readonly requests: readonly PinRequest[];
  readonly inventory: readonly InventoryNode[];
  /** The swarm's pin history (pin-records.ts). Default: none, as before any deploy. */
  readonly records?: readonly PinRecord[];
  /** Start the stack without its pinned data if it must (`--accept-empty`). Default false. */
  readonly acceptEmpty?: boolean;
  /** How the user accepts that, for messages. Default "--accept-empty". */
  readonly acceptHint?: string;
}

export interface Precheck {
  readonly problems: string[];
  readonly warnings: string[];
  readonly pinActions: PinAction[];
  /** Pin history to record before the stack is deployed. */
  readonly recordWrites: PinRecord[];
}

/** Deploy refused the stack before touching the cluster; `problems` name service, label, node or secret, and the fix. */
export class DeployRefusedError extends ValidationError {
  constructor(stack: string, problems: readonly string[]) {
    super(`deploy of stack "${stack}" (refused before changing anything)`, problems);
    this.name = "DeployRefusedError";
  }
}

export function precheckDeploy(i: PrecheckInputs): Precheck {
  // The uploaded text is a text of its own (Docker's reading, written out): parsed here once, for both checks.
  const parsed: unknown = parse(i.text, { merge: true });
  const placements = servicePlacements(parsed, i.stack);
  const pins = planPins({
    stack: i.stack,
    pins: i.pins,
    services: placements.services,
    nodes: i.nodes,
    load: i.load,
    requests: i.requests,
    inventory: i.inventory,
  });
  const placed = checkPlacement(placements.services, pins.nodes, i.pins, i.inventory);
  const history = planPinHistory({
    stack: i.stack,
    pins: i.pins,
    records: i.records ?? [],
    before: i.nodes,
    after: pins.nodes,
    acceptEmpty: i.acceptEmpty === true,
    acceptHint: i.acceptHint ?? "--accept-empty",
    inventory: i.inventory,
  });
  return {
    problems: [
      ...placements.problems,
      ...pins.problems,
      ...history.problems,
      ...placed.problems,
      ...missingSecrets(i, parsed),
    ],
    warnings: [...pins.warnings, ...history.warnings, ...placed.warnings],
    pinActions: pins.actions,
    recordWrites: history.writes,
  };
}

/** External secrets that neither exist nor are generated: `docker stack deploy` would stop half-way on them. */
function missingSecrets(i: PrecheckInputs, parsed: unknown): string[] {
  type Secret = { external?: boolean | { name?: string }; name?: string } | null;
  const doc = (parsed ?? {}) as { secrets?: Record<string, Secret> };
  return Object.entries(doc.secrets ?? {}).flatMap(([key, v]) => {
    if (!v?.external) return [];
    const name = v.name ?? (typeof v.external === "object" ? v.external.name : undefined) ?? key;
    if (i.existingSecrets.has(name) || i.generatedSecrets.includes(name)) return [];
    return [
      `secret ${name} (secrets.${key}, external) does not exist in the cluster; create it first: printf '%s' "$VALUE" | docker secret create ${name} -`,
    ];
  });
}
