// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Manager commands during a Raft election: docker answers "no leader" until one is elected. Below
 * bootstrap and stacks, which both run such commands on a manager.
 */
import { redact } from "../transport/redact";
import type { CommandOptions, CommandResult, SshSession } from "../transport/ssh";
import { sleep } from "../common/time";

/** How often a command is tried again while there is no leader. */
const POLL_MS = 1_000;
/**
 * Raft elects a new leader after 10–20 s without heartbeats (Docker's election ticks); meanwhile
 * manager commands block, then fail with "The swarm does not have a leader" or "context deadline
 * exceeded" (docker's own 20 s limit). Measured on the bed: 12–15 s from the leader's power cut to
 * answers, also with every node capped at 20% of a core. A swarm without a leader for this long
 * has lost quorum rather than being in an election.
 */
export const ELECTION_WAIT_MS = 90_000;
/** What docker says while the swarm has no leader (texts seen on the bed after a leader's power cut and after a lost quorum). */
const NO_LEADER = /does not have a leader|context deadline exceeded|code = (Unavailable|DeadlineExceeded)/i;

/**
 * Runs a command that needs the swarm's leader. While docker says there is none (an election),
 * it is run again, for up to ELECTION_WAIT_MS; any other failure is reported at once.
 */
export async function onLeader(s: SshSession, command: string, o: CommandOptions = {}): Promise<CommandResult> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  for (;;) {
    const r = await s.run(command, { ...o, allowFailure: true });
    const noLeader = r.code !== 0 && NO_LEADER.test(r.stderr);
    if (noLeader && Date.now() + POLL_MS < deadline) {
      await sleep(POLL_MS);
      continue;
    }
    if (r.code === 0 || o.allowFailure) return r;
    const why = noLeader
      ? `the swarm had no leader for ${ELECTION_WAIT_MS / 1000} s; if most managers are down it has lost quorum (docker: ${r.stderr.trim()})`
      : r.stderr.trim() || r.stdout.trim() || "no output";
    throw new Error(redact(`${command} failed on ${s.node} (exit ${r.code}): ${why}`));
  }
}
