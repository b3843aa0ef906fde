/**
 * Token buckets kept in memory, one per key (a user, or a user and an action).
 *
 * Why memory and not storage: a bucket refills completely within
 * `burst / perSecond` seconds (2–3 s for Parley's limits), far sooner than an
 * idle object is evicted, so an object that wakes from hibernation would have
 * found every bucket full anyway. Keeping them out of SQLite saves one row
 * written per message. A crash or redeploy mid-flood hands out one extra
 * burst at most.
 */
export interface BucketLimit {
  readonly burst: number;
  readonly perSecond: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limit: BucketLimit) {}

  /**
   * Take one token for `key`.
   * @returns 0 when allowed, else the whole seconds to wait (at least 1).
   */
  take(key: string, now: number): number {
    const b = this.#buckets.get(key);
    const tokens = b ? Math.min(this.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limit.perSecond) : this.limit.burst;
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: now });
      return Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond));
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > 10_000) this.#prune(now);
    return 0;
  }

  /** Empty a bucket (tests: reach the limit without a flood). */
  drain(key: string, now: number): void {
    this.#buckets.set(key, { tokens: 0, at: now });
  }

  /** Forget buckets that are full again. */
  #prune(now: number): void {
    const full = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [k, b] of this.#buckets) if (now - b.at > full) this.#buckets.delete(k);
  }
}
