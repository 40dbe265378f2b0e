/**
 * The database schema, once for both dialects (SQLite and PostgreSQL), as ordered migrations
 * (server/SPEC.md S31). A database records the migrations it has run in `schema_version`; opening
 * it runs the missing ones in order, each in its own transaction together with its
 * `schema_version` row (PostgreSQL under an advisory lock, so processes starting together migrate
 * once). A database written by a newer release (a version this code does not know) is refused
 * with a message naming both versions, never silently used.
 *
 * Databases from before versioning have the baseline tables and no `schema_version`: migration 1
 * creates only what is missing (`IF NOT EXISTS`), so they are adopted as they are, and the next
 * migrations fix where the two dialects had drifted (SQLite's `loss_samples` had no id) and drop
 * the duplicate keyframe table. `fixtures/legacy-v0` is such a database (migrations.test.ts).
 *
 * A migration is a list of statements built from {@link Dialect}'s type names, so each table is
 * written once; where the dialects truly differ the difference is a named field of the dialect,
 * not a second schema.
 */

export interface Dialect {
  name: 'sqlite' | 'postgres';
  /** An auto-incrementing integer primary key column. */
  serialKey: string;
  /** A 64-bit integer (ms timestamps, sequence numbers). */
  bigint: string;
  blob: string;
  real: string;
  /** Where JSON documents are kept (SQLite TEXT, PostgreSQL JSONB). */
  json: string;
  /** How a baseline `loss_samples` table orders rows written in the same ms (its insertion order). */
  lossInsertionOrder: string;
}

export const SQLITE: Dialect = {
  name: 'sqlite',
  serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  bigint: 'INTEGER',
  blob: 'BLOB',
  real: 'REAL',
  json: 'TEXT',
  lossInsertionOrder: 'rowid',
};

export const POSTGRES: Dialect = {
  name: 'postgres',
  serialKey: 'BIGSERIAL PRIMARY KEY',
  bigint: 'BIGINT',
  blob: 'BYTEA',
  real: 'DOUBLE PRECISION',
  json: 'JSONB',
  lossInsertionOrder: 'id',
};

export interface Migration {
  version: number;
  name: string;
  statements(d: Dialect): string[];
}

const keyframeColumns = (d: Dialect) => `
  session_id TEXT NOT NULL REFERENCES sessions(id),
  iter INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  mime TEXT NOT NULL,
  data ${d.blob} NOT NULL,
  losses ${d.json} NOT NULL,
  time ${d.bigint} NOT NULL`;

const lossColumns = (d: Dialect) => `
  session_id TEXT NOT NULL REFERENCES sessions(id),
  time ${d.bigint} NOT NULL,
  iter INTEGER NOT NULL,
  total ${d.real},
  style ${d.real},
  content ${d.real},
  tv ${d.real}`;

/** Every migration, in order. Never edit one that shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'baseline: sessions, updates, images, keyframes (last few, for resume), keyframe fences, keyframe archive, loss samples',
    statements: (d) => [
      `CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        editor_token_hash ${d.blob} NOT NULL,
        viewer_token_hash ${d.blob} NOT NULL,
        created_at ${d.bigint} NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS updates (
        seq ${d.serialKey},
        session_id TEXT NOT NULL REFERENCES sessions(id),
        data ${d.blob} NOT NULL,
        author TEXT NOT NULL,
        time ${d.bigint} NOT NULL)`,
      'CREATE INDEX IF NOT EXISTS updates_by_session ON updates(session_id, seq)',
      `CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes ${d.blob} NOT NULL,
        created_at ${d.bigint} NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS keyframes (id ${d.serialKey},${keyframeColumns(d)})`,
      'CREATE INDEX IF NOT EXISTS keyframes_by_session ON keyframes(session_id, id)',
      `CREATE TABLE IF NOT EXISTS keyframe_fences (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id),
        token ${d.bigint} NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS keyframe_archive (id ${d.serialKey},${keyframeColumns(d)})`,
      'CREATE INDEX IF NOT EXISTS keyframe_archive_by_session ON keyframe_archive(session_id, id)',
      `CREATE TABLE IF NOT EXISTS loss_samples (id ${d.serialKey},${lossColumns(d)})`,
      'CREATE INDEX IF NOT EXISTS loss_samples_by_session ON loss_samples(session_id, time)',
    ],
  },
  {
    version: 2,
    name: 'loss_samples: an id in both dialects (SQLite databases from before versioning had none), ties in time ordered by it',
    statements: (d) => [
      `CREATE TABLE loss_samples_v2 (id ${d.serialKey},${lossColumns(d)})`,
      `INSERT INTO loss_samples_v2 (session_id, time, iter, total, style, content, tv)
        SELECT session_id, time, iter, total, style, content, tv FROM loss_samples ORDER BY time, ${d.lossInsertionOrder}`,
      'DROP TABLE loss_samples',
      'ALTER TABLE loss_samples_v2 RENAME TO loss_samples',
      'CREATE INDEX loss_samples_by_session ON loss_samples(session_id, time, id)',
    ],
  },
  {
    version: 3,
    name: 'one keyframe table: the archive (every keyframe) becomes `keyframes`; resume keyframes it lacked (written before the archive existed) are moved into it; the duplicate table is dropped',
    statements: () => [
      `INSERT INTO keyframe_archive (session_id, iter, width, height, mime, data, losses, time)
        SELECT k.session_id, k.iter, k.width, k.height, k.mime, k.data, k.losses, k.time FROM keyframes k
        WHERE NOT EXISTS (SELECT 1 FROM keyframe_archive a WHERE a.session_id = k.session_id AND a.iter = k.iter AND a.data = k.data)
        ORDER BY k.id`,
      'DROP TABLE keyframes',
      'DROP INDEX keyframe_archive_by_session',
      'ALTER TABLE keyframe_archive RENAME TO keyframes',
      'CREATE INDEX keyframes_by_session ON keyframes(session_id, time, id)',
    ],
  },
  {
    version: 4,
    name: 'update_batches: ids of committed update batches, so a batch retried after a timeout is not written twice',
    statements: (d) => [
      `CREATE TABLE update_batches (id TEXT PRIMARY KEY, time ${d.bigint} NOT NULL)`,
      'CREATE INDEX update_batches_by_time ON update_batches(time)',
    ],
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export const SCHEMA_VERSION_TABLE = (d: Dialect) =>
  `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${d.bigint} NOT NULL)`;

/** Batch ids are kept this long (a group commit retries a batch for far less). */
export const UPDATE_BATCH_RETENTION_MS = 60 * 60 * 1000;

/** A database migrated by a newer release than this one. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
  constructor(found: number) {
    super(`the database has schema version ${found}, written by a newer Atelier; this release knows versions up to ${SCHEMA_VERSION}: upgrade Atelier (a database is never migrated back)`);
  }
}

/** The migrations a database at `current` still needs, in order; throws for a newer database. */
export function pendingMigrations(current: number): Migration[] {
  if (current > SCHEMA_VERSION) throw new SchemaTooNewError(current);
  return MIGRATIONS.filter((m) => m.version > current);
}
