/**
 * S31: a DATA_DIR written by the release before schema versioning (fixtures/legacy-v0, made with
 * that release's storage) opens, migrates to the current schema and loses nothing; the same rows
 * in that release's PostgreSQL schema migrate the same way; a stored document's flat-array strokes
 * read and are turned into append-only ones when the server loads the session (S29).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pgModule from 'pg';
import * as Y from 'yjs';
import { SCHEMA_VERSION, SchemaTooNewError } from './schema.ts';
import { SqliteDatabase } from './sqlite-db.ts';
import { SqliteStorage } from './sqlite.ts';
import { PostgresStorage } from './postgres.ts';
import type { Storage } from './types.ts';
import { startTestServer, waitFor } from '../testing/index.ts';
import { describeWithServices, startPostgres, type PostgresService } from '../testing/services.ts';
import { strokePoints } from '../../shared/strokes.ts';

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'legacy-v0');
const manifest = JSON.parse(readFileSync(path.join(FIXTURE, 'manifest.json'), 'utf8'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const A = 'legacyAAAA01';
const B = 'legacyBBBB02';

function copyFixture(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'atelier-legacy-'));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

/** Everything the manifest lists is in `s`, as the legacy release wrote it. */
async function assertNothingLost(s: Storage): Promise<void> {
  for (const rec of manifest.sessions) {
    const got = (await s.getSession(rec.id))!;
    assert.equal(got.createdAt, rec.createdAt);
    assert.equal(got.editorTokenHash.toString('hex'), rec.editorTokenHash);
    assert.equal(got.viewerTokenHash.toString('hex'), rec.viewerTokenHash);
  }
  assert.equal(await s.countSessions(), 2);
  for (const id of [A, B]) {
    const ups = await s.loadUpdates(id);
    assert.deepEqual(
      ups.map((u) => ({ seq: u.seq, author: u.author, time: u.time, sha256: sha(u.update), bytes: u.update.byteLength })),
      manifest.updates[id],
      `every update of ${id}, same seq, author, time and bytes`,
    );
  }
  const doc = new Y.Doc();
  // Define the top-level types first (an untyped doc files their content into placeholders).
  const json = () => ({ params: doc.getMap('params').toJSON(), styles: doc.getArray('styles').toJSON(), content: doc.getMap('content').toJSON(), strokes: doc.getArray('strokes').toJSON() });
  json();
  for (const u of await s.loadUpdates(A)) Y.applyUpdate(doc, u.update);
  assert.deepEqual(json(), manifest.documentA, 'the document replays to what it was');
  const img = manifest.images[0];
  const stored = (await s.getImage(img.id))!;
  assert.equal(sha(stored.bytes), img.sha256);
  assert.deepEqual(await s.imageInfo([img.id]), [{ id: img.id, mime: img.mime, width: img.width, height: img.height }]);
  // The archive became the one keyframe table: same ids, bytes, times and losses.
  const listA = await s.listKeyframes(A);
  assert.deepEqual(
    listA.map((k) => ({ id: k.id, iter: k.iter, time: k.time, losses: JSON.stringify(k.losses) })),
    manifest.archive[A].map((k: { id: number; iter: number; time: number; losses: string }) => ({ id: k.id, iter: k.iter, time: k.time, losses: k.losses })),
  );
  for (const k of manifest.archive[A]) assert.equal(sha((await s.getKeyframe(A, k.id))!.data), k.sha256);
  // Session B's keyframes were never archived: the migration moved them in.
  assert.deepEqual((await s.listKeyframes(B)).map((k) => k.iter), manifest.keyframesKept[B]);
  for (const id of [A, B]) {
    const latest = (await s.latestKeyframe(id))!;
    assert.deepEqual({ iter: latest.iter, time: latest.time, sha256: sha(latest.data) }, manifest.latestKeyframe[id], `the resume keyframe of ${id}`);
  }
  assert.deepEqual(
    (await s.lossSamples(A)).map((l) => ({ time: l.time, iter: l.iter, losses: JSON.stringify(l.losses) })),
    manifest.lossSamples[A],
    'loss samples, NaN kept as NaN, same-ms samples in their order',
  );
  // The fence survived: the legacy owner's token 4 still refuses an older one.
  const kf = { sessionId: A, iter: 999, width: 1, height: 1, mime: 'image/jpeg' as const, data: Buffer.from([1]), losses: { total: 1, style: 1, content: 1, tv: 1 }, time: Date.now() };
  await assert.rejects(s.putKeyframe({ ...kf, fencingToken: manifest.fences[A] - 1 }), /fencing token 3 is older than 4/);
}

describe('S31: migrating a DATA_DIR written before schema versioning (fixtures/legacy-v0)', () => {
  test('SQLite: opens at the current schema version with nothing lost; the duplicate keyframe table is gone; opening again changes nothing', async () => {
    const dir = copyFixture();
    try {
      const legacy = new Database(path.join(dir, 'atelier.db'), { readonly: true });
      assert.equal((legacy.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'schema_version'").get() as { n: number }).n, 0, 'the fixture is unversioned');
      legacy.close();
      const s = await SqliteStorage.open(dir);
      await assertNothingLost(s);
      await s.close();
      const raw = new SqliteDatabase(dir);
      assert.equal(raw.schemaVersion(), SCHEMA_VERSION);
      raw.close();
      const db = new Database(path.join(dir, 'atelier.db'), { readonly: true });
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      assert.ok(!tables.includes('keyframe_archive'), `one keyframe table (${tables.join(', ')})`);
      assert.ok((db.prepare('PRAGMA table_info(loss_samples)').all() as { name: string }[]).some((c) => c.name === 'id'), 'loss_samples has its id');
      const versions = (db.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version);
      assert.deepEqual(versions, Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1), 'each migration recorded once');
      db.close();
      const again = await SqliteStorage.open(dir);
      await assertNothingLost(again);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a database written by a newer release is refused with both versions named', async () => {
    const dir = copyFixture();
    try {
      (await SqliteStorage.open(dir)).close();
      const db = new Database(path.join(dir, 'atelier.db'));
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 1, 'from the future', 1);
      db.close();
      assert.throws(() => new SqliteDatabase(dir), (e: Error) => e instanceof SchemaTooNewError && e.message.includes(`version ${SCHEMA_VERSION + 1}`) && e.message.includes(`up to ${SCHEMA_VERSION}`));
      await assert.rejects(SqliteStorage.open(dir), /newer Atelier/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('S29: the server loads a legacy session: flat-array strokes read the same and become append-only (one stored update)', async () => {
    const dir = copyFixture();
    const server = await startTestServer({ dataDir: dir });
    try {
      const before = (await server.storage.loadUpdates(A)).length;
      // The fixture keeps token digests only (no token opens it): load the session as a socket would.
      const session = (await server.sessions.get(A))!;
      const strokes = session.doc.getArray('strokes').toArray() as Y.Map<unknown>[];
      assert.deepEqual(strokes.map((m) => m.get('points') instanceof Y.Array), [true, true], 'both strokes are append-only now');
      assert.deepEqual(
        strokes.map((m) => strokePoints(m)),
        (manifest.documentA.strokes as { points: number[] }[]).map((s) => s.points),
        'same points',
      );
      assert.deepEqual(session.validator.state().strokes.map((s) => s.points.length), [82, 12], 'the validator sees every point');
      await waitFor(async () => (await server.storage.loadUpdates(A)).length === before + 1, 5_000, 'the migration stored as one update');
      const migrated = (await server.storage.loadUpdates(A)).at(-1)!;
      assert.equal(migrated.author, 'server');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWithServices('S31: migrating a PostgreSQL database written before schema versioning', () => {
  let pg: PostgresService;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  test("the fixture's rows in that release's PostgreSQL schema migrate with nothing lost", async () => {
    const url = await pg.createDatabase();
    const client = new pgModule.Client({ connectionString: url });
    await client.connect();
    const legacy = new Database(path.join(FIXTURE, 'atelier.db'), { readonly: true });
    try {
      await client.query(readFileSync(path.join(FIXTURE, 'postgres-schema.sql'), 'utf8'));
      const copy = async (table: string, columns: string[], order: string) => {
        for (const row of legacy.prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${order}`).all() as Record<string, unknown>[]) {
          const values = columns.map((c) => row[c]);
          await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values);
        }
      };
      await copy('sessions', ['id', 'editor_token_hash', 'viewer_token_hash', 'created_at'], 'rowid');
      await copy('updates', ['seq', 'session_id', 'data', 'author', 'time'], 'seq');
      await copy('images', ['id', 'mime', 'width', 'height', 'bytes', 'created_at'], 'rowid');
      await copy('keyframes', ['id', 'session_id', 'iter', 'width', 'height', 'mime', 'data', 'losses', 'time'], 'id');
      await copy('keyframe_archive', ['id', 'session_id', 'iter', 'width', 'height', 'mime', 'data', 'losses', 'time'], 'id');
      await copy('keyframe_fences', ['session_id', 'token'], 'rowid');
      await copy('loss_samples', ['session_id', 'time', 'iter', 'total', 'style', 'content', 'tv'], 'rowid');
      for (const t of ['updates_seq', 'keyframes_id', 'keyframe_archive_id']) {
        const [table, col] = [t.slice(0, t.lastIndexOf('_')), t.slice(t.lastIndexOf('_') + 1)];
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', '${col}'), (SELECT MAX(${col}) FROM ${table}))`);
      }
    } finally {
      legacy.close();
      await client.end();
    }
    const s = await PostgresStorage.open(url);
    try {
      assert.equal(await s.schemaVersion(), SCHEMA_VERSION);
      await assertNothingLost(s);
      const next = await s.putKeyframe({ sessionId: B, iter: 7, width: 1, height: 1, mime: 'image/jpeg', data: Buffer.from([7]), losses: { total: 1, style: 1, content: 1, tv: 1 }, time: Date.now() });
      assert.ok(next > Math.max(...manifest.archive[A].map((k: { id: number }) => k.id)), 'new keyframe ids follow the migrated ones');
    } finally {
      await s.close();
    }
  });
});
