import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { connectClient, createSession, docJson, startTestServer, waitFor } from '../testing/index.ts';
import { spawnServer } from '../testing/child-server.ts';
import { isDeepStrictEqual } from 'node:util';

function addStroke(doc: Y.Doc, id: string, points: number[]): void {
  doc.transact(() => {
    const m = new Y.Map<unknown>();
    m.set('id', id);
    m.set('author', 'test');
    m.set('tool', 'brush');
    m.set('color', '#00ff00');
    m.set('size', 12);
    m.set('opacity', 0.8);
    m.set('points', points);
    doc.getArray('strokes').push([m]);
  });
}

describe('persistence', () => {
  test('S13: after a clean restart on the same DATA_DIR the document is identical and history keeps authors', async (t) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-restart-'));
    try {
      let server = await startTestServer({ dataDir, keyframeIntervalMs: 150 });
      const s = await createSession(server.url);
      const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'alice' });
      const b = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'bob' });
      a.doc.getMap('params').set('styleWeight', 42);
      a.doc.getMap('params').set('resolution', 128);
      addStroke(a.doc, 'st1', [10, 10, 100, 80, 200, 40]);
      b.doc.getMap('content').set('background', '#123456');
      await waitFor(() => isDeepStrictEqual(docJson(a.doc), docJson(b.doc)) && a.doc.getArray('strokes').length === 1);
      await waitFor(() => server.storage.latestKeyframe(s.id), 5000, 'a keyframe');
      const before = docJson(a.doc);
      // What the engine runs on, including the seed (sample content and style) of the first update.
      const validBefore = (await server.sessions.get(s.id))!.validator.state();
      assert.ok(validBefore.content.imageId && validBefore.styles.length === 1, 'the seed reached the validator');
      const authors = new Set((await server.storage.loadUpdates(s.id)).map((u) => u.author.split('#')[0]));
      assert.ok(authors.has('alice') && authors.has('bob') && authors.has('server'), [...authors].join(','));
      a.close();
      b.close();
      await server.close();

      server = await startTestServer({ dataDir, keyframeIntervalMs: 150 });
      try {
        const kf = (await server.storage.latestKeyframe(s.id))!;
        assert.ok(kf.iter > 0);
        const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'carol' });
        t.after(() => c.close());
        assert.deepEqual(docJson(c.doc), before);
        assert.equal((await server.sessions.get(s.id))!.validator.state().params.styleWeight, 42);
        assert.deepEqual((await server.sessions.get(s.id))!.validator.state(), validBefore, 'the reloaded session feeds the engine the same state');
        // The optimization resumes from the keyframe: iterations keep counting from it.
        await waitFor(() => c.frames.length > 0, 5000, 'a frame after restart');
        assert.ok(c.frames[0].iter >= kf.iter, `first iter ${c.frames[0].iter} >= keyframe ${kf.iter}`);
        c.close();
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('S6/S13: after kill -9 every relayed update survives a restart, and SIGTERM exits 0', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-kill9-'));
    let child = await spawnServer({ DATA_DIR: dataDir });
    try {
      const s = await createSession(child.url);
      const a = await connectClient({ url: child.url, session: s.id, token: s.editorToken, name: 'writer' });
      const b = await connectClient({ url: child.url, session: s.id, token: s.editorToken, name: 'watcher' });
      for (let i = 0; i < 25; i++) {
        a.doc.getMap('params').set('seed', i);
        if (i % 5 === 0) addStroke(a.doc, `k${i}`, [i, i, i + 50, i + 20]);
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
      }
      // b receives an update only after it was committed: once b has everything, it is durable.
      await waitFor(() => b.doc.getMap('params').get('seed') === 24 && b.doc.getArray('strokes').length === 5, 5000, 'relay');
      const expected = docJson(b.doc);
      a.close();
      b.close();
      const exit = await child.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');

      child = await spawnServer({ DATA_DIR: dataDir });
      const c = await connectClient({ url: child.url, session: s.id, token: s.viewerToken, name: 'after' });
      assert.deepEqual(docJson(c.doc), expected);
      c.close();
      // S19: SIGTERM shuts down cleanly.
      assert.equal((await child.kill('SIGTERM')).code, 0);
    } finally {
      await child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('S19: a bad config exits with code 2 and names the variable', async () => {
    await assert.rejects(spawnServer({ FRAME_RATE: 'fast' }), (e: Error & { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr ?? '', /FRAME_RATE/);
      return true;
    });
  });
});
