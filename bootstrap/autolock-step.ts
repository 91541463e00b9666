// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * What a bootstrap run does about autolock and the join tokens: it opens a locked manager with a
 * kept key as soon as it sees one, names those it cannot open, brings the swarm's autolock setting
 * to the wanted one in place (never by replacing anything), keeps the unlock key the swarm has, and
 * rotates the join tokens the run used. Decisions in ../swarm/autolock-plan; commands in ../swarm/autolock.
 */
import type { Inventory, InventoryNode, NodeRole } from "../inventory/inventory";
import type { SshSession } from "../transport/ssh";
import type { SwarmInfo } from "./swarm-state";
import type { Run } from "./bootstrap";
import { readSwarmInfo } from "./swarm-ops";
import { liveUnlockKey, rotateJoinTokens, setAutolock, unlockWith } from "../swarm/autolock";
import { autolockChange, keysToKeep, lockedProblem, mustKeep, rolesUsed } from "../swarm/autolock-plan";
import { redact } from "../transport/redact";

/**
 * A manager found locked: opened with the kept keys when there are any (one "unlock" action), else
 * recorded so the run names it. Returns the engine's state after the attempt.
 */
export async function unlockObserved(
  run: Run,
  node: InventoryNode,
  s: SshSession,
  info: SwarmInfo,
): Promise<SwarmInfo> {
  if (info.state !== "locked") return info;
  const keys = run.o.autolock?.keys;
  if (!keys || keys.known.length === 0) {
    run.locked.set(node.name, lockedProblem(node.name, undefined));
    return info;
  }
  const outcome = await unlockWith(s, keys.known);
  if (outcome === "wrong-key") {
    run.locked.set(node.name, lockedProblem(node.name, { keys: keys.known.length, where: keys.where }));
    return info;
  }
  if (outcome === "unlocked")
    run.act({
      node: node.name,
      kind: "unlock",
      detail: `was locked (autolock); unlocked with the key kept in ${keys.where}`,
    });
  return readSwarmInfo(s);
}

/**
 * A second try on the managers still locked, once the run has kept the swarm's current key (read
 * on the serving manager): a key file that was missing or behind a rotation opens them now.
 */
export async function unlockLeft(run: Run, inv: Inventory): Promise<void> {
  const keys = run.o.autolock?.keys;
  if (!keys || keys.known.length === 0) return;
  // All at once: a manager's unlock returns only once Raft has a quorum (UNLOCK_TIMEOUT_MS).
  await Promise.all(
    inv.nodes.map(async (n) => {
      const s = run.sessions.get(n.name);
      const o = run.obs.get(n.name);
      if (!s || !run.locked.has(n.name) || !o?.reachable || o.info.state !== "locked") return;
      run.locked.delete(n.name);
      const info = await unlockObserved(run, n, s, o.info);
      run.obs.set(n.name, { reachable: true, info });
      if (info.state !== "locked") {
        const named = run.problems.findIndex((p) => p.startsWith(`${n.name} is a locked swarm manager`));
        if (named >= 0) run.problems.splice(named, 1);
      }
    }),
  );
}

/**
 * Managers still locked at the end of the run, each named with how to open it: a problem for a
 * whole-inventory run (it exits 1), a warning when the run acts on other nodes only (the provider's).
 */
export function reportLocked(run: Run, inv: Inventory): void {
  for (const n of inv.nodes) {
    const o = run.obs.get(n.name);
    const why = run.locked.get(n.name);
    if (!why || !o?.reachable || o.info.state !== "locked") continue;
    // The plan named it already, without knowing that the kept keys were tried: say that instead.
    const named = run.problems.findIndex((p) => p.startsWith(`${n.name} is a locked swarm manager`));
    if (named >= 0) run.problems[named] = why;
    else if (run.o.targets && !run.o.targets.has(n.name)) run.warnings.push(why);
    else run.problems.push(why);
  }
}

/**
 * At the end of a run, through the serving manager: autolock set as wanted, the swarm's unlock key
 * kept (before anything else could lose it), and the join tokens the run used rotated. Returns the
 * roles whose tokens were rotated.
 */
export async function settleSwarmKeys(
  run: Run,
  manager: SshSession,
  entry: string,
  joined: readonly { readonly role: NodeRole }[],
): Promise<NodeRole[]> {
  const autolock = run.o.autolock;
  if (autolock) {
    const info = await readSwarmInfo(manager);
    const change = autolockChange(autolock.enabled, info.autolock);
    if (change !== "none") {
      await setAutolock(manager, change === "enable");
      run.act({
        node: entry,
        kind: "autolock",
        detail:
          change === "enable"
            ? `autolock turned on: managers' Raft keys are encrypted at rest, and a restarted manager stays locked until unlocked with the key kept in ${autolock.keys.where}`
            : "autolock turned off: managers' Raft keys are no longer encrypted at rest, and a restarted manager needs no key",
      });
    }
    if (change === "enable" || (change === "none" && info.autolock === true)) {
      const live = await liveUnlockKey(manager);
      if (live !== "" && mustKeep(autolock.keys.known, live)) {
        autolock.keys.keep(keysToKeep(autolock.keys.known, live));
        run.log(`[${entry}] kept the swarm's unlock key in ${autolock.keys.where}`);
      }
    }
  }
  const rotate = run.o.rotateJoinTokens ?? !run.o.targets;
  const roles = rotate ? rolesUsed(joined) : [];
  if (roles.length === 0) return [];
  try {
    await rotateJoinTokens(manager, roles);
  } catch (err) {
    run.warnings.push(
      `the ${roles.join(" and ")} join token(s) used by this run were not rotated (${redact((err as Error).message)}); run \`hcloud-swarm rotate --join-tokens --inventory FILE\``,
    );
    return [];
  }
  run.log(`[${entry}] rotated the ${roles.join(" and ")} join token(s) this run used: they no longer admit anyone`);
  return roles;
}
