/**
 * Crash safety of the cluster (issue 19; S6 durable before relay, across processes): two server
 * processes on one Redis and one PostgreSQL, an editor on each and a viewer, and a SIGKILL of
 * either process at seeded random moments of the editing. After each kill the process is
 * restarted and a fresh client of it (which loads the session from PostgreSQL) must hold
 * everything that any client had received from another client, i.e. everything the cluster
 * relayed, whichever process relayed it. Same check as the single-process crash test
 * (app/crash.test.ts), now with the relay crossing Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectClient, createSession, type TestClient } from '../testing/index.ts';
import { spawnServer, type ChildServer } from '../testing/child-server.ts';
import { describeWithServices, startPostgres, startRedis, type PostgresService, type RedisService } from '../testing/services.ts';
import { missingFrom, prng, randInt, relayedSoFar, scriptedEditing } from '../testing/fuzz-kit.ts';

const SEED = 19;
const ROUNDS = 5;

describeWithServices('cluster crash safety', () => {
  let redis: RedisService;
  let pg: PostgresService;
  let dataDir: string;
  let env: (id: string) => Record<string, string>;
  const servers = new Map<string, ChildServer>();

  before(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    const dbUrl = await pg.createDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-cluster-crash-'));
    env = (id) => ({ REDIS_URL: redis.url, DATABASE_URL: dbUrl, INSTANCE_ID: id, LEASE_TTL_MS: '2000', DATA_DIR: path.join(dataDir, id) });
    // The first process creates the schema; the second starts against it.
    servers.set('a', await spawnServer(env('a'), [], 60_000));
    servers.set('b', await spawnServer(env('b'), [], 60_000));
  });

  after(async () => {
    await Promise.all([...servers.values()].map((s) => s.kill('SIGKILL')));
    await Promise.all([redis?.stop(), pg?.stop()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test(`S6: ${ROUNDS} SIGKILLs of either process during cross-process editing lose nothing that was relayed (seed ${SEED})`, async () => {
    const rnd = prng(SEED);
    const s = await createSession(servers.get('a')!.url);
    const clients: TestClient[] = [];
    let relayedChecks = 0;
    const killed = new Set<string>();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const join = (id: string, token: string, name: string) => connectClient({ url: servers.get(id)!.url, session: s.id, token, name });
        const [a, b] = await Promise.all([join('a', s.editorToken, `a${round}`), join('b', s.editorToken, `b${round}`)]);
        const watcher = await join(round % 2 ? 'a' : 'b', s.viewerToken, `w${round}`);
        clients.push(a, b, watcher);
        // Scripted editing on both processes: new strokes, growing strokes, a knob, every few ms.
        const stopEditing = scriptedEditing([a, b], rnd, round, 3, 6);
        await new Promise((r) => setTimeout(r, 200 + randInt(rnd, 600)));
        // What was relayed so far: anything a client holds that another client wrote.
        const relayed = relayedSoFar(a, b, watcher, round);
        // Alternating, so each process dies mid-edit (the moment is random; the edits use `rnd` as
        // timers fire, so a seeded pick here would depend on timing).
        const victim = round % 2 ? 'b' : 'a';
        killed.add(victim);
        const exit = await servers.get(victim)!.kill('SIGKILL');
        stopEditing();
        for (const c of clients.splice(0)) c.close();
        assert.equal(exit.signal, 'SIGKILL');

        servers.set(victim, await spawnServer(env(victim), [], 60_000));
        // The restarted process has nothing in memory: it loads the session from PostgreSQL.
        const check = await connectClient({ url: servers.get(victim)!.url, session: s.id, token: s.viewerToken, name: `check${round}` });
        try {
          assert.deepEqual(missingFrom(check.doc, relayed), [], `round ${round} (killed ${victim}): everything relayed survived`);
          relayedChecks += relayed.clocks.filter(([, clock]) => clock > 0).length;
        } finally {
          check.close();
        }
      }
      assert.equal(killed.size, 2, 'both processes were killed at some point');
      assert.ok(relayedChecks >= ROUNDS, `the rounds relayed something before the kill (${relayedChecks} checks)`);
    } finally {
      for (const c of clients) c.close();
    }
  });
});
