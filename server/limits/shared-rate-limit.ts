/**
 * Per-address rate limits (R2, S25, S28) that hold across server processes (S33). Behind a load
 * balancer with N processes a per-process limit gives a client N times its allowance; with
 * REDIS_URL the counts live in the same Redis as the cluster, through rate-limiter-flexible
 * (`RateLimiterRedis`: one atomic script per request, fixed windows of a minute). Without Redis,
 * or while Redis is unreachable, the limit is counted in this process (the library's insurance
 * limiter, or our token buckets), so an outage loosens the limits by at most the process count and
 * never blocks a request: a check Redis does not answer within {@link REDIS_LIMIT_TIMEOUT_MS}
 * (a partition keeps the socket open, so the client does not know Redis is away) is counted here.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { RedisClientType } from 'redis';
import { createLogger } from '../log.ts';
import { KeyedRateLimiter } from './rate-limit.ts';

const log = createLogger('rate-limit');

export interface RateVerdict {
  ok: boolean;
  /** Whole seconds until `cost` may be taken (≥ 1 when refused). */
  retryAfterSec: number;
}

/** A per-key (client address) allowance of `capacity` per minute. */
export interface AddressRateLimit {
  take(key: string, cost?: number): Promise<RateVerdict>;
}

/** In this process: a token bucket per key (burst `capacity`, refilled at `capacity` per minute). */
export class LocalRateLimit implements AddressRateLimit {
  private buckets: KeyedRateLimiter;
  constructor(capacity: number, perMinute = capacity) {
    this.buckets = new KeyedRateLimiter({ capacity, refillPerSec: perMinute / 60 });
  }
  async take(key: string, cost = 1): Promise<RateVerdict> {
    return this.buckets.take(key, cost) ? { ok: true, retryAfterSec: 0 } : { ok: false, retryAfterSec: this.buckets.retryAfterSec(key, cost) };
  }
}

/** Longest a request waits for Redis to count it before it is counted in this process (S33). */
export const REDIS_LIMIT_TIMEOUT_MS = 500;

/** In Redis, shared by every process: `capacity` per key per minute (fixed window). */
export class RedisRateLimit implements AddressRateLimit {
  private limiter: RLWrapperTimeouts;
  constructor(
    client: RedisClientType,
    readonly name: string,
    private capacity: number,
    prefix = 'atelier',
  ) {
    const shared = new RateLimiterRedis({
      storeClient: client,
      useRedisPackage: true,
      keyPrefix: `${prefix}:rl:${name}`,
      points: capacity,
      duration: 60,
      // Redis down or slow: count in this process instead of failing or waiting.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points: capacity, duration: 60 }),
    });
    // Redis reachable but not answering (a partition, a stalled server): same fallback, after a
    // bounded wait (the wrapper takes the insurance limiter of the one it wraps).
    this.limiter = new RLWrapperTimeouts({ limiter: shared, timeoutMs: REDIS_LIMIT_TIMEOUT_MS });
  }
  async take(key: string, cost = 1): Promise<RateVerdict> {
    if (cost > this.capacity) return { ok: false, retryAfterSec: 60 };
    try {
      await this.limiter.consume(key, cost);
      return { ok: true, retryAfterSec: 0 };
    } catch (e) {
      if (e instanceof RateLimiterRes) return { ok: false, retryAfterSec: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
      log.warn('rate limit not checked (Redis and the fallback failed); letting the request through', { limit: this.name, error: (e as Error).message });
      return { ok: true, retryAfterSec: 0 };
    }
  }
}

/** Makes the limits of one process: in Redis when `redis` is given (cluster mode), else local. */
export function rateLimits(redis?: RedisClientType, prefix?: string): (name: string, capacity: number, perMinute?: number) => AddressRateLimit {
  return (name, capacity, perMinute = capacity) => (redis ? new RedisRateLimit(redis, name, capacity, prefix) : new LocalRateLimit(capacity, perMinute));
}
