/**
 * PostgreSQL {@link Storage}: the shared store when several server processes serve the same
 * sessions (DATABASE_URL, see docs/DEPLOY.md). SQLite stays the embedded default.
 *
 * Why synchronous: the Storage interface is synchronous because better-sqlite3 is, and the session
 * layer relies on that (group commit flushes in one call, a session loads in one call). Rather than
 * make every caller async, the `pg` client lives in a worker thread (postgres-worker.mjs) and each
 * call here blocks on `Atomics.wait` until the worker answers — the same cost model as SQLite (the
 * event loop waits for the disk), one network round trip per call, one transaction per batch.
 * Group commit keeps that to one round trip per event-loop tick for document updates.
 *
 * Keyframe writes carry the engine lease's fencing token (server/cluster/engine-lease.ts); the
 * highest accepted token per session is kept in `keyframe_fences` and a lower one is refused in
 * the same transaction, so a stale owner cannot overwrite a newer owner's keyframe.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type {
  HistoryStore,
  ImageRecord,
  KeyframeMeta,
  KeyframeRecord,
  LossSampleRecord,
  SessionRecord,
  Storage,
  StoredUpdate,
  UpdateRecord,
} from './types.ts';
import { StaleFencingTokenError } from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  editor_token_hash BYTEA NOT NULL,
  viewer_token_hash BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
  seq BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  data BYTEA NOT NULL,
  author TEXT NOT NULL,
  time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_session ON updates(session_id, seq);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY,
  mime TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  bytes BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS keyframes (
  id BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  iter INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  mime TEXT NOT NULL,
  data BYTEA NOT NULL,
  losses JSONB NOT NULL,
  time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS keyframes_by_session ON keyframes(session_id, id);
CREATE TABLE IF NOT EXISTS keyframe_fences (
  session_id TEXT PRIMARY KEY REFERENCES sessions(id),
  token BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS keyframe_archive (
  id BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  iter INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  mime TEXT NOT NULL,
  data BYTEA NOT NULL,
  losses JSONB NOT NULL,
  time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS keyframe_archive_by_session ON keyframe_archive(session_id, id);
CREATE TABLE IF NOT EXISTS loss_samples (
  id BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  time BIGINT NOT NULL,
  iter INTEGER NOT NULL,
  total DOUBLE PRECISION,
  style DOUBLE PRECISION,
  content DOUBLE PRECISION,
  tv DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS loss_samples_by_session ON loss_samples(session_id, time, id);
`;

/** Keyframes kept per session for engine resume (the archive keeps every one). */
const KEYFRAMES_KEPT = 3;
/** Several processes may start at once: schema creation runs under this advisory lock. */
const SCHEMA_LOCK = 7_311_042;

interface Query {
  text: string;
  values?: unknown[];
  /** Abort the batch (rollback) when this statement affects no row; the tag comes back as the error. */
  refuseWhenNoRows?: string;
}

type Row = Record<string, unknown>;

interface WorkerAnswer {
  ok: boolean;
  results: Row[][];
  error?: { message: string; code?: string; refused?: boolean };
}

/** A query failed in PostgreSQL (`code` is the SQLSTATE, e.g. 23505 for a duplicate key). */
export class PostgresError extends Error {
  override name = 'PostgresError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface PostgresStorageOptions {
  /** Longest a single call may block the event loop before it fails (default 30 s). */
  callTimeoutMs?: number;
  /** Connection timeout (default 10 s). */
  connectTimeoutMs?: number;
}

const buf = (v: unknown): Buffer => {
  const u = v as Uint8Array;
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
};

const FINITE_OR_NULL = (v: number): number | null => (Number.isFinite(v) ? v : null);

export class PostgresStorage implements Storage, HistoryStore {
  private worker: Worker;
  private port: MessagePort;
  private signal: Int32Array;
  private closed = false;
  private callTimeoutMs: number;

  /**
   * Connects to `url` (postgres://user@host:port/db) and creates the tables if needed. Blocks until
   * the database answered; throws a clear error when it cannot be reached.
   */
  constructor(url: string, options: PostgresStorageOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    const flag = new SharedArrayBuffer(4);
    this.signal = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./postgres-worker.mjs', import.meta.url), {
      workerData: { url, port: port2, flag, connectTimeoutMs: options.connectTimeoutMs ?? 10_000 },
      transferList: [port2],
    });
    this.worker.unref();
    try {
      this.batch(
        [{ text: 'SELECT pg_advisory_xact_lock($1)', values: [SCHEMA_LOCK] }, ...SCHEMA.split(';').filter((q) => q.trim()).map((text) => ({ text }))],
        true,
      );
    } catch (e) {
      void this.worker.terminate();
      throw e;
    }
  }

  /** Runs `queries` in the worker (in one transaction when `transaction`), blocking until done. */
  private batch(queries: Query[], transaction: boolean): Row[][] {
    if (this.closed) throw new Error('storage is closed');
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage({ queries, transaction });
    if (Atomics.wait(this.signal, 0, 0, this.callTimeoutMs) === 'timed-out') {
      throw new PostgresError(`PostgreSQL did not answer within ${this.callTimeoutMs} ms`);
    }
    const msg = receiveMessageOnPort(this.port)?.message as WorkerAnswer | undefined;
    if (!msg) throw new PostgresError('the PostgreSQL worker answered nothing');
    if (!msg.ok) {
      const err = new PostgresError(msg.error?.message ?? 'query failed', msg.error?.code);
      if (msg.error?.refused) Object.assign(err, { refused: true });
      throw err;
    }
    return msg.results;
  }

  private query(text: string, values: unknown[] = []): Row[] {
    return this.batch([{ text, values }], false)[0];
  }

  createSession(rec: SessionRecord): void {
    this.query('INSERT INTO sessions (id, editor_token_hash, viewer_token_hash, created_at) VALUES ($1, $2, $3, $4)', [
      rec.id,
      rec.editorTokenHash,
      rec.viewerTokenHash,
      rec.createdAt,
    ]);
  }
  getSession(id: string): SessionRecord | undefined {
    const r = this.query('SELECT id, editor_token_hash, viewer_token_hash, created_at FROM sessions WHERE id = $1', [id])[0];
    if (!r) return undefined;
    return { id: r.id as string, editorTokenHash: buf(r.editor_token_hash), viewerTokenHash: buf(r.viewer_token_hash), createdAt: r.created_at as number };
  }
  countSessions(): number {
    return this.query('SELECT COUNT(*)::int AS n FROM sessions')[0].n as number;
  }
  appendUpdates(records: readonly UpdateRecord[]): void {
    if (!records.length) return;
    // One multi-row INSERT: one statement, one transaction, seq in array order.
    const values: unknown[] = [];
    const rows = records.map((r, i) => {
      values.push(r.sessionId, r.update, r.author, r.time);
      return `($${4 * i + 1}, $${4 * i + 2}, $${4 * i + 3}, $${4 * i + 4})`;
    });
    this.query(`INSERT INTO updates (session_id, data, author, time) VALUES ${rows.join(', ')}`, values);
  }
  loadUpdates(sessionId: string): StoredUpdate[] {
    return this.loadUpdatesAfter(sessionId, 0);
  }
  loadUpdatesAfter(sessionId: string, afterSeq: number): StoredUpdate[] {
    return this.query('SELECT seq, data, author, time FROM updates WHERE session_id = $1 AND seq > $2 ORDER BY seq', [sessionId, afterSeq]).map((r) => ({
      sessionId,
      seq: r.seq as number,
      update: new Uint8Array(r.data as Uint8Array),
      author: r.author as string,
      time: r.time as number,
    }));
  }
  putImage(rec: ImageRecord): void {
    this.query('INSERT INTO images (id, mime, width, height, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING', [
      rec.id,
      rec.mime,
      rec.width,
      rec.height,
      rec.bytes,
      rec.createdAt,
    ]);
  }
  getImage(id: string): ImageRecord | undefined {
    const r = this.query('SELECT id, mime, width, height, bytes, created_at FROM images WHERE id = $1', [id])[0];
    if (!r) return undefined;
    return {
      id: r.id as string,
      mime: r.mime as ImageRecord['mime'],
      width: r.width as number,
      height: r.height as number,
      bytes: buf(r.bytes),
      createdAt: r.created_at as number,
    };
  }
  hasImage(id: string): boolean {
    return this.query('SELECT 1 FROM images WHERE id = $1', [id]).length > 0;
  }
  putKeyframe(rec: KeyframeRecord): void {
    const queries: Query[] = [];
    if (rec.fencingToken !== undefined) {
      queries.push({
        text: `INSERT INTO keyframe_fences (session_id, token) VALUES ($1, $2)
               ON CONFLICT (session_id) DO UPDATE SET token = EXCLUDED.token WHERE keyframe_fences.token <= EXCLUDED.token`,
        values: [rec.sessionId, rec.fencingToken],
        refuseWhenNoRows: 'stale fencing token',
      });
    }
    queries.push(
      {
        text: 'INSERT INTO keyframes (session_id, iter, width, height, mime, data, losses, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        values: [rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time],
      },
      {
        text: 'DELETE FROM keyframes WHERE session_id = $1 AND id NOT IN (SELECT id FROM keyframes WHERE session_id = $1 ORDER BY id DESC LIMIT $2)',
        values: [rec.sessionId, KEYFRAMES_KEPT],
      },
    );
    try {
      this.batch(queries, true);
    } catch (e) {
      if ((e as { refused?: boolean }).refused) {
        const current = this.query('SELECT token FROM keyframe_fences WHERE session_id = $1', [rec.sessionId])[0]?.token as number;
        throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken!, current);
      }
      throw e;
    }
  }
  latestKeyframe(sessionId: string): KeyframeRecord | undefined {
    const r = this.query('SELECT session_id, iter, width, height, mime, data, losses, time FROM keyframes WHERE session_id = $1 ORDER BY id DESC LIMIT 1', [
      sessionId,
    ])[0];
    return r ? keyframeOf(r) : undefined;
  }
  archiveKeyframe(rec: KeyframeRecord): number {
    const r = this.query(
      'INSERT INTO keyframe_archive (session_id, iter, width, height, mime, data, losses, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
      [rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time],
    );
    return r[0].id as number;
  }
  listArchivedKeyframes(sessionId: string): KeyframeMeta[] {
    return this.query('SELECT id, session_id, iter, width, height, mime, losses, time FROM keyframe_archive WHERE session_id = $1 ORDER BY id', [sessionId]).map(
      (r) => ({
        id: r.id as number,
        sessionId: r.session_id as string,
        iter: r.iter as number,
        width: r.width as number,
        height: r.height as number,
        mime: r.mime as KeyframeRecord['mime'],
        losses: lossesOf(r.losses),
        time: r.time as number,
      }),
    );
  }
  getArchivedKeyframe(sessionId: string, id: number): (KeyframeRecord & { id: number }) | undefined {
    if (!Number.isSafeInteger(id)) return undefined;
    const r = this.query('SELECT id, session_id, iter, width, height, mime, data, losses, time FROM keyframe_archive WHERE session_id = $1 AND id = $2', [
      sessionId,
      id,
    ])[0];
    return r ? { ...keyframeOf(r), id: r.id as number } : undefined;
  }
  appendLossSample(rec: LossSampleRecord): void {
    const l = rec.losses;
    this.query('INSERT INTO loss_samples (session_id, time, iter, total, style, content, tv) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      rec.sessionId,
      rec.time,
      rec.iter,
      FINITE_OR_NULL(l.total),
      FINITE_OR_NULL(l.style),
      FINITE_OR_NULL(l.content),
      FINITE_OR_NULL(l.tv),
    ]);
  }
  lossSamples(sessionId: string): LossSampleRecord[] {
    return this.query('SELECT time, iter, total, style, content, tv FROM loss_samples WHERE session_id = $1 ORDER BY time, id', [sessionId]).map((r) => ({
      sessionId,
      time: r.time as number,
      iter: r.iter as number,
      losses: { total: numOrNaN(r.total), style: numOrNaN(r.style), content: numOrNaN(r.content), tv: numOrNaN(r.tv) },
    }));
  }
  /** Closes the connection and stops the worker. */
  close(): void {
    if (this.closed) return;
    try {
      this.batch([], false);
      Atomics.store(this.signal, 0, 0);
      this.port.postMessage({ close: true });
      Atomics.wait(this.signal, 0, 0, 5_000);
    } catch {
      // closing anyway
    }
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }
}

function numOrNaN(v: unknown): number {
  return typeof v === 'number' ? v : NaN;
}

/** JSONB has no NaN/Infinity: they were stored as null and read back as NaN. */
function lossesOf(v: unknown): KeyframeRecord['losses'] {
  const o = (v ?? {}) as Record<string, unknown>;
  return { total: numOrNaN(o.total), style: numOrNaN(o.style), content: numOrNaN(o.content), tv: numOrNaN(o.tv) };
}

function keyframeOf(r: Row): KeyframeRecord {
  return {
    sessionId: r.session_id as string,
    iter: r.iter as number,
    width: r.width as number,
    height: r.height as number,
    mime: r.mime as KeyframeRecord['mime'],
    data: buf(r.data),
    losses: lossesOf(r.losses),
    time: r.time as number,
  };
}
