/** Bounded concurrency for the per-instance work of the EC2 backend (launches, probes). */

/**
 * `fn` over `items` with at most `limit` calls in flight; the results in the order of `items`.
 * `fn` is expected not to throw (failures are results); a throw rejects the whole call.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}
