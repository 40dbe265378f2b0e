/**
 * Group commit of document updates (S6, S30): updates queue in memory and are written in one
 * transaction per {@link COMMIT_WINDOW_MS} window; each caller's callback runs only after its
 * update is durable, which is when the server may relay it. Many updates per window cost one
 * fsync (SQLite) or one round trip (PostgreSQL), not one each.
 *
 * One commit is in flight at a time, so batches reach the database in the order their updates
 * were applied. Updates that arrive meanwhile wait and go in the next batch, which starts as soon
 * as the one in flight is durable (with PostgreSQL 20 ms away: a commit every ~20 ms, each holding
 * everything that arrived during the last). When the database is unavailable
 * ({@link StorageUnavailableError}: a timeout, a lost connection) the same batch, with the same
 * id, is retried with backoff until it goes through — nothing is acknowledged, relayed, lost,
 * duplicated (the batch id makes the retry idempotent) or reordered meanwhile. Any other error
 * fails that batch's callbacks (the updates are not relayed) and the queue goes on.
 *
 * (A window of one event-loop tick committed 60–100 times a second with 20 editors painting,
 * 2.1 s of a 15 s load run in fsync on the main thread. 16 ms: one 60 Hz frame; the realtime layer
 * relays each committed batch as one message per socket.)
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../log.ts';
import { StorageUnavailableError, type Storage, type UpdateRecord } from './types.ts';

const log = createLogger('group-commit');

/** How long updates gather before one transaction commits them. */
export const COMMIT_WINDOW_MS = 16;
/** Most updates in one transaction (PostgreSQL takes at most 65 535 parameters, 4 per update). */
export const MAX_BATCH_UPDATES = 2000;
/** Retry backoff for an unavailable database: from the first to the last, doubling. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;

type Done = (err: Error | null) => void;

interface Pending {
  rec: UpdateRecord;
  done: Done;
  /** Position in the append order (barriers wait for a position to be committed). */
  n: number;
}

export interface GroupCommitOptions {
  windowMs?: number;
  /** Called when a batch could not be written and will be retried (metrics, logs). */
  onRetry?: (err: Error, attempt: number) => void;
  /** Called when a batch is durable, with its number of updates, before their callbacks (metrics). */
  onCommit?: (updates: number) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private appended = 0;
  /** Every update appended up to this position is committed (or failed). */
  private settled = 0;
  private barriers: { n: number; resolve: () => void }[] = [];
  private stopped = false;
  private windowMs: number;
  /** Transactions committed so far (metrics, tests). */
  commits = 0;
  /** Failed attempts that were retried (metrics, tests). */
  retries = 0;
  /** Since when the batch in flight has been failing (ms), or null while commits go through. */
  failingSince: number | null = null;

  constructor(
    private storage: Storage,
    private opts: GroupCommitOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? COMMIT_WINDOW_MS;
  }

  /** Queues `rec`; `done` runs after the transaction holding it commits (or fails for good). */
  append(rec: UpdateRecord, done: Done): void {
    if (this.stopped) return done(new Error('the server is shutting down; the change was not stored'));
    this.queue.push({ rec, done, n: ++this.appended });
    this.schedule();
  }

  private schedule(delay = this.windowMs): void {
    if (this.timer || this.inFlight || !this.queue.length) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.drain().finally(() => {
        this.inFlight = null;
        this.schedule(0);
      });
    }, delay);
  }

  /** Commits batches until the queue is empty. */
  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH_UPDATES);
      const err = await this.commit(batch);
      this.settled = batch[batch.length - 1].n;
      for (const b of batch) b.done(err);
      this.releaseBarriers();
      if (this.stopped && err) {
        // Shutting down with the database gone: fail what is left rather than wait forever.
        for (const b of this.queue.splice(0)) b.done(err);
        this.settled = this.appended;
        this.releaseBarriers();
      }
    }
  }

  /** Writes one batch, retrying while the database is unavailable; null when durable. */
  private async commit(batch: Pending[]): Promise<Error | null> {
    const batchId = randomBytes(12).toString('base64url');
    const records = batch.map((b) => b.rec);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.storage.appendUpdates(records, batchId);
        this.commits++;
        this.opts.onCommit?.(records.length);
        if (this.failingSince !== null) log.info('storage is back; commits go through again', { afterMs: Date.now() - this.failingSince, attempts: attempt });
        this.failingSince = null;
        return null;
      } catch (e) {
        const err = e as Error;
        if (!(err instanceof StorageUnavailableError) || (this.stopped && attempt > 1)) {
          if (!(err instanceof StorageUnavailableError)) log.error('could not store a batch of updates; they are not relayed', { updates: batch.length, error: err.message });
          return err;
        }
        this.retries++;
        this.failingSince ??= Date.now();
        if (attempt === 1) log.warn('storage unavailable; holding updates (not relayed) and retrying', { updates: batch.length, error: err.message });
        this.opts.onRetry?.(err, attempt);
        await new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1))));
      }
    }
  }

  private releaseBarriers(): void {
    if (!this.barriers.length) return;
    const ready = this.barriers.filter((b) => b.n <= this.settled);
    this.barriers = this.barriers.filter((b) => b.n > this.settled);
    for (const b of ready) b.resolve();
  }

  /**
   * Resolves once every update appended before this call is committed (or failed for good):
   * what a client is told of the document after it is durable (a step1's answer, S6).
   */
  durable(): Promise<void> {
    const n = this.appended;
    if (n <= this.settled) return Promise.resolve();
    return new Promise((resolve) => this.barriers.push({ n, resolve }));
  }

  /** Commits what is queued now instead of at the end of the window; resolves when it is durable. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.schedule(0);
    }
    return this.durable();
  }

  /**
   * Stops accepting updates and commits what is queued. While the database is unavailable it keeps
   * retrying for at most `timeoutMs`; then the remaining updates fail (they were never relayed, so
   * no client was told of them) and the count is logged.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    const done = this.flush();
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([done, timeout])) === 'timeout') {
      log.error('shutting down with updates the storage did not take', { updates: this.appended - this.settled });
      this.stopped = true;
      await done;
    }
    this.stopped = true;
  }

  /** Updates queued and not yet durable. */
  get pending(): number {
    return this.appended - this.settled;
  }
}
