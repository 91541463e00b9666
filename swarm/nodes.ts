/**
 * Every node of the swarm as `docker node inspect` reports it, as bootstrap (members) and stack
 * deploy (placement facts) both read it. One place for the race between listing and inspecting.
 */
import type { SshSession } from "../transport/ssh";
import { onLeader } from "./leader";

/** Re-lists when a node vanished between `node ls` and `node inspect`; each removal is one more try. */
export const NODE_LIST_RETRIES = 5;

/** The JSON array of `docker node inspect` for every node, read through the leader. */
export async function inspectAllNodes(s: SshSession): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      // `node ls` and `node inspect` in one shell: both need the leader, so the retry covers the pair.
      return (await onLeader(s, "ids=$(docker node ls -q) && docker node inspect $ids")).stdout;
    } catch (err) {
      // A node removed between the two (another membership's scale-down; pulumi destroy removes
      // workers in parallel) is not an error: list again.
      if (attempt >= NODE_LIST_RETRIES || !/No such node/i.test((err as Error).message)) throw err;
    }
  }
}
