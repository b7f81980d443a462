/** A cache of asynchronous lookups that remembers answers, shares lookups in flight and forgets failures. */

/**
 * Per-key memo of a promise: concurrent callers share one lookup, a result is kept for the life of
 * the cache, and a failure is forgotten so that the next call tries again (a throttled
 * DescribeJobQueues must not poison a queue for ever).
 *
 * @example
 * ```ts
 * const definitions = new SettledCache<string, string>();
 * const arn = await definitions.get(image, () => registerTaskDefinition(image)); // once per image
 * ```
 */
export class SettledCache<K, V> {
  private readonly entries = new Map<K, Promise<V>>();

  /** The cached value of `key`, or the value `make` produces (at most one `make` in flight per key). */
  get(key: K, make: () => Promise<V>): Promise<V> {
    const known = this.entries.get(key);
    if (known) return known;
    const created = make();
    this.entries.set(key, created);
    created.catch(() => {
      if (this.entries.get(key) === created) this.entries.delete(key);
    });
    return created;
  }
}
