// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Bounded concurrency for work over SSH: at most N sessions in flight, whoever starts them. Kept
 * here rather than taken from p-limit, which is ESM-only since v4 and this package is CommonJS
 * (the dynamic providers are serialized as CommonJS closures).
 */

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const gate = limiter(limit);
  return Promise.all(items.map((item) => gate(() => fn(item))));
}

/** A gate letting at most `limit` tasks run at once, for work started from several places. */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= limit) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
