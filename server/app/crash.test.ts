/**
 * Crash safety (S6, R5): SIGKILL the server at seeded random moments while two editors draw and a
 * viewer watches, restart it on the same DATA_DIR, and check that everything any client had
 * received from another client (i.e. everything the server relayed) is still there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer, type ChildServer } from '../testing/child-server.ts';
import { connectClient, createSession, type TestClient } from '../testing/index.ts';
import { missingFrom, prng, randInt, relayedSoFar, scriptedEditing } from '../testing/fuzz-kit.ts';

const SEED = 7;
const ROUNDS = 10;

describe('crash safety', () => {
  test(`R5/S6: ${ROUNDS} SIGKILLs at random moments of multi-client editing lose nothing that was relayed (seed ${SEED})`, async () => {
    const rnd = prng(SEED);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-crash-'));
    let child: ChildServer | null = null;
    const clients: TestClient[] = [];
    try {
      child = await spawnServer({ DATA_DIR: dataDir });
      const s = await createSession(child.url);
      let relayedChecks = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const url = child.url;
        const [a, b] = await Promise.all(['a', 'b'].map((n) => connectClient({ url, session: s.id, token: s.editorToken, name: `${n}${round}` })));
        const watcher = await connectClient({ url, session: s.id, token: s.viewerToken, name: `w${round}` });
        clients.push(a, b, watcher);
        const stopEditing = scriptedEditing([a, b], rnd, round);
        await new Promise((r) => setTimeout(r, 50 + randInt(rnd, 500)));
        // Snapshot what was relayed so far, then kill without warning.
        const relayed = relayedSoFar(a, b, watcher, round);
        const exit: Awaited<ReturnType<ChildServer['kill']>> = await child.kill('SIGKILL');
        stopEditing();
        for (const c of clients.splice(0)) c.close();
        assert.equal(exit.signal, 'SIGKILL');

        child = await spawnServer({ DATA_DIR: dataDir });
        const after = await connectClient({ url: child.url, session: s.id, token: s.viewerToken, name: `check${round}` });
        assert.deepEqual(missingFrom(after.doc, relayed), [], `round ${round}: everything relayed survived the kill`);
        relayedChecks += relayed.clocks.filter(([, clock]) => clock > 0).length;
        after.close();
      }
      assert.ok(relayedChecks >= ROUNDS, 'most rounds relayed something before the kill');
    } finally {
      for (const c of clients) c.close();
      await child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
