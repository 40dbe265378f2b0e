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
import * as Y from 'yjs';
import { spawnServer, type ChildServer } from '../testing/child-server.ts';
import { connectClient, createSession, type TestClient } from '../testing/index.ts';
import { addStroke, prng, randInt, strokeIds } from '../testing/fuzz-kit.ts';

const SEED = 7;
const ROUNDS = 10;

/** What a client holds that came from `author` (its part of the state vector). */
function clockOf(doc: Y.Doc, client: number): number {
  return Y.decodeStateVector(Y.encodeStateVector(doc)).get(client) ?? 0;
}

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
        // Scripted editing: each editor adds strokes, grows its last one and turns a knob, every few ms.
        const editing = [a, b].map((c, i) => {
          let pts: Y.Array<number> | null = null;
          let n = 0;
          return setInterval(() => {
            const op = randInt(rnd, 3);
            if (op === 0 || !pts) pts = addStroke(c.doc, `r${round}-${i}-${n++}`, [n, n, n + 1, n + 1], `e${i}`);
            else if (op === 1) pts.push([randInt(rnd, 500), randInt(rnd, 500)]);
            else c.doc.getMap('params').set('seed', randInt(rnd, 1000));
          }, 2 + randInt(rnd, 5));
        });
        await new Promise((r) => setTimeout(r, 50 + randInt(rnd, 500)));
        // Snapshot what was relayed so far, then kill without warning.
        const expectIds = new Set([...strokeIds(watcher.doc)]);
        const expectClocks: [number, number][] = [
          [a.doc.clientID, Math.max(clockOf(watcher.doc, a.doc.clientID), clockOf(b.doc, a.doc.clientID))],
          [b.doc.clientID, Math.max(clockOf(watcher.doc, b.doc.clientID), clockOf(a.doc, b.doc.clientID))],
        ];
        for (const id of strokeIds(a.doc)) if (!id.startsWith(`r${round}-0-`)) expectIds.add(id);
        for (const id of strokeIds(b.doc)) if (!id.startsWith(`r${round}-1-`)) expectIds.add(id);
        const exit: Awaited<ReturnType<ChildServer['kill']>> = await child.kill('SIGKILL');
        editing.forEach(clearInterval);
        for (const c of clients.splice(0)) c.close();
        assert.equal(exit.signal, 'SIGKILL');

        child = await spawnServer({ DATA_DIR: dataDir });
        const after = await connectClient({ url: child.url, session: s.id, token: s.viewerToken, name: `check${round}` });
        const have = strokeIds(after.doc);
        for (const id of expectIds) assert.ok(have.has(id), `round ${round}: relayed stroke ${id} survived the kill`);
        for (const [client, clock] of expectClocks) {
          assert.ok(clockOf(after.doc, client) >= clock, `round ${round}: client ${client} had ${clock} relayed, ${clockOf(after.doc, client)} stored`);
          if (clock > 0) relayedChecks++;
        }
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
