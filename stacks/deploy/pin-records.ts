// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Where the swarm keeps each stack's pin history (pin-history.ts decides with it): one Docker config
 * per stack and pin, labelled `hcloud-swarm.pin-history=<label>` and `hcloud-swarm.stack=<stack>`,
 * whose data is the record as JSON. A config lives in the Raft store, so it outlives the node that
 * holds the data (a node label dies with its node), lives on after `docker stack rm` (which keeps
 * the volumes too), and comes back with a swarm restore. See docs/design/pin-history.md.
 *
 * Configs are immutable: a new record is created under a name derived from its content, then the
 * older ones of the same stack and pin are removed. Reading takes the newest, so a write cut off
 * between the two steps leaves a record that is right either way.
 */
import { createHash } from "crypto";
import { shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import type { PinHolder, PinRecord } from "../placement/pin-history";

/** Label of every pin-history config; its value is the pin label. Persisted in live swarms: never rename. */
export const PIN_HISTORY_LABEL = "hcloud-swarm.pin-history";
/** Label naming the stack a pin-history config belongs to. Persisted: never rename. */
export const PIN_HISTORY_STACK_LABEL = "hcloud-swarm.stack";

interface StoredRecord extends PinRecord {
  readonly config: string;
  readonly createdAt: string;
}

const digest = (text: string, n: number) => createHash("sha256").update(text).digest("hex").slice(0, n);

/** The config's name: Docker allows [a-zA-Z0-9-_.], at most 64 characters; the content's hash keeps a repeat idempotent. */
export function recordConfigName(r: PinRecord): string {
  const ids = r.holders.map((h) => h.id).sort();
  return `hcloud-swarm-pin-${digest(`${r.stack}\n${r.label}`, 12)}-${digest(ids.join(","), 12)}`;
}

async function readStored(s: SshSession): Promise<StoredRecord[]> {
  const r = await s.run(
    `ids=$(docker config ls -q --filter ${shellQuote(`label=${PIN_HISTORY_LABEL}`)}); [ -z "$ids" ] || docker config inspect --format '{{json .}}' $ids`,
  );
  type Raw = { CreatedAt?: string; Spec?: { Name?: string; Data?: string; Labels?: Record<string, string> } };
  const out: StoredRecord[] = [];
  for (const line of r.stdout.split("\n").filter((l) => l.trim() !== "")) {
    const raw = JSON.parse(line) as Raw;
    const labels = raw.Spec?.Labels ?? {};
    let holders: PinHolder[] = [];
    try {
      const data = JSON.parse(Buffer.from(raw.Spec?.Data ?? "", "base64").toString("utf8")) as { holders?: unknown };
      holders = (Array.isArray(data.holders) ? data.holders : []).flatMap((h: unknown) => {
        const x = h as { id?: unknown; name?: unknown };
        return typeof x.id === "string" && x.id !== ""
          ? [{ id: x.id, name: typeof x.name === "string" ? x.name : x.id }]
          : [];
      });
    } catch {
      // A record nobody can read still says the data existed: keep it with no holder, so every node is new to it.
    }
    const stack = labels[PIN_HISTORY_STACK_LABEL];
    const label = labels[PIN_HISTORY_LABEL];
    if (!stack || !label) continue;
    out.push({ stack, label, holders, config: raw.Spec?.Name ?? "", createdAt: raw.CreatedAt ?? "" });
  }
  return out;
}

/** The newest record of each stack and pin. */
export async function readPinRecords(s: SshSession): Promise<PinRecord[]> {
  const newest = new Map<string, StoredRecord>();
  for (const r of await readStored(s)) {
    const key = `${r.stack}\n${r.label}`;
    const have = newest.get(key);
    if (!have || r.createdAt > have.createdAt) newest.set(key, r);
  }
  return [...newest.values()].map(({ stack, label, holders }) => ({ stack, label, holders }));
}

/** Writes a record: the new config first, then the older ones of this stack and pin go. */
export async function writePinRecord(s: SshSession, record: PinRecord): Promise<void> {
  const name = recordConfigName(record);
  const stored = (await readStored(s)).filter((r) => r.stack === record.stack && r.label === record.label);
  if (!stored.some((r) => r.config === name)) {
    const body = JSON.stringify({ stack: record.stack, label: record.label, holders: record.holders });
    await s.run(
      `docker config create --label ${shellQuote(`${PIN_HISTORY_LABEL}=${record.label}`)} --label ${shellQuote(`${PIN_HISTORY_STACK_LABEL}=${record.stack}`)} ${shellQuote(name)} -`,
      { stdin: body },
    );
  }
  const old = stored.filter((r) => r.config !== name).map((r) => shellQuote(r.config));
  if (old.length > 0) await s.run(`docker config rm ${old.join(" ")}`);
}

export function describeRecord(r: PinRecord): string {
  return `record pin history ${r.label}: the data of stack ${r.stack} is on ${r.holders.map((h) => h.name).join(", ")}`;
}
