// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Never an empty re-pin in silence. Once a deploy has placed a stack's pinned data, the swarm keeps
 * a record of the nodes that hold it (pin-records.ts stores it as a Docker config, which outlives
 * any node). Before the next deploy changes anything, this compares the nodes that would carry the
 * pin label after the pin plan with that record:
 * - every such node is a recorded holder: the stack starts where its data is (nothing to write);
 * - a node without the data would carry it (the holder was removed or replaced, or its label was
 *   moved or set false): refused, naming the stack, the lost holder and the ways out, unless the
 *   user accepts starting empty for this stack; then the new holders are recorded;
 * - every recorded holder that would carry it is down: refused too. The data may come back with
 *   the node, so the pin stays and --accept-empty does not lift this; the ways out are to start
 *   the node again, or to remove it from the swarm for good first.
 * - no record yet (first placement, or a stack deployed before records existed): record the nodes.
 * Pure: deploy.ts reads the records and the nodes, and writes what this returns.
 */
import type { InventoryNode } from "../../inventory/inventory";
import type { NodeFacts } from "../../swarm/facts";
import { displayName } from "./placement";

/** A node that holds (or held) a stack's pinned data: its swarm ID identifies it, the name is for messages. */
export interface PinHolder {
  readonly id: string;
  readonly name: string;
}

/** What the swarm remembers about where a stack's pinned data was placed. */
export interface PinRecord {
  readonly stack: string;
  readonly label: string;
  readonly holders: readonly PinHolder[];
}

export interface HistoryInputs {
  readonly stack: string;
  /** Declared pins, in declaration order. */
  readonly pins: readonly string[];
  /** Records of every stack (only this stack's are read). */
  readonly records: readonly PinRecord[];
  /** The swarm's members now. */
  readonly before: readonly NodeFacts[];
  /** The members with the labels they will have once the pin plan is applied. */
  readonly after: readonly NodeFacts[];
  /** The user accepts that this stack starts without its data (`--accept-empty`). */
  readonly acceptEmpty: boolean;
  /** How the user accepts it where they run deploy, e.g. "stack deploy … --accept-empty". */
  readonly acceptHint: string;
  readonly inventory: readonly InventoryNode[];
}

export interface HistoryPlan {
  readonly problems: string[];
  readonly warnings: string[];
  /** Records to write before the stack is deployed (new ones, or ones with new holders). */
  readonly writes: PinRecord[];
}

const isTrue = (v: string | undefined) => v !== undefined && v.toLowerCase() === "true";
const ready = (n: NodeFacts) => n.status === "ready";

export function planPinHistory(i: HistoryInputs): HistoryPlan {
  const problems: string[] = [];
  const warnings: string[] = [];
  const writes: PinRecord[] = [];
  const name = (n: NodeFacts) => displayName(n, i.inventory);
  for (const label of i.pins) {
    const carriers = i.after.filter((n) => isTrue(n.labels[label]));
    // No node can carry it: the pin plan has said why already.
    if (carriers.length === 0) continue;
    const record = i.records.find((r) => r.stack === i.stack && r.label === label);
    const holders = carriers.map((n) => ({ id: n.id, name: name(n) }));
    if (!record) {
      writes.push({ stack: i.stack, label, holders });
      continue;
    }
    const recorded = new Set(record.holders.map((h) => h.id));
    const newcomers = carriers.filter((n) => !recorded.has(n.id));
    if (newcomers.length === 0) {
      if (carriers.every((n) => !ready(n)))
        problems.push(
          `stack ${i.stack}: its pinned data (pin ${label}) is on ${carriers.map((n) => `${name(n)} (${n.status})`).join(", ")}, which is not ready; ` +
            `the data may come back with the node, so the pin stays there and nothing was changed. Ways out: start ${carriers.map(name).join(", ")} again and deploy again; ` +
            `or, if it is lost for good, remove it from the swarm first (bootstrap --force-remove NODE, or HCLOUD_SWARM_FORCE_SCALE_DOWN=NODE for pulumi up), then restore the data from a backup or deploy with ${i.acceptHint}`,
        );
      continue;
    }
    const lost = record.holders.map((h) => lostHolder(h, label, i.before, name));
    const onto = newcomers.map(name).join(", ");
    if (i.acceptEmpty) {
      warnings.push(
        `stack ${i.stack}: starting without its pinned data (pin ${label}) on ${onto}, as accepted: ${lost.map((l) => l.what).join("; ")}; recording ${onto} as the new holder`,
      );
      writes.push({ stack: i.stack, label, holders });
      continue;
    }
    const relabel = lost.flatMap((l) => (l.relabel ? [l.relabel] : []));
    problems.push(
      `stack ${i.stack}: its pinned data (pin ${label}) was on ${lost.map((l) => l.what).join("; ")}. ` +
        `This deploy would start ${i.stack} on ${onto}, which does not have that data: it would start empty. Refused; nothing was changed. Ways out: ` +
        [
          ...relabel,
          `restore the data from a backup onto ${onto} (hcloud-swarm backup holds the swarm state, not the volumes: docs/guides/backup-and-recovery.md), then deploy with ${i.acceptHint}`,
          `or move the volume or data to ${onto} yourself, then deploy with ${i.acceptHint}`,
          `or start ${i.stack} empty on purpose: deploy with ${i.acceptHint}, which records ${onto} as the new holder`,
        ].join("; "),
    );
  }
  return { problems, warnings, writes };
}

/** Why a recorded holder no longer serves the stack's data, and how to put it back when it can be. */
function lostHolder(
  h: PinHolder,
  label: string,
  members: readonly NodeFacts[],
  name: (n: NodeFacts) => string,
): { what: string; relabel?: string } {
  const m = members.find((n) => n.id === h.id);
  const id = h.id.slice(0, 12);
  if (!m)
    return { what: `${h.name} (node ${id}), which is no longer in the swarm (removed, or replaced by a new node)` };
  if (!isTrue(m.labels[label]))
    return {
      what: `${name(m)} (node ${id}), which no longer carries ${label}=true (the label was removed, moved or set false)`,
      relabel: `put the label back where the data is: docker node update --label-add ${label}=true ${name(m)}${ready(m) ? "" : ` (it is ${m.status}: start it again too)`}, then deploy again`,
    };
  return { what: `${name(m)} (node ${id}, ${m.status}), which still carries ${label}=true` };
}

/**
 * After `hcloud-swarm restore`, every node but the restored manager rejoins under a new swarm ID
 * with its disk, and so its data, as it was; restore carries its labels over. The records still
 * name the old IDs: this moves each holder that is no member any more to the member of the same
 * hostname that carries the pin label again. Returns the records that changed.
 */
export function rebindHolders(
  records: readonly PinRecord[],
  members: ReadonlyArray<Pick<NodeFacts, "id" | "hostname">>,
  carried: ReadonlyMap<string, Readonly<Record<string, string>>>,
): PinRecord[] {
  return records.flatMap((r) => {
    let changed = false;
    const holders = r.holders.map((h) => {
      if (members.some((m) => m.id === h.id)) return h;
      const m = members.find((x) => x.hostname === h.name && isTrue(carried.get(x.hostname)?.[r.label]));
      if (!m) return h;
      changed = true;
      return { id: m.id, name: h.name };
    });
    return changed ? [{ ...r, holders }] : [];
  });
}
