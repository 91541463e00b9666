/**
 * The last phase of a run: deleting what the program no longer registers. Resources go in waves
 * (decide.ts): a wave holds resources none of whose dependents are still waiting, and runs in
 * parallel, so a removed worker's swarm membership (drain, leave, rm) is deleted before its
 * server. Replaced resources (and ones a failed run left marked for deletion) go last, newest
 * first, since their URN now names their replacement. The first failure stops the deletes.
 */
import type { ResourceRecord } from "./checkpoint";
import { deletionWaves } from "./decide";
import { deleteOne, type MockEngine } from "./engine";

export async function deleteResources(
  engine: MockEngine,
  orphans: readonly ResourceRecord[],
  current: readonly ResourceRecord[],
  replaced: readonly ResourceRecord[],
): Promise<void> {
  const live = orphans.filter((r) => !r.delete);
  const byUrn = new Map(live.map((r) => [r.urn, r]));
  const waves = deletionWaves([...current, ...live], new Set(byUrn.keys()));
  const last = [...orphans.filter((r) => r.delete), ...replaced].reverse();
  for (const wave of [...waves, ...last.map((r) => [r])]) {
    const records = wave.map((u) => (typeof u === "string" ? byUrn.get(u)! : u));
    const results = await Promise.allSettled(
      records.map(async (r) => {
        await deleteOne(engine, r);
        engine.markDeleted(r);
      }),
    );
    const failed = results.flatMap((x, i) =>
      x.status === "rejected"
        ? [`delete of ${records[i].type} ${records[i].name} failed: ${(x.reason as Error).message.split("\n")[0]}`]
        : [],
    );
    if (failed.length) {
      engine.failWith(failed.join("; "));
      return;
    }
  }
}
