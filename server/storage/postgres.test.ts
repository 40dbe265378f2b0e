/**
 * PostgreSQL storage on a real PostgreSQL started for this file: the shared contract, then what the
 * main-thread pool must do when the database misbehaves (S30): a hung database (a TCP proxy that
 * stops forwarding) fails calls at their deadline without blocking the event loop, a late answer
 * is never taken for another call's, and a group commit whose answer was lost is retried without
 * writing the batch twice or out of order. Fails with an install hint when PostgreSQL is missing,
 * unless ATELIER_SKIP_SERVICES=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pgModule from 'pg';
import { describeWithServices, startPostgres, type PostgresService } from '../testing/services.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';
import { waitFor } from '../testing/index.ts';
import { storageContract } from './contract.ts';
import { GroupCommit } from './group-commit.ts';
import { PostgresStorage } from './postgres.ts';
import { StorageUnavailableError } from './types.ts';

const { Client } = pgModule;
const session = (id: string) => ({ id, editorTokenHash: Buffer.alloc(32, 1), viewerTokenHash: Buffer.alloc(32, 2), createdAt: 1 });

describeWithServices('postgres', () => {
  let pg: PostgresService;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  describe('contract', () => {
    storageContract('postgres', async () => {
      const url = await pg.createDatabase();
      return { storage: await PostgresStorage.open(url), reopen: () => PostgresStorage.open(url), cleanup() {} };
    });
  });

  test('a lost connection fails at most the call it hit; the next call reconnects', async () => {
    const url = await pg.createDatabase();
    const storage = await PostgresStorage.open(url);
    try {
      await storage.createSession(session('conn0001'));
      const admin = new Client({ connectionString: url });
      await admin.connect();
      const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'atelier' AND pid <> pg_backend_pid()");
      await admin.end();
      assert.ok(rowCount && rowCount > 0, 'the storage connection was terminated');
      await new Promise((r) => setTimeout(r, 100));
      let record;
      for (let i = 0; i < 2 && !record; i++) {
        try {
          record = await storage.getSession('conn0001');
        } catch (e) {
          assert.ok(e instanceof StorageUnavailableError, `a transient failure, not ${(e as Error).message}`);
        }
      }
      assert.equal(record?.createdAt, 1);
    } finally {
      await storage.close();
    }
  });

  test('an unreachable database fails at open with a clear message', async () => {
    const url = pg.url.replace(/:(\d+)\//, ':1/');
    await assert.rejects(PostgresStorage.open(url, { callTimeoutMs: 2_000 }), /cannot reach PostgreSQL/);
  });

  test('S30: a hung database fails calls at their deadline while the event loop runs on, and a late answer never reaches another call', async () => {
    const url = await pg.createDatabase();
    const proxy = await TcpProxy.start({ port: pg.port });
    const storage = await PostgresStorage.open(proxy.rewrite(url), { callTimeoutMs: 400 });
    const loop = monitorEventLoopDelay({ resolution: 5 });
    try {
      await storage.createSession(session('hang0001'));
      await storage.createSession(session('hang0002'));
      proxy.pause();
      loop.enable();
      const started = Date.now();
      // Two calls in flight on two connections while nothing is forwarded.
      const [a, b] = await Promise.allSettled([storage.getSession('hang0001'), storage.countSessions()]);
      loop.disable();
      const took = Date.now() - started;
      assert.equal(a.status, 'rejected');
      assert.ok((a as PromiseRejectedResult).reason instanceof StorageUnavailableError, String((a as PromiseRejectedResult).reason));
      assert.match(String((a as PromiseRejectedResult).reason), /did not answer getSession within 400 ms/);
      assert.equal(b.status, 'rejected');
      assert.ok(took >= 390 && took < 2_000, `failed at the deadline (${took} ms)`);
      assert.ok(loop.max / 1e6 < 100, `the event loop was never blocked (max delay ${(loop.max / 1e6).toFixed(1)} ms)`);
      // The held answers are delivered on resume, to connections that were destroyed: the next
      // calls get their own answers, not the stale ones.
      proxy.resume();
      assert.equal((await storage.getSession('hang0002'))?.id, 'hang0002');
      assert.equal(await storage.countSessions(), 2);
      assert.equal((await storage.getSession('hang0001'))?.id, 'hang0001');
    } finally {
      loop.disable();
      await storage.close();
      await proxy.close();
    }
  });

  test('S30: a group commit whose answer was lost (committed, then timed out) is retried once the database is back: every update stored once, in order', async () => {
    const url = await pg.createDatabase();
    const proxy = await TcpProxy.start({ port: pg.port });
    const storage = await PostgresStorage.open(proxy.rewrite(url), { callTimeoutMs: 300 });
    const direct = await PostgresStorage.open(url);
    try {
      await storage.createSession(session('retry001'));
      const gc = new GroupCommit(storage);
      const durable: number[] = [];
      const append = (i: number) =>
        new Promise<void>((resolve, reject) =>
          gc.append({ sessionId: 'retry001', update: new Uint8Array([i]), author: 'a', time: i }, (err) => (err ? reject(err) : (durable.push(i), resolve()))),
        );
      await append(0);
      await new Promise((r) => setTimeout(r, 50)); // the pool's connections idle again
      // PostgreSQL gets the next batch and commits it; its answer is held past the deadline.
      proxy.pause('toClient');
      const first = [1, 2, 3].map(append);
      await waitFor(async () => (await direct.loadUpdates('retry001')).length === 4, 5_000, 'the batch to commit');
      assert.deepEqual((await direct.loadUpdates('retry001')).map((u) => u.update[0]), [0, 1, 2, 3], 'the batch did commit');
      const later = [4, 5].map(append);
      await new Promise((r) => setTimeout(r, 700));
      assert.ok(gc.retries >= 1, 'the timed-out batch is being retried');
      assert.deepEqual(durable, [0], 'nothing is acknowledged while the answer is missing');
      proxy.resume();
      await Promise.all([...first, ...later]);
      assert.deepEqual(durable, [0, 1, 2, 3, 4, 5], 'acknowledged in order once durable');
      assert.deepEqual((await direct.loadUpdates('retry001')).map((u) => u.update[0]), [0, 1, 2, 3, 4, 5], 'stored once each, in order');
      await gc.close();
    } finally {
      await storage.close();
      await direct.close();
      await proxy.close();
    }
  });

  test('S30: keyframe writes with fencing tokens from two writers at once never interleave (each is one statement on its own connection)', async () => {
    const url = await pg.createDatabase();
    const storage = await PostgresStorage.open(url);
    try {
      await storage.createSession(session('race0001'));
      const kf = (iter: number, fencingToken: number) => ({
        sessionId: 'race0001', iter, width: 1, height: 1, mime: 'image/jpeg' as const, data: Buffer.from([iter]), losses: { total: 1, style: 1, content: 1, tv: 1 }, time: iter, fencingToken,
      });
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.putKeyframe(kf(i + 1, i % 2 ? 7 : 3))));
      const stored = await storage.listKeyframes('race0001');
      const accepted = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(stored.length, accepted, 'exactly the accepted writes are stored');
      assert.ok(results.every((r, i) => i % 2 === 0 || r.status === 'fulfilled'), 'every write with the newest token is accepted');
      await assert.rejects(storage.putKeyframe(kf(99, 5)), /fencing token 5 is older than 7/, 'the fence ends at the newest token');
    } finally {
      await storage.close();
    }
  });
});
