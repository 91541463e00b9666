/**
 * The act of a roll on one drained node: OS updates, the node spec's rolling changes (daemon.json,
 * the Docker package: nodespec/reconcile.ts), a dockerd restart, a reboot. The dockerd restart is
 * recovery/engine.ts's, so it works on both kinds of host (systemd, or a dockerd started by hand
 * as on the namespace bed), and it starts a dockerd that an interrupted roll left stopped.
 */
import type { InventoryNode } from "../inventory/inventory";
import type { NodeSpec } from "../nodespec/spec";
import { reconcileNode } from "../nodespec/reconcile";
import { detectInit, engineRunning, startEngine, stopEngine } from "../recovery/engine";
import { SshSession, waitForSsh } from "../transport/ssh";
import type { RollRequest } from "./plan";

/** apt-get update and upgrade of a Debian/Ubuntu server: downloads and unpacking on a slow mirror. */
export const OS_UPGRADE_TIMEOUT_MS = 1_200_000;
/** A cloud server's reboot until sshd answers again: firmware, kernel, cloud-init's boot stage. */
export const REBOOT_TIMEOUT_MS = 600_000;
/** What Debian and Ubuntu create when an update needs a reboot. */
export const REBOOT_REQUIRED_FILE = "/var/run/reboot-required";

export interface ActResult {
  /** The node's session, a new one after a reboot. */
  readonly session: SshSession;
  readonly did: readonly string[];
}

/** Restarts dockerd (or starts it, when an interrupted roll left it stopped). */
export async function restartDockerd(s: SshSession): Promise<string> {
  const init = await detectInit(s);
  const was = await engineRunning(s, init);
  if (was) await stopEngine(s);
  await startEngine(s, { node: s.node, init });
  return was ? `dockerd restarted (${init})` : `dockerd was stopped (an interrupted roll?): started (${init})`;
}

async function rebootNode(s: SshSession, node: InventoryNode, key: string): Promise<SshSession> {
  const boot = (await s.run("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
  // The connection drops with the reboot: the command's own outcome says nothing.
  await s.run("systemctl reboot", { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
  s.close();
  const again = await waitForSsh(node, key, { timeoutMs: REBOOT_TIMEOUT_MS });
  const now = (await again.run("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
  if (now === boot) throw new Error(`${node.name} answers SSH again but did not reboot (same boot id)`);
  return again;
}

export async function actOn(
  s: SshSession,
  node: InventoryNode,
  key: string,
  spec: NodeSpec,
  r: RollRequest,
): Promise<ActResult> {
  const did: string[] = [];
  if (r.os) {
    await s.run(
      "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get -y -q -o Dpkg::Options::=--force-confold upgrade",
      { timeoutMs: OS_UPGRADE_TIMEOUT_MS, display: "apt-get update && apt-get upgrade" },
    );
    did.push("apt-get upgrade done (held packages, the engine's among them, stay)");
  }
  const rec = await reconcileNode(s, spec, {
    rolling: true,
    ...(r.dockerVersion ? { dockerVersion: r.dockerVersion } : {}),
  });
  did.push(...rec.applied.map((c) => `${c.item}: ${c.detail}`));
  if (r.restartEngine || rec.restartEngine) did.push(await restartDockerd(s));
  let session = s;
  if (r.rebootIfNeeded) {
    const needed = (await s.run(`test -f ${REBOOT_REQUIRED_FILE}`, { allowFailure: true })).code === 0;
    if (needed) {
      session = await rebootNode(s, node, key);
      did.push("rebooted (the OS asked for it)");
    }
  }
  return { session, did };
}
