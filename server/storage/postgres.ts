/**
 * PostgreSQL {@link Storage}: the shared store when several server processes serve the same
 * sessions (DATABASE_URL, docs/DEPLOY.md). A `pg` pool on the main thread: every call is a promise,
 * so a slow or hung database delays only the calls that wait for it, never the event loop (S30).
 *
 * - **Timeouts.** Every call has a deadline (`callTimeoutMs`, DATABASE_TIMEOUT_MS). A call past it
 *   fails with {@link StorageUnavailableError} and its connection is destroyed, not returned to the
 *   pool: the late answer dies with the socket and can never be read as another call's, and a
 *   transaction cut short is rolled back by PostgreSQL when the connection drops. Each call runs on
 *   a connection of its own, so two calls' statements never interleave.
 * - **One round trip per write.** Appends, keyframe writes (with the fencing check) and their
 *   bookkeeping are single statements (data-modifying CTEs), i.e. one implicit transaction each:
 *   with PostgreSQL 20 ms away a group commit costs 20 ms, not 80 (BEGIN, INSERT, INSERT, COMMIT).
 * - **Idempotent appends.** A batch carries an id, inserted in the same statement into
 *   `update_batches`; a retry of a batch whose commit did happen (its answer was lost) inserts
 *   nothing.
 * - **Schema.** schema.ts, migrated at open in one transaction under an advisory lock, so processes
 *   starting together migrate once.
 */
import pg from 'pg';
import { POSTGRES, SCHEMA_VERSION_TABLE, UPDATE_BATCH_RETENTION_MS, pendingMigrations } from './schema.ts';
import { lossesOf } from './sqlite-db.ts';
import {
  DuplicateSessionError,
  StaleFencingTokenError,
  StorageUnavailableError,
  type ImageInfo,
  type ImageRecord,
  type KeyframeMeta,
  type KeyframeRecord,
  type LossSampleRecord,
  type SessionRecord,
  type Storage,
  type StoredKeyframe,
  type StoredUpdate,
  type UpdateRecord,
} from './types.ts';
import { createLogger } from '../log.ts';

const log = createLogger('postgres');

/** Processes starting together take this advisory lock to migrate one at a time. */
const SCHEMA_LOCK = 7_311_042;

export interface PostgresStorageOptions {
  /** Longest a call may take, connection included, before it fails (default 10 s, DATABASE_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /** Connection attempt timeout (default: callTimeoutMs). */
  connectTimeoutMs?: number;
  /** Pool size (default 10): the group commit uses one connection, loads, images and keyframes the others. */
  maxConnections?: number;
}

type Row = Record<string, unknown>;

/** int8 (bigint, bigserial) as JS numbers: sequence numbers and ms timestamps stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes and socket errors after which a retry may succeed. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  if (/^(08|53|57P|40001|40P01|55P03)/.test(code)) return true;
  if (/^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)$/.test(code)) return true;
  return /Connection terminated|timeout|not queryable|Client has encountered a connection error/i.test((e as Error)?.message ?? '');
}

const buf = (v: unknown): Buffer => {
  const u = v as Uint8Array;
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
};

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
const numOrNaN = (v: unknown): number => (typeof v === 'number' ? v : NaN);

export class PostgresStorage implements Storage {
  readonly kind = 'postgres';
  private pool: pg.Pool;
  private callTimeoutMs: number;
  private closed = false;
  private lastBatchPrune = 0;

  private constructor(url: string, opts: PostgresStorageOptions) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? this.callTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'atelier',
      keepAlive: true,
      types,
    });
    // An idle connection that breaks (PostgreSQL restarted) is dropped by the pool; say so.
    this.pool.on('error', (e) => log.warn('idle PostgreSQL connection failed', { error: e.message }));
  }

  /**
   * Connects to `url` (postgres://user@host:port/db), migrates the schema if needed and resolves
   * when the database answered; throws a clear error when it cannot be reached.
   */
  static async open(url: string, opts: PostgresStorageOptions = {}): Promise<PostgresStorage> {
    const s = new PostgresStorage(url, opts);
    try {
      await s.migrate();
    } catch (e) {
      await s.pool.end().catch(() => {});
      if (e instanceof StorageUnavailableError) throw new StorageUnavailableError(`cannot reach PostgreSQL: ${e.message}`);
      throw e;
    }
    return s;
  }

  /**
   * Runs `fn` on a pooled connection within the call deadline. Past it (or on a connection error)
   * the connection is destroyed and the call fails with {@link StorageUnavailableError}.
   */
  private async withClient<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('storage is closed');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StorageUnavailableError(`PostgreSQL did not answer ${what} within ${this.callTimeoutMs} ms`)), this.callTimeoutMs);
    });
    let client: pg.PoolClient | undefined;
    const connecting = this.pool.connect();
    try {
      client = await Promise.race([connecting, deadline]);
      const work = fn(client);
      work.catch(() => {}); // it may settle after the deadline, on a destroyed connection
      const result = await Promise.race([work, deadline]);
      client.release();
      return result;
    } catch (e) {
      const unavailable = e instanceof StorageUnavailableError || isTransient(e);
      if (client) {
        if (unavailable) destroy(client, e as Error);
        else client.release(); // a refused statement (a duplicate key): the connection is fine
      } else if (e instanceof StorageUnavailableError) {
        connecting.then((c) => c.release(), () => {}); // connected too late: back to the pool
      }
      if (e instanceof StorageUnavailableError) throw e;
      if (unavailable) throw new StorageUnavailableError(`PostgreSQL ${what}: ${(e as Error).message}`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private query(what: string, text: string, values: unknown[] = []): Promise<Row[]> {
    return this.withClient(what, async (c) => (await c.query(text, values)).rows as Row[]);
  }

  private async migrate(): Promise<void> {
    await this.withClient('the schema migration', async (c) => {
      await c.query('BEGIN');
      try {
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await c.query(SCHEMA_VERSION_TABLE(POSTGRES));
        const v = ((await c.query('SELECT MAX(version) AS v FROM schema_version')).rows[0]?.v as number | null) ?? 0;
        for (const m of pendingMigrations(v)) {
          for (const sql of m.statements(POSTGRES)) await c.query(sql);
          await c.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          log.info('schema migrated', { version: m.version, name: m.name });
        }
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    });
  }

  /** The version recorded in `schema_version` (tests). */
  async schemaVersion(): Promise<number> {
    return ((await this.query('schema version', 'SELECT MAX(version) AS v FROM schema_version'))[0]?.v as number | null) ?? 0;
  }

  async createSession(rec: SessionRecord): Promise<void> {
    try {
      await this.query('createSession', 'INSERT INTO sessions (id, editor_token_hash, viewer_token_hash, created_at) VALUES ($1, $2, $3, $4)', [
        rec.id,
        rec.editorTokenHash,
        rec.viewerTokenHash,
        rec.createdAt,
      ]);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new DuplicateSessionError(`session ${rec.id} exists`);
      throw e;
    }
  }
  async getSession(id: string): Promise<SessionRecord | undefined> {
    const r = (await this.query('getSession', 'SELECT id, editor_token_hash, viewer_token_hash, created_at FROM sessions WHERE id = $1', [id]))[0];
    return r && { id: r.id as string, editorTokenHash: buf(r.editor_token_hash), viewerTokenHash: buf(r.viewer_token_hash), createdAt: r.created_at as number };
  }
  async countSessions(): Promise<number> {
    return (await this.query('countSessions', 'SELECT COUNT(*)::int AS n FROM sessions'))[0].n as number;
  }
  async appendUpdates(records: readonly UpdateRecord[], batchId?: string): Promise<void> {
    if (!records.length) return;
    const values: unknown[] = [];
    const base = batchId === undefined ? 0 : 2;
    const rows = records.map((r, i) => {
      values.push(r.sessionId, buf(r.update), r.author, r.time);
      const p = base + 4 * i;
      return `($${p + 1}::text, $${p + 2}::bytea, $${p + 3}::text, $${p + 4}::bigint, ${i})`;
    });
    const now = Date.now();
    // One statement, so one round trip and one implicit transaction; seq follows the array order.
    const text =
      batchId === undefined
        ? `INSERT INTO updates (session_id, data, author, time) SELECT s, d, a, t FROM (VALUES ${rows.join(', ')}) AS v(s, d, a, t, o) ORDER BY o`
        : `WITH batch AS (INSERT INTO update_batches (id, time) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id)
           INSERT INTO updates (session_id, data, author, time)
           SELECT s, d, a, t FROM (VALUES ${rows.join(', ')}) AS v(s, d, a, t, o) WHERE EXISTS (SELECT 1 FROM batch) ORDER BY o`;
    await this.query('appendUpdates', text, batchId === undefined ? values : [batchId, now, ...values]);
    if (batchId !== undefined && now - this.lastBatchPrune > 60_000) {
      this.lastBatchPrune = now;
      this.query('prune update_batches', 'DELETE FROM update_batches WHERE time < $1', [now - UPDATE_BATCH_RETENTION_MS])
        // Housekeeping only (the ids of old batches): a failure is retried a minute later.
        .catch((e: Error) => log.warn('could not prune old update batch ids; retrying in a minute', { error: e.message }));
    }
  }
  async loadUpdates(sessionId: string, afterSeq = 0): Promise<StoredUpdate[]> {
    const rows = await this.query('loadUpdates', 'SELECT seq, data, author, time FROM updates WHERE session_id = $1 AND seq > $2 ORDER BY seq', [sessionId, afterSeq]);
    return rows.map((r) => ({ sessionId, seq: r.seq as number, update: buf(r.data), author: r.author as string, time: r.time as number }));
  }
  async putImage(rec: ImageRecord): Promise<void> {
    await this.query('putImage', 'INSERT INTO images (id, mime, width, height, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING', [
      rec.id,
      rec.mime,
      rec.width,
      rec.height,
      rec.bytes,
      rec.createdAt,
    ]);
  }
  async getImage(id: string): Promise<ImageRecord | undefined> {
    const r = (await this.query('getImage', 'SELECT id, mime, width, height, bytes, created_at FROM images WHERE id = $1', [id]))[0];
    return r && { id: r.id as string, mime: r.mime as ImageRecord['mime'], width: r.width as number, height: r.height as number, bytes: buf(r.bytes), createdAt: r.created_at as number };
  }
  async imageInfo(ids: readonly string[]): Promise<ImageInfo[]> {
    if (!ids.length) return [];
    const rows = await this.query('imageInfo', 'SELECT id, mime, width, height FROM images WHERE id = ANY($1::text[])', [[...ids]]);
    return rows.map((r) => ({ id: r.id as string, mime: r.mime as ImageRecord['mime'], width: r.width as number, height: r.height as number }));
  }
  async putKeyframe(rec: KeyframeRecord): Promise<number> {
    const values = [rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time];
    if (rec.fencingToken === undefined) {
      const r = await this.query('putKeyframe', 'INSERT INTO keyframes (session_id, iter, width, height, mime, data, losses, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id', values);
      return r[0].id as number;
    }
    // Fence check and insert in one statement: a stale writer changes nothing.
    const r = await this.query(
      'putKeyframe',
      `WITH fence AS (
         INSERT INTO keyframe_fences (session_id, token) VALUES ($1, $9)
         ON CONFLICT (session_id) DO UPDATE SET token = EXCLUDED.token WHERE keyframe_fences.token <= EXCLUDED.token
         RETURNING token)
       INSERT INTO keyframes (session_id, iter, width, height, mime, data, losses, time)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM fence) RETURNING id`,
      [...values, rec.fencingToken],
    );
    if (r[0]) return r[0].id as number;
    const current = (await this.query('putKeyframe', 'SELECT token FROM keyframe_fences WHERE session_id = $1', [rec.sessionId]))[0]?.token as number;
    throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken, current);
  }
  async latestKeyframe(sessionId: string): Promise<StoredKeyframe | undefined> {
    const r = (await this.query('latestKeyframe', 'SELECT id, session_id, iter, width, height, mime, data, losses, time FROM keyframes WHERE session_id = $1 ORDER BY time DESC, id DESC LIMIT 1', [sessionId]))[0];
    return r && { ...metaOf(r), data: buf(r.data) };
  }
  async listKeyframes(sessionId: string): Promise<KeyframeMeta[]> {
    return (await this.query('listKeyframes', 'SELECT id, session_id, iter, width, height, mime, losses, time FROM keyframes WHERE session_id = $1 ORDER BY time, id', [sessionId])).map(metaOf);
  }
  async getKeyframe(sessionId: string, id: number): Promise<StoredKeyframe | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const r = (await this.query('getKeyframe', 'SELECT id, session_id, iter, width, height, mime, data, losses, time FROM keyframes WHERE session_id = $1 AND id = $2', [sessionId, id]))[0];
    return r && { ...metaOf(r), data: buf(r.data) };
  }
  async appendLossSample(rec: LossSampleRecord): Promise<void> {
    const l = rec.losses;
    await this.query('appendLossSample', 'INSERT INTO loss_samples (session_id, time, iter, total, style, content, tv) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      rec.sessionId,
      rec.time,
      rec.iter,
      finiteOrNull(l.total),
      finiteOrNull(l.style),
      finiteOrNull(l.content),
      finiteOrNull(l.tv),
    ]);
  }
  async lossSamples(sessionId: string): Promise<LossSampleRecord[]> {
    const rows = await this.query('lossSamples', 'SELECT time, iter, total, style, content, tv FROM loss_samples WHERE session_id = $1 ORDER BY time, id', [sessionId]);
    return rows.map((r) => ({
      sessionId,
      time: r.time as number,
      iter: r.iter as number,
      losses: { total: numOrNaN(r.total), style: numOrNaN(r.style), content: numOrNaN(r.content), tv: numOrNaN(r.tv) },
    }));
  }
  /** Closes the pool (connections in use are ended once their calls finish). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => {});
  }
}

/** Drops a connection whose call failed or timed out: never back into the pool, socket closed now. */
function destroy(client: pg.PoolClient, err: Error): void {
  try {
    client.release(err);
  } catch {
    // already released
  }
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

function metaOf(r: Row): KeyframeMeta {
  return {
    id: r.id as number,
    sessionId: r.session_id as string,
    iter: r.iter as number,
    width: r.width as number,
    height: r.height as number,
    mime: r.mime as KeyframeRecord['mime'],
    losses: lossesOf(r.losses),
    time: r.time as number,
  };
}
