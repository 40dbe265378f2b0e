/**
 * The SQLite store itself: better-sqlite3 (synchronous), WAL, `synchronous=FULL` (a committed
 * transaction survives kill -9 and power loss), the shared schema and migrations (schema.ts).
 *
 * Synchronous by nature, so the server never calls it on its event loop: {@link SqliteStorage}
 * (sqlite.ts) runs it in a worker thread. Read-only tools (`render --from-session`) and tests may
 * run it in-process.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION_TABLE, SQLITE, UPDATE_BATCH_RETENTION_MS, pendingMigrations } from './schema.ts';
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
  type StoredKeyframe,
  type StoredUpdate,
  type UpdateRecord,
} from './types.ts';

export interface SqliteOptions {
  /** Open an existing database without writing to it (offline tools next to a running server). */
  readonly?: boolean;
}

/** Errors that mean "try again" (the file is locked by another process, the disk hiccuped). */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|PROTOCOL)/;

export class SqliteDatabase {
  private db: Database.Database;
  private stmts;
  private appendTx: Database.Transaction<(records: readonly UpdateRecord[], batchId: string | undefined, now: number) => void>;
  private lastBatchPrune = 0;

  /** Opens (creating and migrating if needed) `<dataDir>/atelier.db`. */
  constructor(dataDir: string, options: SqliteOptions = {}) {
    const file = path.join(dataDir, 'atelier.db');
    if (options.readonly) {
      this.db = new Database(file, { readonly: true, fileMustExist: true });
      const v = this.schemaVersion();
      if (pendingMigrations(v).length) {
        this.db.close();
        throw new Error(`${file} has schema version ${v}; open it once with the server (which migrates it) before reading it read-only`);
      }
    } else {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    }
    const db = this.db;
    const kfCols = 'id, session_id, iter, width, height, mime, losses, time';
    this.stmts = {
      insertSession: db.prepare('INSERT INTO sessions (id, editor_token_hash, viewer_token_hash, created_at) VALUES (?, ?, ?, ?)'),
      getSession: db.prepare('SELECT id, editor_token_hash, viewer_token_hash, created_at FROM sessions WHERE id = ?'),
      countSessions: db.prepare('SELECT COUNT(*) AS n FROM sessions'),
      insertUpdate: db.prepare('INSERT INTO updates (session_id, data, author, time) VALUES (?, ?, ?, ?)'),
      insertBatch: db.prepare('INSERT OR IGNORE INTO update_batches (id, time) VALUES (?, ?)'),
      pruneBatches: db.prepare('DELETE FROM update_batches WHERE time < ?'),
      updatesAfter: db.prepare('SELECT seq, data, author, time FROM updates WHERE session_id = ? AND seq > ? ORDER BY seq'),
      insertImage: db.prepare('INSERT OR IGNORE INTO images (id, mime, width, height, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      getImage: db.prepare('SELECT id, mime, width, height, bytes, created_at FROM images WHERE id = ?'),
      imageInfo: db.prepare('SELECT id, mime, width, height FROM images WHERE id IN (SELECT value FROM json_each(?))'),
      fence: db.prepare('SELECT token FROM keyframe_fences WHERE session_id = ?'),
      setFence: db.prepare('INSERT INTO keyframe_fences (session_id, token) VALUES (?, ?) ON CONFLICT(session_id) DO UPDATE SET token = excluded.token'),
      insertKeyframe: db.prepare('INSERT INTO keyframes (session_id, iter, width, height, mime, data, losses, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      latestKeyframe: db.prepare(`SELECT ${kfCols}, data FROM keyframes WHERE session_id = ? ORDER BY time DESC, id DESC LIMIT 1`),
      listKeyframes: db.prepare(`SELECT ${kfCols} FROM keyframes WHERE session_id = ? ORDER BY time, id`),
      getKeyframe: db.prepare(`SELECT ${kfCols}, data FROM keyframes WHERE session_id = ? AND id = ?`),
      insertLoss: db.prepare('INSERT INTO loss_samples (session_id, time, iter, total, style, content, tv) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      lossSamples: db.prepare('SELECT time, iter, total, style, content, tv FROM loss_samples WHERE session_id = ? ORDER BY time, id'),
    };
    this.appendTx = db.transaction((records: readonly UpdateRecord[], batchId: string | undefined, now: number) => {
      if (batchId !== undefined && this.stmts.insertBatch.run(batchId, now).changes === 0) return; // already committed
      for (const r of records) this.stmts.insertUpdate.run(r.sessionId, Buffer.from(r.update.buffer, r.update.byteOffset, r.update.byteLength), r.author, r.time);
    });
  }

  /** The version recorded in `schema_version` (0: none, a database from before versioning or a new file). */
  schemaVersion(): number {
    const has = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (!has) return 0;
    return (this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  }

  /** Runs the migrations this database lacks, each in one transaction with its version row. */
  private migrate(): void {
    this.db.exec(SCHEMA_VERSION_TABLE(SQLITE));
    const record = this.db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of pendingMigrations(this.schemaVersion())) {
      this.db.transaction(() => {
        for (const sql of m.statements(SQLITE)) this.db.exec(sql);
        record.run(m.version, m.name, Date.now());
      }).immediate();
    }
  }

  /** Runs `fn`, turning SQLite's "try again" errors into {@link StorageUnavailableError}. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && TRANSIENT.test(code)) throw new StorageUnavailableError(`SQLite: ${(e as Error).message} (${code})`);
      throw e;
    }
  }

  createSession(rec: SessionRecord): void {
    this.guard(() => {
      try {
        this.stmts.insertSession.run(rec.id, rec.editorTokenHash, rec.viewerTokenHash, rec.createdAt);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateSessionError(`session ${rec.id} exists`);
        throw e;
      }
    });
  }
  getSession(id: string): SessionRecord | undefined {
    const row = this.stmts.getSession.get(id) as { id: string; editor_token_hash: Buffer; viewer_token_hash: Buffer; created_at: number } | undefined;
    return row && { id: row.id, editorTokenHash: row.editor_token_hash, viewerTokenHash: row.viewer_token_hash, createdAt: row.created_at };
  }
  countSessions(): number {
    return (this.stmts.countSessions.get() as { n: number }).n;
  }
  appendUpdates(records: readonly UpdateRecord[], batchId?: string): void {
    if (!records.length) return;
    const now = Date.now();
    this.guard(() => this.appendTx.immediate(records, batchId, now));
    if (batchId !== undefined && now - this.lastBatchPrune > 60_000) {
      this.lastBatchPrune = now;
      this.guard(() => this.stmts.pruneBatches.run(now - UPDATE_BATCH_RETENTION_MS));
    }
  }
  loadUpdates(sessionId: string, afterSeq = 0): StoredUpdate[] {
    const rows = this.stmts.updatesAfter.all(sessionId, afterSeq) as { seq: number; data: Buffer; author: string; time: number }[];
    return rows.map((r) => ({ sessionId, seq: r.seq, update: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength), author: r.author, time: r.time }));
  }
  putImage(rec: ImageRecord): void {
    this.guard(() => this.stmts.insertImage.run(rec.id, rec.mime, rec.width, rec.height, rec.bytes, rec.createdAt));
  }
  getImage(id: string): ImageRecord | undefined {
    const row = this.stmts.getImage.get(id) as { id: string; mime: ImageRecord['mime']; width: number; height: number; bytes: Buffer; created_at: number } | undefined;
    return row && { id: row.id, mime: row.mime, width: row.width, height: row.height, bytes: row.bytes, createdAt: row.created_at };
  }
  imageInfo(ids: readonly string[]): ImageInfo[] {
    if (!ids.length) return [];
    return this.stmts.imageInfo.all(JSON.stringify(ids)) as ImageInfo[];
  }
  putKeyframe(rec: KeyframeRecord): number {
    // Fencing check, insert and fence update in one transaction: a stale writer changes nothing.
    return this.guard(() =>
      this.db.transaction(() => {
        if (rec.fencingToken !== undefined) {
          const row = this.stmts.fence.get(rec.sessionId) as { token: number } | undefined;
          if (row && rec.fencingToken < row.token) throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken, row.token);
          this.stmts.setFence.run(rec.sessionId, rec.fencingToken);
        }
        const info = this.stmts.insertKeyframe.run(rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time);
        return Number(info.lastInsertRowid);
      }).immediate(),
    );
  }
  latestKeyframe(sessionId: string): StoredKeyframe | undefined {
    const r = this.stmts.latestKeyframe.get(sessionId) as (KeyframeRow & { data: Buffer }) | undefined;
    return r && { ...metaOf(r), data: r.data };
  }
  listKeyframes(sessionId: string): KeyframeMeta[] {
    return (this.stmts.listKeyframes.all(sessionId) as KeyframeRow[]).map(metaOf);
  }
  getKeyframe(sessionId: string, id: number): StoredKeyframe | undefined {
    const r = this.stmts.getKeyframe.get(sessionId, id) as (KeyframeRow & { data: Buffer }) | undefined;
    return r && { ...metaOf(r), data: r.data };
  }
  appendLossSample(rec: LossSampleRecord): void {
    const l = rec.losses;
    this.guard(() => this.stmts.insertLoss.run(rec.sessionId, rec.time, rec.iter, nullIfNaN(l.total), nullIfNaN(l.style), nullIfNaN(l.content), nullIfNaN(l.tv)));
  }
  lossSamples(sessionId: string): LossSampleRecord[] {
    const rows = this.stmts.lossSamples.all(sessionId) as { time: number; iter: number; total: number | null; style: number | null; content: number | null; tv: number | null }[];
    return rows.map((r) => ({ sessionId, time: r.time, iter: r.iter, losses: { total: r.total ?? NaN, style: r.style ?? NaN, content: r.content ?? NaN, tv: r.tv ?? NaN } }));
  }
  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface KeyframeRow {
  id: number;
  session_id: string;
  iter: number;
  width: number;
  height: number;
  mime: KeyframeRecord['mime'];
  losses: string;
  time: number;
}

function metaOf(r: KeyframeRow): KeyframeMeta {
  return { id: r.id, sessionId: r.session_id, iter: r.iter, width: r.width, height: r.height, mime: r.mime, losses: lossesOf(JSON.parse(r.losses)), time: r.time };
}

/** JSON has no NaN: JSON.stringify wrote null, read back as NaN. */
export function lossesOf(v: unknown): KeyframeRecord['losses'] {
  const o = (v ?? {}) as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' ? x : NaN);
  return { total: n(o.total), style: n(o.style), content: n(o.content), tv: n(o.tv) };
}

function nullIfNaN(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
