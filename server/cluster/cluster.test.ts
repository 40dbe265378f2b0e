/**
 * Several server processes on one Redis and one PostgreSQL (real ones, server/testing/services.ts),
 * each a child running server/main.ts with the fake engine: co-editing across processes, frames
 * from the engine owner on every process, and failover when the owner is killed with SIGKILL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import * as Y from 'yjs';
import { connectClient, createSession, docJson, waitFor, type TestClient } from '../testing/index.ts';
import { spawnServer, type ChildServer } from '../testing/child-server.ts';
import { describeWithServices, startPostgres, startRedis, type PostgresService, type RedisService } from '../testing/services.ts';
import { PostgresStorage } from '../storage/postgres.ts';
import type { CreateSessionResponse } from '../../shared/protocol.ts';

const LEASE_TTL_MS = 2000;

function stroke(id: string, x: number): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries({ id, author: 't', tool: 'brush', color: '#ff0000', size: 8, opacity: 1, points: [x, 10, x + 20, 30] })) m.set(k, v);
  return m;
}

describeWithServices('cluster: several processes share sessions through Redis and PostgreSQL', () => {
  let redis: RedisService;
  let pg: PostgresService;
  let dbUrl: string;
  let dataDir: string;
  const servers = new Map<string, ChildServer>();
  const clients: TestClient[] = [];
  let session: CreateSessionResponse;
  let leaseReader: ReturnType<typeof createClient>;

  const owner = async (): Promise<string | null> => {
    const v = await leaseReader.get(`atelier:lease:${session.id}`);
    return v ? v.slice(0, v.lastIndexOf(':')) : null;
  };
  const connect = async (instance: string, token: string, name: string) => {
    const c = await connectClient({ url: servers.get(instance)!.url, session: session.id, token, name });
    clients.push(c);
    return c;
  };

  before(async () => {
    const t0 = Date.now();
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    console.log(`redis + postgres up in ${Date.now() - t0} ms`);
    dbUrl = await pg.createDatabase();
    // The first process creates the schema; the others start together against it.
    dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-cluster-'));
    const env = (id: string) => ({
      REDIS_URL: redis.url,
      DATABASE_URL: dbUrl,
      INSTANCE_ID: id,
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      KEYFRAME_INTERVAL_MS: '200',
      DATA_DIR: path.join(dataDir, id),
    });
    const started = await Promise.all(['a', 'b', 'c'].map(async (id) => [id, await spawnServer(env(id), [], 60_000)] as const));
    for (const [id, s] of started) servers.set(id, s);
    console.log(`services and 3 servers up in ${Date.now() - t0} ms`);
    leaseReader = createClient({ url: redis.url });
    await leaseReader.connect();
    session = await createSession(servers.get('a')!.url);
  });

  after(async () => {
    for (const c of clients) c.close();
    await leaseReader?.quit().catch(() => {});
    await Promise.all([...servers.values()].map((s) => s.kill('SIGKILL')));
    await Promise.all([redis?.stop(), pg?.stop()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('C1: clients connected to different processes co-edit one session and converge (document and presence)', async () => {
    const a = await connect('a', session.editorToken, 'on-a');
    const b = await connect('b', session.editorToken, 'on-b');
    const c = await connect('c', session.viewerToken, 'viewer-on-c');
    a.doc.getMap('params').set('styleWeight', 7);
    b.doc.getArray('strokes').push([stroke('s-b', 5)]);
    a.doc.getArray('strokes').push([stroke('s-a', 50)]);
    b.doc.getMap('params').set('tvWeight', 3);
    await waitFor(
      () => [a, b, c].every((x) => x.doc.getArray('strokes').length === 2 && x.doc.getMap('params').get('tvWeight') === 3 && x.doc.getMap('params').get('styleWeight') === 7),
      10_000,
      'every client to see every edit',
    );
    assert.deepEqual(docJson(b.doc), docJson(a.doc));
    assert.deepEqual(docJson(c.doc), docJson(a.doc));
    // A process that loads the session later reads it from PostgreSQL and answers sync with it.
    const late = await connect('c', session.editorToken, 'late-on-c');
    await waitFor(() => late.doc.getArray('strokes').length === 2, 10_000, 'the late client to sync');
    assert.deepEqual(docJson(late.doc), docJson(a.doc));
    // Presence set on one process reaches clients of the others.
    a.awareness.setLocalState({ user: { name: 'on-a', color: '#00ff00' } });
    await waitFor(() => [...c.awareness.getStates().values()].some((s) => (s.user as { name?: string } | undefined)?.name === 'on-a'), 10_000, 'presence across processes');
    assert.equal(a.errors.length + b.errors.length, 0, `no errors: ${JSON.stringify([...a.errors, ...b.errors])}`);
  });

  test('C2: exactly one process owns the engine, and its frames reach clients on the other processes', async () => {
    const own = (await waitFor(owner, 10_000, 'an engine lease'))!;
    assert.ok(servers.has(own), `the lease names a live process (${own})`);
    const others = [...servers.keys()].filter((k) => k !== own);
    const remote = await connect(others[0], session.viewerToken, 'remote-viewer');
    const before = remote.frames.length;
    await waitFor(() => remote.frames.length >= before + 3, 10_000, 'frames on a process that does not own the engine');
    const iters = remote.frames.slice(before).map((f) => f.iter);
    assert.ok(iters.every((it, i) => i === 0 || it >= iters[i - 1]), `iterations only grow: ${iters.join(',')}`);
    await waitFor(() => remote.statuses.at(-1)?.state === 'running', 10_000, 'the owner state mirrored in status');
  });

  test('C4: killing the owning process (SIGKILL) moves the optimization to another process, resuming from its keyframe, with no update lost', async () => {
    const own = (await owner())!;
    const survivors = [...servers.keys()].filter((k) => k !== own);
    const onOwner = await connect(own, session.editorToken, 'doomed');
    const watcher = await connect(survivors[0], session.editorToken, 'survivor');
    await connect(survivors[1], session.viewerToken, 'survivor-viewer');
    // An edit made on the owner just before it dies, confirmed by another process's client.
    onOwner.doc.getArray('strokes').push([stroke('s-last', 90)]);
    await waitFor(() => watcher.doc.getArray('strokes').length === 3, 10_000, 'the last edit on the doomed process to reach the others');
    await waitFor(() => watcher.frames.length > 0, 10_000, 'frames before the kill');
    const store = await PostgresStorage.open(dbUrl);
    try {
      // The owner stores a keyframe every interval once frames flow (S13); killed before its first
      // one, it would leave nothing to resume from (the fake engine's worker can take a moment to
      // send its first frame on a loaded machine, so the kill waits for the keyframe, not a time).
      const lastKeyframe = (await waitFor(
        async () => {
          const kf = await store.latestKeyframe(session.id);
          return kf && kf.iter > 0 ? kf : null;
        },
        10_000,
        'the owner to store a keyframe',
      ))!;
      const killedAt = Date.now();
      await servers.get(own)!.kill('SIGKILL');
      servers.delete(own);

      const next = (await waitFor(
        async () => {
          const o = await owner();
          return o && o !== own ? o : null;
        },
        4 * LEASE_TTL_MS + 5_000,
        'another process to take the lease',
      ))!;
      assert.ok(survivors.includes(next));
      const tookOverMs = Date.now() - killedAt;
      console.log(`lease taken over by ${next} ${tookOverMs} ms after SIGKILL (LEASE_TTL_MS=${LEASE_TTL_MS})`);
      const seen = watcher.frames.length;
      await waitFor(() => watcher.frames.length >= seen + 3, 10_000, 'frames from the new owner');
      const resumed = watcher.frames.slice(seen);
      assert.ok(
        resumed.every((f) => f.iter >= lastKeyframe.iter),
        `the new owner resumes from the keyframe at iter ${lastKeyframe.iter}, not from scratch (saw ${resumed.map((f) => f.iter).join(',')}; takeover after ${tookOverMs} ms)`,
      );

      // Editing continues on the survivors, and nothing written before the kill is lost.
      watcher.doc.getMap('params').set('seed', 42);
      const fresh = await connect(next, session.editorToken, 'after-failover');
      await waitFor(() => fresh.doc.getMap('params').get('seed') === 42 && fresh.doc.getArray('strokes').length === 3, 10_000, 'the post-failover state');
      assert.deepEqual(docJson(fresh.doc), docJson(watcher.doc));
      const stored = new Y.Doc();
      for (const u of await store.loadUpdates(session.id)) Y.applyUpdate(stored, u.update);
      assert.deepEqual(docJson(stored), docJson(watcher.doc), 'PostgreSQL holds every update');
      stored.destroy();
    } finally {
      await store.close();
    }
  });
});
