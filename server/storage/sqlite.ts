/**
 * SQLite {@link Storage} (better-sqlite3, WAL, synchronous=FULL): a committed transaction survives
 * kill -9 and power loss. Every Yjs update is kept with its author and time, so history and replay
 * can be built later; no compaction yet (a snapshot + later updates would keep replay intact).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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
  editor_token_hash BLOB NOT NULL,
  viewer_token_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  data BLOB NOT NULL,
  author TEXT NOT NULL,
  time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_session ON updates(session_id, seq);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY,
  mime TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keyframes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  iter INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  mime TEXT NOT NULL,
  data BLOB NOT NULL,
  losses TEXT NOT NULL,
  time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keyframes_by_session ON keyframes(session_id, id);
CREATE TABLE IF NOT EXISTS keyframe_fences (
  session_id TEXT PRIMARY KEY REFERENCES sessions(id),
  token INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keyframe_archive (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  iter INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  mime TEXT NOT NULL,
  data BLOB NOT NULL,
  losses TEXT NOT NULL,
  time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keyframe_archive_by_session ON keyframe_archive(session_id, id);
CREATE TABLE IF NOT EXISTS loss_samples (
  session_id TEXT NOT NULL REFERENCES sessions(id),
  time INTEGER NOT NULL,
  iter INTEGER NOT NULL,
  total REAL,
  style REAL,
  content REAL,
  tv REAL
);
CREATE INDEX IF NOT EXISTS loss_samples_by_session ON loss_samples(session_id, time);
`;

/** Keyframes kept per session (older ones are pruned; replay can re-run from updates). */
const KEYFRAMES_KEPT = 3;

export class SqliteStorage implements Storage, HistoryStore {
  private db: Database.Database;
  private stmts;

  /**
   * Opens (creating if needed) `<dataDir>/atelier.db`. With `{readonly: true}` the database must
   * exist and is never written (offline tools such as `render --from-session` next to a running server).
   */
  constructor(dataDir: string, options: { readonly?: boolean } = {}) {
    if (options.readonly) {
      this.db = new Database(path.join(dataDir, 'atelier.db'), { readonly: true, fileMustExist: true });
    } else {
      mkdirSync(dataDir, { recursive: true });
      this.db = new Database(path.join(dataDir, 'atelier.db'));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.exec(SCHEMA);
    }
    const db = this.db;
    this.stmts = {
      insertSession: db.prepare('INSERT INTO sessions (id, editor_token_hash, viewer_token_hash, created_at) VALUES (?, ?, ?, ?)'),
      getSession: db.prepare('SELECT id, editor_token_hash, viewer_token_hash, created_at FROM sessions WHERE id = ?'),
      countSessions: db.prepare('SELECT COUNT(*) AS n FROM sessions'),
      insertUpdate: db.prepare('INSERT INTO updates (session_id, data, author, time) VALUES (?, ?, ?, ?)'),
      loadUpdates: db.prepare('SELECT seq, data, author, time FROM updates WHERE session_id = ? ORDER BY seq'),
      insertImage: db.prepare('INSERT OR IGNORE INTO images (id, mime, width, height, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      getImage: db.prepare('SELECT id, mime, width, height, bytes, created_at FROM images WHERE id = ?'),
      hasImage: db.prepare('SELECT 1 FROM images WHERE id = ?'),
      insertKeyframe: db.prepare(
        'INSERT INTO keyframes (session_id, iter, width, height, mime, data, losses, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      pruneKeyframes: db.prepare(
        'DELETE FROM keyframes WHERE session_id = ? AND id NOT IN (SELECT id FROM keyframes WHERE session_id = ? ORDER BY id DESC LIMIT ?)',
      ),
      latestKeyframe: db.prepare(
        'SELECT session_id, iter, width, height, mime, data, losses, time FROM keyframes WHERE session_id = ? ORDER BY id DESC LIMIT 1',
      ),
      updatesAfter: db.prepare('SELECT seq, data, author, time FROM updates WHERE session_id = ? AND seq > ? ORDER BY seq'),
      archiveKeyframe: db.prepare(
        'INSERT INTO keyframe_archive (session_id, iter, width, height, mime, data, losses, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      listArchive: db.prepare('SELECT id, session_id, iter, width, height, mime, losses, time FROM keyframe_archive WHERE session_id = ? ORDER BY id'),
      getArchived: db.prepare('SELECT id, session_id, iter, width, height, mime, data, losses, time FROM keyframe_archive WHERE session_id = ? AND id = ?'),
      insertLoss: db.prepare('INSERT INTO loss_samples (session_id, time, iter, total, style, content, tv) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      lossSamples: db.prepare('SELECT time, iter, total, style, content, tv FROM loss_samples WHERE session_id = ? ORDER BY time, rowid'),
    };
    this.appendTx = this.db.transaction((records: readonly UpdateRecord[]) => {
      for (const r of records) this.stmts.insertUpdate.run(r.sessionId, Buffer.from(r.update), r.author, r.time);
    });
  }

  private appendTx: (records: readonly UpdateRecord[]) => void;

  createSession(rec: SessionRecord): void {
    this.stmts.insertSession.run(rec.id, rec.editorTokenHash, rec.viewerTokenHash, rec.createdAt);
  }
  getSession(id: string): SessionRecord | undefined {
    const row = this.stmts.getSession.get(id) as
      | { id: string; editor_token_hash: Buffer; viewer_token_hash: Buffer; created_at: number }
      | undefined;
    if (!row) return undefined;
    return { id: row.id, editorTokenHash: row.editor_token_hash, viewerTokenHash: row.viewer_token_hash, createdAt: row.created_at };
  }
  countSessions(): number {
    return (this.stmts.countSessions.get() as { n: number }).n;
  }
  appendUpdates(records: readonly UpdateRecord[]): void {
    if (records.length) this.appendTx(records);
  }
  loadUpdates(sessionId: string): StoredUpdate[] {
    const rows = this.stmts.loadUpdates.all(sessionId) as { seq: number; data: Buffer; author: string; time: number }[];
    return rows.map((r) => ({ sessionId, seq: r.seq, update: new Uint8Array(r.data), author: r.author, time: r.time }));
  }
  putImage(rec: ImageRecord): void {
    this.stmts.insertImage.run(rec.id, rec.mime, rec.width, rec.height, rec.bytes, rec.createdAt);
  }
  getImage(id: string): ImageRecord | undefined {
    const row = this.stmts.getImage.get(id) as
      | { id: string; mime: ImageRecord['mime']; width: number; height: number; bytes: Buffer; created_at: number }
      | undefined;
    if (!row) return undefined;
    return { id: row.id, mime: row.mime, width: row.width, height: row.height, bytes: row.bytes, createdAt: row.created_at };
  }
  hasImage(id: string): boolean {
    return this.stmts.hasImage.get(id) !== undefined;
  }
  putKeyframe(rec: KeyframeRecord): void {
    this.putKeyframeTx(rec);
  }
  /** Fencing check, insert and prune in one transaction (a stale writer changes nothing). */
  private putKeyframeTx = (rec: KeyframeRecord): void =>
    this.db.transaction(() => {
      if (rec.fencingToken !== undefined) {
        const row = this.db.prepare('SELECT token FROM keyframe_fences WHERE session_id = ?').get(rec.sessionId) as { token: number } | undefined;
        if (row && rec.fencingToken < row.token) throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken, row.token);
        this.db
          .prepare('INSERT INTO keyframe_fences (session_id, token) VALUES (?, ?) ON CONFLICT(session_id) DO UPDATE SET token = excluded.token')
          .run(rec.sessionId, rec.fencingToken);
      }
      this.stmts.insertKeyframe.run(rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time);
      this.stmts.pruneKeyframes.run(rec.sessionId, rec.sessionId, KEYFRAMES_KEPT);
    })();
  latestKeyframe(sessionId: string): KeyframeRecord | undefined {
    const row = this.stmts.latestKeyframe.get(sessionId) as
      | { session_id: string; iter: number; width: number; height: number; mime: KeyframeRecord['mime']; data: Buffer; losses: string; time: number }
      | undefined;
    if (!row) return undefined;
    return {
      sessionId: row.session_id,
      iter: row.iter,
      width: row.width,
      height: row.height,
      mime: row.mime,
      data: row.data,
      losses: JSON.parse(row.losses),
      time: row.time,
    };
  }
  loadUpdatesAfter(sessionId: string, afterSeq: number): StoredUpdate[] {
    const rows = this.stmts.updatesAfter.all(sessionId, afterSeq) as { seq: number; data: Buffer; author: string; time: number }[];
    return rows.map((r) => ({ sessionId, seq: r.seq, update: new Uint8Array(r.data), author: r.author, time: r.time }));
  }
  archiveKeyframe(rec: KeyframeRecord): number {
    const info = this.stmts.archiveKeyframe.run(rec.sessionId, rec.iter, rec.width, rec.height, rec.mime, rec.data, JSON.stringify(rec.losses), rec.time);
    return Number(info.lastInsertRowid);
  }
  listArchivedKeyframes(sessionId: string): KeyframeMeta[] {
    const rows = this.stmts.listArchive.all(sessionId) as ArchiveRow[];
    return rows.map((r) => ({ id: r.id, sessionId: r.session_id, iter: r.iter, width: r.width, height: r.height, mime: r.mime, losses: JSON.parse(r.losses), time: r.time }));
  }
  getArchivedKeyframe(sessionId: string, id: number): (KeyframeRecord & { id: number }) | undefined {
    const r = this.stmts.getArchived.get(sessionId, id) as (ArchiveRow & { data: Buffer }) | undefined;
    if (!r) return undefined;
    return { id: r.id, sessionId: r.session_id, iter: r.iter, width: r.width, height: r.height, mime: r.mime, data: r.data, losses: JSON.parse(r.losses), time: r.time };
  }
  appendLossSample(rec: LossSampleRecord): void {
    const l = rec.losses;
    this.stmts.insertLoss.run(rec.sessionId, rec.time, rec.iter, finiteOrNull(l.total), finiteOrNull(l.style), finiteOrNull(l.content), finiteOrNull(l.tv));
  }
  lossSamples(sessionId: string): LossSampleRecord[] {
    const rows = this.stmts.lossSamples.all(sessionId) as { time: number; iter: number; total: number | null; style: number | null; content: number | null; tv: number | null }[];
    return rows.map((r) => ({
      sessionId,
      time: r.time,
      iter: r.iter,
      losses: { total: r.total ?? NaN, style: r.style ?? NaN, content: r.content ?? NaN, tv: r.tv ?? NaN },
    }));
  }
  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface ArchiveRow {
  id: number;
  session_id: string;
  iter: number;
  width: number;
  height: number;
  mime: KeyframeRecord['mime'];
  losses: string;
  time: number;
}

/** SQLite stores NaN as NULL; the loss terms read back as NaN. */
function finiteOrNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
