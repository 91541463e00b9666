// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Swarm node labels: what a label may look like, and the keys hcloud-swarm keeps for itself.
 * Shared by everyone who writes or reads node labels: the config (`hcloud-swarm:nodeLabels`), the
 * inventory, bootstrap (which adds them and must know which ones hold data) and stack deploy
 * (which pins a stack's data to a node by labelling it).
 */

/**
 * A label a placement constraint can name. Swarm accepts a constraint key only if it matches
 * `^[a-z_][a-z0-9-_.]+$` (case-insensitive) as a whole, so `node.labels.<key>` limits the key to
 * these characters; we also want it to start with a letter or digit, like Docker's own examples.
 */
export const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/**
 * A value a constraint can compare against. Swarm's value pattern also allows spaces and regex
 * characters; these are enough for every label we have seen and can never surprise a shell.
 */
export const LABEL_VALUE = /^[A-Za-z0-9:._/+-]{0,200}$/;
/** Keys under this prefix are hcloud-swarm's bookkeeping (SSH address, host key, pins). */
export const RESERVED_PREFIX = "hcloud-swarm.";

/**
 * Bookkeeping label of a placement pin: `hcloud-swarm.pin.<label>=<stack>,<stack>` on the node
 * that holds the pinned data. Stack deploy writes it when it pins; scale-down reads it to refuse
 * removing a node that still holds a stack's data.
 */
export const PIN_PREFIX = `${RESERVED_PREFIX}pin.`;

export function pinBookkeepingKey(label: string): string {
  return `${PIN_PREFIX}${label}`;
}

/** A placement pin a node holds: the pin label and the stacks whose data is there. */
export interface HeldPin {
  readonly label: string;
  readonly stacks: readonly string[];
}

/** The pins recorded on a node's labels. */
export function heldPins(labels: Readonly<Record<string, string>>): HeldPin[] {
  return Object.entries(labels)
    .filter(([k]) => k.startsWith(PIN_PREFIX) && k.length > PIN_PREFIX.length)
    .map(([k, v]) => ({ label: k.slice(PIN_PREFIX.length), stacks: splitStacks(v) }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

export function splitStacks(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/**
 * Problems of one set of labels, each naming `where` (e.g. `nodes[2] (worker-1).labels` or
 * `hcloud-swarm:nodeLabels.workers`). `reserved` lists further keys the caller sets itself.
 */
export function labelProblems(labels: unknown, where: string, reserved: readonly string[] = []): string[] {
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    return [`${where} must be an object of label names to string values, e.g. {"wordpress-data": "true"}`];
  }
  const problems: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY.test(k)) {
      problems.push(
        `${where}: label name ${JSON.stringify(k)} must be letters, digits, ".", "_" and "-" (starting with a letter or digit, at most 100), so that a placement constraint node.labels.<name> can name it`,
      );
    } else if (k.startsWith(RESERVED_PREFIX)) {
      problems.push(
        `${where}: label ${JSON.stringify(k)} is reserved: hcloud-swarm keeps "${RESERVED_PREFIX}*" labels for its own bookkeeping`,
      );
    } else if (reserved.includes(k)) {
      problems.push(`${where}: label ${JSON.stringify(k)} is set by hcloud-swarm itself; remove it here`);
    }
    if (typeof v !== "string") problems.push(`${where}.${k} must be a string such as "true", got ${JSON.stringify(v)}`);
    else if (!LABEL_VALUE.test(v))
      problems.push(
        `${where}.${k} value ${JSON.stringify(v)} must be letters, digits and : . _ / + - (at most 200), so that a constraint can match it`,
      );
  }
  return problems;
}
