/**
 * Exactly one engine per session across all server processes: a lease in Redis.
 *
 * - Acquire: one Lua script does "if nobody holds `lease:<id>`, bump `fence:<id>` and SET the lease
 *   to `<instance>:<token>` with PX = ttl". The token (fencing token) grows with every acquisition
 *   and never repeats, whoever acquires (see ACQUIRE).
 * - Renew every ttl/3 (compare-and-PEXPIRE). A renewal that finds another value means the lease was
 *   lost: the session stops its engine ({@link LeaseHolder.revokeEngine}). When Redis cannot be
 *   reached, the holder stops on its own shortly before its last confirmed lease could expire (a
 *   renewal that hangs is given up at that moment), so two engines never run at once.
 * - Release (compare-and-DEL) when the session suspends or the process shuts down, so another
 *   process can take over at once instead of after the TTL.
 * - Keyframes carry the token and storage refuses a lower one than it already accepted, so even a
 *   paused ex-owner that wakes up after losing the lease cannot overwrite the new owner's progress.
 *
 * Sessions that want an engine but did not get the lease are retried every ttl/3: when the owner
 * dies (SIGKILL, machine loss) its lease expires and a process with clients of the session takes
 * over within ttl + ttl/3, resuming from the last keyframe.
 */
import type { RedisClientType } from 'redis';
import { createLogger } from '../log.ts';

const log = createLogger('lease');

/** What a lease manages: the session (see Session.grantEngine / revokeEngine). */
export interface LeaseHolder {
  readonly id: string;
  readonly isClosed: boolean;
  readonly wantsEngine: boolean;
  grantEngine(fencingToken: number): void;
  revokeEngine(): void;
}

/**
 * Token = max(previous + 1, Redis time in ms): strictly increasing per session, and still above
 * every token handed out before even if Redis lost its data (restart without persistence), so the
 * storage's fences never lock out a legitimate new owner.
 */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local t = string.format('%d', math.max(prev + 1, ms))
redis.call('SET', KEYS[2], t)
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. t, 'PX', ARGV[2])
return tonumber(t)`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface EngineLeaseOptions {
  /** This process's id, stored in the lease value (logs, `owner()`). */
  instanceId: string;
  /** Lease time to live; failover takes at most about 4/3 of it. */
  ttlMs: number;
  /** Redis key prefix (default `atelier`). */
  prefix?: string;
}

interface Held {
  holder: LeaseHolder;
  value: string;
  token: number;
  /** Until when the lease is certainly ours (start of the last successful acquire/renew + ttl). */
  validUntil: number;
}

export class EngineLeases {
  private wanted = new Map<string, LeaseHolder>();
  private held = new Map<string, Held>();
  private acquiring = new Set<string>();
  private pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout;
  private closed = false;
  private prefix: string;
  /**
   * A holder that cannot confirm its lease stops this long before it could expire in Redis, so its
   * engine is gone before another process can acquire the lease (timers fire late on a busy loop).
   */
  private safetyMs: number;

  constructor(
    private redis: RedisClientType,
    private opts: EngineLeaseOptions,
  ) {
    this.prefix = opts.prefix ?? 'atelier';
    this.safetyMs = Math.min(1_000, Math.floor(opts.ttlMs / 10));
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(opts.ttlMs / 3)));
    this.timer.unref();
  }

  leaseKey(sessionId: string): string {
    return `${this.prefix}:lease:${sessionId}`;
  }
  private fenceKey(sessionId: string): string {
    return `${this.prefix}:fence:${sessionId}`;
  }

  /** `holder` wants its engine: acquire now if free, else keep trying every ttl/3. */
  want(holder: LeaseHolder): void {
    if (this.closed) return;
    this.wanted.set(holder.id, holder);
    this.track(this.tryAcquire(holder));
  }

  /** `holder` needs no engine any more: stop retrying and give the lease back if held. */
  release(holder: LeaseHolder): void {
    if (this.wanted.get(holder.id) === holder) this.wanted.delete(holder.id);
    const h = this.held.get(holder.id);
    if (!h || h.holder !== holder) return;
    this.held.delete(holder.id);
    this.track(this.eval(RELEASE, [this.leaseKey(holder.id)], [h.value]).catch((e) => log.warn('lease release failed', { session: holder.id, error: (e as Error).message })));
  }

  /** The fencing token this process holds for `sessionId`, if any. */
  tokenOf(sessionId: string): number | undefined {
    return this.held.get(sessionId)?.token;
  }

  /** Who owns `sessionId` now, from Redis (operations, tests). */
  async owner(sessionId: string): Promise<{ instanceId: string; token: number } | null> {
    const v = await this.redis.get(this.leaseKey(sessionId));
    if (!v) return null;
    const i = v.lastIndexOf(':');
    return { instanceId: v.slice(0, i), token: Number(v.slice(i + 1)) };
  }

  private eval(script: string, keys: string[], args: string[]): Promise<number> {
    return this.redis.eval(script, { keys, arguments: args }) as Promise<number>;
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async tryAcquire(holder: LeaseHolder): Promise<void> {
    if (this.closed || this.held.has(holder.id) || this.acquiring.has(holder.id)) return;
    this.acquiring.add(holder.id);
    const started = Date.now();
    try {
      const token = await this.eval(ACQUIRE, [this.leaseKey(holder.id), this.fenceKey(holder.id)], [this.opts.instanceId, String(this.opts.ttlMs)]);
      if (!token) return;
      const value = `${this.opts.instanceId}:${token}`;
      if (this.closed || holder.isClosed || this.wanted.get(holder.id) !== holder || !holder.wantsEngine) {
        await this.eval(RELEASE, [this.leaseKey(holder.id)], [value]);
        return;
      }
      let validUntil = started + this.opts.ttlMs;
      if (Date.now() - started > this.opts.ttlMs / 3) {
        // The answer came late (the command waited while Redis was away): the lease is counted from
        // when it was asked for, so it may be about to expire. Confirm it with a renewal whose start
        // is now, rather than start an engine and stop it at the next renewal.
        const confirmedAt = Date.now();
        if ((await this.eval(RENEW, [this.leaseKey(holder.id)], [value, String(this.opts.ttlMs)])) !== 1) return;
        validUntil = confirmedAt + this.opts.ttlMs;
        if (this.closed || holder.isClosed || this.wanted.get(holder.id) !== holder || !holder.wantsEngine) {
          await this.eval(RELEASE, [this.leaseKey(holder.id)], [value]);
          return;
        }
      }
      this.held.set(holder.id, { holder, value, token, validUntil });
      log.info('engine lease acquired', { session: holder.id, token });
      holder.grantEngine(token);
    } catch (e) {
      log.warn('lease acquire failed', { session: holder.id, error: (e as Error).message });
    } finally {
      this.acquiring.delete(holder.id);
    }
  }

  private tick(): void {
    if (this.closed) return;
    for (const h of this.held.values()) this.track(this.renew(h));
    for (const holder of this.wanted.values()) {
      if (holder.isClosed) this.wanted.delete(holder.id);
      else if (!this.held.has(holder.id)) this.track(this.tryAcquire(holder));
    }
  }

  private async renew(h: Held): Promise<void> {
    const started = Date.now();
    let renewed = false;
    let ok: boolean;
    // A renewal that hangs (Redis restarting: node-redis queues commands until it reconnects; a
    // partition: the socket stays open, the bytes go nowhere) must not keep the engine running
    // past the lease: it gives up before the last confirmed lease could have expired.
    const safeUntil = h.validUntil - this.safetyMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer before the lease could expire')), Math.max(0, safeUntil - Date.now()));
      });
      const renewal = this.eval(RENEW, [this.leaseKey(h.holder.id)], [h.value, String(this.opts.ttlMs)]);
      renewal.catch(() => {}); // it may settle after the deadline
      ok = renewed = (await Promise.race([renewal, deadline])) === 1;
    } catch (e) {
      // Unknown: keep running only while the last confirmed lease is certainly still ours.
      ok = Date.now() < safeUntil;
      log.warn('lease renewal failed', { session: h.holder.id, error: (e as Error).message });
    } finally {
      clearTimeout(timer);
    }
    if (this.held.get(h.holder.id) !== h) return;
    if (renewed) h.validUntil = Math.max(h.validUntil, started + this.opts.ttlMs);
    if (ok) return;
    this.held.delete(h.holder.id);
    log.warn('engine lease lost', { session: h.holder.id, token: h.token });
    h.holder.revokeEngine();
  }

  /** Stops renewing and releases every lease held (awaits the releases). */
  async close(): Promise<void> {
    for (const h of [...this.held.values()]) this.release(h.holder);
    this.closed = true;
    clearInterval(this.timer);
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
