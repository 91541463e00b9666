/**
 * `hcloud-swarm stack rm`: removes a stack and waits until its services and networks are gone
 * (`docker stack rm` returns before they are). Secrets and volumes stay: the data in the volumes
 * still needs those passwords, and Docker secrets cannot be read back.
 */
import { checkedName, shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { STACK_LABEL } from "./cluster";
import { sleep } from "../common/time";

/** Tasks stop within Docker's grace period (10 s by default); networks go a little after them. */
export const REMOVE_TIMEOUT_MS = 90_000;
const POLL_MS = 1_000;

export interface RemoveResult {
  readonly stack: string;
  /** Actions taken; empty when there was no such stack. */
  readonly actions: readonly string[];
  /** Secrets of the stack that were kept. */
  readonly keptSecrets: readonly string[];
  readonly seconds: number;
}

async function leftovers(s: SshSession, stack: string): Promise<string[]> {
  const f = `--filter ${shellQuote(`label=${STACK_LABEL}=${stack}`)}`;
  const r = await s.run(`docker service ls -q ${f}; docker network ls -q ${f}`);
  return r.stdout.split("\n").filter(Boolean);
}

export async function removeStack(s: SshSession, stack: string, log: (line: string) => void = () => undefined): Promise<RemoveResult> {
  checkedName("stack", stack, "the stack name to remove");
  const started = Date.now();
  const secrets = (await s.run(`docker secret ls --filter ${shellQuote(`label=hcloud-swarm.stack=${stack}`)} --format '{{.Name}}'`)).stdout.split("\n").filter(Boolean);
  if ((await leftovers(s, stack)).length === 0) {
    log(`stack ${stack}: not deployed, nothing to remove`);
    return { stack, actions: [], keptSecrets: secrets, seconds: 0 };
  }
  await s.run(`docker stack rm ${shellQuote(stack)}`);
  log(`stack ${stack}: docker stack rm; waiting for its services and networks to go`);
  for (;;) {
    const left = await leftovers(s, stack);
    if (left.length === 0) break;
    if (Date.now() - started > REMOVE_TIMEOUT_MS) {
      throw new Error(`stack ${stack}: ${left.length} service(s)/network(s) still present ${REMOVE_TIMEOUT_MS / 1000} s after docker stack rm; see docker stack ps ${stack}`);
    }
    await sleep(POLL_MS);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  log(`stack ${stack}: removed in ${seconds} s${secrets.length ? `; kept secrets ${secrets.join(", ")} (docker secret rm to delete them)` : ""}`);
  return { stack, actions: [`docker stack rm ${stack}`], keptSecrets: secrets, seconds };
}
