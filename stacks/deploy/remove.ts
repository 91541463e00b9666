// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * `hcloud-swarm stack rm`: removes a stack and waits until its services and networks are gone
 * (`docker stack rm` returns before they are). Secrets and volumes stay: the data in the volumes
 * still needs those passwords, and Docker secrets cannot be read back.
 */
import { redactedError } from "../../transport/redact";
import { checkedName, shellQuote } from "../../transport/shell";
import type { SshSession } from "../../transport/ssh";
import { networkUsers, STACK_LABEL } from "../../swarm/facts";
import { sleep } from "../../common/time";

/** Tasks stop within Docker's grace period (10 s by default); networks go a little after them. */
export const REMOVE_TIMEOUT_MS = 90_000;
const POLL_MS = 1_000;
/**
 * docker's words when `stack rm` removed the services but a task still held a network: Docker
 * removes networks right after the services, before the orchestrator has marked their tasks for
 * removal, and then leaves such a network behind for good. Seen in CI with WordPress' network on a
 * busy machine.
 */
const NETWORK_IN_USE = /^Failed to remove network (\S+): .*is in use by task ([a-z0-9]{25})/;
/** A network that went between docker's list and its removal: nothing is left to do for it. */
const NETWORK_GONE = /^Failed to remove network \S+: .*network \S+ not found/;
/** A service outside the stack on the stack's network: waiting would not help, its owner must act. */
const USED_BY_SERVICE = /^Failed to remove network (\S+): .*is in use by service ([a-z0-9]{25})/;

export interface RemoveResult {
  readonly stack: string;
  /** Actions taken; empty when there was no such stack. */
  readonly actions: readonly string[];
  /** Secrets of the stack that were kept. */
  readonly keptSecrets: readonly string[];
  readonly seconds: number;
}

async function leftovers(s: SshSession, stack: string): Promise<{ services: string[]; networks: string[] }> {
  const f = `--filter ${shellQuote(`label=${STACK_LABEL}=${stack}`)}`;
  const r = await s.run(`docker service ls -q ${f}; echo --; docker network ls -q ${f}`);
  const lines = r.stdout.split("\n").map((l) => l.trim());
  const cut = lines.indexOf("--");
  if (cut < 0)
    throw new Error(
      `stack ${stack}: could not read its services and networks on ${s.node}: ${r.stdout.trim() || "no output"}`,
    );
  return { services: lines.slice(0, cut).filter(Boolean), networks: lines.slice(cut + 1).filter(Boolean) };
}

/**
 * Runs `docker stack rm`. A failure is only tolerated when every resource it failed on is a network
 * that a task still held or that was already gone; a network another service uses is named with the
 * fix, and anything else is reported in docker's words.
 */
async function dockerStackRm(s: SshSession, stack: string, log: (line: string) => void): Promise<void> {
  const r = await s.run(`docker stack rm ${shellQuote(stack)}`, { allowFailure: true });
  if (r.code === 0) return;
  // docker prints each failure without a newline, so several run together on one line.
  const all = `${r.stdout}\n${r.stderr}`.split(/\n|(?=Failed to remove )/).filter((l) => /^Failed to remove /.test(l));
  const failed = all.filter((l) => !NETWORK_GONE.test(l));
  const foreign = failed.map((l) => USED_BY_SERVICE.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  if (foreign.length > 0) {
    const users = await networkUsers(s);
    const named = foreign.flatMap(([, net, id]) => {
      const names = users.filter((u) => u.networkIds.includes(net)).map((u) => u.name);
      return (names.length > 0 ? names : [id]).map(
        (name) =>
          `network ${net} is used by service ${name}, which is not part of the stack (remove it with docker service rm ${name}, or detach it with docker service update --network-rm ${net} ${name})`,
      );
    });
    throw new Error(`stack ${stack}: its services are removed, but ${named.join("; ")}; then run stack rm again`);
  }
  const inUse = failed.map((l) => NETWORK_IN_USE.exec(l));
  if (all.length === 0 || inUse.some((m) => m === null)) {
    throw redactedError(`docker stack rm failed on ${s.node}: ${(r.stderr || r.stdout).trim()}`, `stack ${stack}`);
  }
  if (inUse.length === 0) return;
  // The summary docker prints after the last failure runs into it: only the IDs are kept.
  const held = inUse
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, net, task]) => `network ${net} by task ${task}`);
  log(`stack ${stack}: still in use: ${held.join(", ")}; removing the network(s) once those tasks are gone`);
}

export async function removeStack(
  s: SshSession,
  stack: string,
  log: (line: string) => void = () => undefined,
): Promise<RemoveResult> {
  checkedName("stack", stack, "the stack name to remove");
  const started = Date.now();
  const secrets = (
    await s.run(`docker secret ls --filter ${shellQuote(`label=hcloud-swarm.stack=${stack}`)} --format '{{.Name}}'`)
  ).stdout
    .split("\n")
    .filter(Boolean);
  const before = await leftovers(s, stack);
  if (before.services.length + before.networks.length === 0) {
    log(`stack ${stack}: not deployed, nothing to remove`);
    return { stack, actions: [], keptSecrets: secrets, seconds: 0 };
  }
  await dockerStackRm(s, stack, log);
  log(`stack ${stack}: docker stack rm; waiting for its services and networks to go`);
  let refusal = "";
  for (;;) {
    const left = await leftovers(s, stack);
    if (left.services.length + left.networks.length === 0) break;
    if (Date.now() - started > REMOVE_TIMEOUT_MS) {
      const why = refusal
        ? `; docker network rm said: ${refusal} (remove what uses it, then run stack rm again)`
        : `; see docker stack ps ${stack}`;
      throw new Error(
        `stack ${stack}: ${left.services.length} service(s) and ${left.networks.length} network(s) still present ${REMOVE_TIMEOUT_MS / 1000} s after docker stack rm${why}`,
      );
    }
    // Networks left behind once the services are gone: their tasks may still be ending, so a
    // refusal here is expected and the next poll tries again.
    if (left.services.length === 0) {
      const r = await s.run(`docker network rm ${left.networks.map(shellQuote).join(" ")}`, { allowFailure: true });
      refusal = r.code === 0 ? "" : r.stderr.trim();
    }
    await sleep(POLL_MS);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  log(
    `stack ${stack}: removed in ${seconds} s${secrets.length ? `; kept secrets ${secrets.join(", ")} (docker secret rm to delete them)` : ""}`,
  );
  return { stack, actions: [`docker stack rm ${stack}`], keptSecrets: secrets, seconds };
}
