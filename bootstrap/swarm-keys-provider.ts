// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The dynamic provider behind SwarmKeys (./swarm-keys): the swarm's keys under `pulumi up`. It
 * opens locked managers with the kept unlock keys, brings autolock to the config's setting in place,
 * keeps the swarm's unlock key as a secret output (`unlockKeys`, newest first, never a plain
 * property), generates the backup key once (secret output `backupKey`), and rotates both join tokens once new members have joined. It never replaces anything.
 *
 * `diff` reports a change when the setting or the members changed, and, while autolock is on, when
 * a manager is locked: the one read it does (`docker info` on each manager) is what lets a plain
 * `pulumi up` open a rebooted manager.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { InventoryNode } from "../inventory/inventory";
import { connect, type SshSession } from "../transport/ssh";
import { readSwarmInfo } from "./swarm-ops";
import { liveUnlockKey, rotateJoinTokens, setAutolock, unlockWith } from "../swarm/autolock";
import { autolockChange, keysToKeep, lockedProblem } from "../swarm/autolock-plan";
import { sameValue } from "../common/same-value";
import { redact } from "../transport/redact";
import { newBackupKeyText } from "../recovery/backup-key-format";

/** One handshake per manager: diff and update must not hang on a manager that is off. */
export const SWARM_KEYS_CONNECT_TIMEOUT_MS = 10_000;

export interface SwarmKeysInputs {
  /** The swarm's managers, first manager first. */
  readonly managers: readonly InventoryNode[];
  readonly privateKey: string;
  /** The config's autolock setting. */
  readonly autolock: boolean;
  /** Resource IDs of every SwarmNode: a new one means a join used the tokens. */
  readonly members: readonly string[];
}

export interface SwarmKeysOutputs extends SwarmKeysInputs {
  /** The swarm's unlock keys, newest first (empty with autolock off). Secret. */
  readonly unlockKeys: readonly string[];
  /** The backup key, generated once at create and kept (a backup key file's text). Secret. */
  readonly backupKey: string;
}

async function sessions(inputs: SwarmKeysInputs): Promise<SshSession[]> {
  const out: SshSession[] = [];
  for (const m of inputs.managers)
    try {
      out.push(await connect(m, inputs.privateKey, { handshakeTimeoutMs: SWARM_KEYS_CONNECT_TIMEOUT_MS }));
    } catch {
      // A manager that is off is bootstrap's to report; the keys are settled through the others.
    }
  return out;
}

/** Managers that answer and are locked; reading only. */
export async function lockedManagers(inputs: SwarmKeysInputs): Promise<string[]> {
  const open = await sessions(inputs);
  try {
    const states = await Promise.all(
      open.map(async (s) => ((await readSwarmInfo(s)).state === "locked" ? s.node : "")),
    );
    return states.filter((n) => n !== "");
  } finally {
    for (const s of open) s.close();
  }
}

function logger(): (line: string) => void {
  const quiet = process.env.HCLOUD_SWARM_QUIET === "1";
  return (line) => {
    if (!quiet) console.log(redact(line));
  };
}

/** Unlocks, sets autolock, keeps the key, rotates the tokens after joins; returns the full outputs. */
export async function settleKeys(news: SwarmKeysInputs, olds?: SwarmKeysOutputs): Promise<SwarmKeysOutputs> {
  const log = logger();
  let known = [...(olds?.unlockKeys ?? [])];
  const open = await sessions(news);
  try {
    // Every locked manager at once: one manager's unlock returns only once Raft has a quorum.
    const infos = await Promise.all(
      open.map(async (s) => {
        const info = await readSwarmInfo(s);
        if (info.state !== "locked" || known.length === 0 || (await unlockWith(s, known)) === "wrong-key") return info;
        log(`[${s.node}] was locked (autolock); unlocked with the key kept in the Pulumi secret output unlockKeys`);
        return readSwarmInfo(s);
      }),
    );
    const locked = open.filter((_, i) => infos[i].state === "locked").map((s) => s.node);
    const serving = open.find((_, i) => infos[i].state === "active" && infos[i].controlAvailable && infos[i].clusterId);
    if (!serving)
      throw new Error(
        `no manager serves the swarm (${locked.map((n) => lockedProblem(n, { keys: known.length, where: "the Pulumi secret output unlockKeys" })).join("; ") || "none reachable"})`,
      );
    const info = await readSwarmInfo(serving);
    const change = autolockChange(news.autolock, info.autolock);
    if (change !== "none") {
      await setAutolock(serving, change === "enable");
      log(`[${serving.node}] autolock turned ${change === "enable" ? "on" : "off"}`);
    }
    const live = news.autolock ? await liveUnlockKey(serving) : "";
    if (live !== "") known = keysToKeep(known, live);
    const joined = news.members.some((m) => !(olds?.members ?? []).includes(m));
    if (olds && joined) {
      await rotateJoinTokens(serving, ["worker", "manager"]);
      log(`[${serving.node}] rotated the join tokens after new members joined`);
    }
    for (const n of locked)
      log(`warning: ${lockedProblem(n, { keys: known.length, where: "the Pulumi secret output unlockKeys" })}`);
    // Generated once and kept: every archive written with it must stay readable.
    return { ...news, unlockKeys: known, backupKey: olds?.backupKey || newBackupKeyText() };
  } finally {
    for (const s of open) s.close();
  }
}

/** Never a replacement: every change is applied in place by `update`. */
export async function diffKeys(olds: SwarmKeysOutputs, news: SwarmKeysInputs): Promise<pulumi.dynamic.DiffResult> {
  const changed =
    olds.autolock !== news.autolock ||
    olds.privateKey !== news.privateKey ||
    !sameValue(olds.managers, news.managers) ||
    news.members.some((m) => !(olds.members ?? []).includes(m));
  // Only a swarm that has had a key kept can have a locked manager this resource can open.
  const locked = !changed && olds.autolock && (olds.unlockKeys ?? []).length > 0 ? await lockedManagers(olds) : [];
  return { changes: changed || locked.length > 0, replaces: [], deleteBeforeReplace: false };
}

export const swarmKeysProvider: pulumi.dynamic.ResourceProvider<SwarmKeysInputs, SwarmKeysOutputs> = {
  async check(_olds, news) {
    const failures =
      typeof news.autolock === "boolean" ? [] : [{ property: "autolock", reason: "autolock must be true or false" }];
    return { inputs: news, failures };
  },
  async diff(_id, olds, news) {
    return diffKeys(olds, news);
  },
  async create(inputs) {
    return { id: "swarm-keys", outs: await settleKeys(inputs) };
  },
  async update(_id, olds, news) {
    return { outs: await settleKeys(news, olds) };
  },
  // Deleting the record changes nothing in the swarm: its keys stay as they are.
  async delete() {},
};
