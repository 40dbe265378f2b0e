/**
 * Token buckets: the one rate-limiting primitive of the server. A bucket holds up to `capacity`
 * tokens and refills at `refillPerSec`; an action costs tokens and is refused when the bucket
 * cannot pay. Buckets allow honest bursts (a fast stroke, a page reload) while bounding the
 * sustained rate a single socket or IP can impose on everyone else.
 */

/** Milliseconds clock; injectable so tests need no sleeps. */
export type Clock = () => number;

/** One bucket. Refill is computed lazily on each `take`, so an idle bucket costs nothing. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSec: number,
    private now: Clock = Date.now,
  ) {
    if (!(capacity > 0) || !(refillPerSec >= 0)) throw new RangeError(`bad bucket: capacity ${capacity}, refill ${refillPerSec}/s`);
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.refillPerSec);
      this.last = t;
    }
  }

  /** Pays `cost` tokens if the bucket holds them; returns whether it did. */
  take(cost = 1): boolean {
    this.refill();
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return true;
    }
    return false;
  }

  /** Pays `cost` whatever the balance (it may go negative: a debt repaid by the refill). */
  charge(cost: number): void {
    this.refill();
    this.tokens -= cost;
  }

  /** Tokens available now (for tests and Retry-After). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Whole seconds until `cost` tokens are available (≥ 1), for `Retry-After`. */
  retryAfterSec(cost = 1): number {
    const missing = cost - this.available();
    if (missing <= 0) return 0;
    return this.refillPerSec > 0 ? Math.max(1, Math.ceil(missing / this.refillPerSec)) : 3600;
  }
}

export interface KeyedLimitOptions {
  /** Burst size per key. */
  capacity: number;
  /** Sustained rate per key. */
  refillPerSec: number;
  /** Most keys tracked at once; beyond it full (idle) buckets are forgotten first. */
  maxKeys?: number;
  now?: Clock;
}

/**
 * One bucket per key (an IP address). Memory is bounded: when `maxKeys` is reached, buckets that
 * have refilled completely (i.e. keys that are not limited right now) are dropped; if none can be
 * dropped the oldest key is, which errs on the side of letting a request through.
 */
export class KeyedRateLimiter {
  private buckets = new Map<string, TokenBucket>();
  private readonly maxKeys: number;
  private readonly now: Clock;

  constructor(private opts: KeyedLimitOptions) {
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict();
      b = new TokenBucket(this.opts.capacity, this.opts.refillPerSec, this.now);
      this.buckets.set(key, b);
    }
    return b;
  }

  private evict(): void {
    for (const [k, b] of this.buckets) if (b.available() >= b.capacity) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }

  /** Pays `cost` from `key`'s bucket; false = limited. */
  take(key: string, cost = 1): boolean {
    return this.bucket(key).take(cost);
  }

  /** Seconds until `key` may act again. */
  retryAfterSec(key: string, cost = 1): number {
    return this.bucket(key).retryAfterSec(cost);
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
