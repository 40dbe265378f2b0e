/**
 * S30 end to end: a server on PostgreSQL through a TCP proxy; the proxy stops forwarding (a hung
 * database) for a few seconds while two editors keep painting and a viewer watches. Meanwhile the
 * process goes on — /healthz answers, frames flow, the loaded session keeps its clients — but no
 * edit is relayed (nothing is durable); when the database is back every edit reaches the others
 * and is stored exactly once, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { appendStrokePoints, createStroke } from '../../shared/strokes.ts';
import { connectClient, createSession, docJson, startTestServer, waitFor, type TestClient } from '../testing/index.ts';
import { describeWithServices, startPostgres, type PostgresService } from '../testing/services.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';

describeWithServices('S30: PostgreSQL hangs under a running server', () => {
  let pg: PostgresService;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  test('S30: while PostgreSQL does not answer, healthz and frames go on and edits wait unrelayed; after it returns nothing is lost, duplicated or reordered', async (t) => {
    const proxy = await TcpProxy.start({ port: pg.port });
    const dbUrl = proxy.rewrite(await pg.createDatabase());
    const server = await startTestServer({ databaseUrl: dbUrl, databaseTimeoutMs: 500, keyframeIntervalMs: 200 });
    const clients: TestClient[] = [];
    try {
      const s = await createSession(server.url);
      const ana = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'ana' });
      const bo = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'bo' });
      const viewer = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'viewer' });
      clients.push(ana, bo, viewer);
      const stroke = createStroke({ id: 'ana-1', author: 'ana', tool: 'brush', color: '#ff0000', size: 6, opacity: 1, points: [10, 10] });
      ana.doc.transact(() => ana.doc.getArray('strokes').push([stroke]));
      await waitFor(() => bo.doc.getArray('strokes').length === 1, 5_000, 'the stroke before the hang');
      // The engine is running (its start reads the resume keyframe from storage).
      await waitFor(() => viewer.frames.length > 0, 10_000, 'frames before the hang');

      proxy.pause();
      const hungAt = Date.now();
      // Ana paints on and Bo changes a param; the server applies both but stores nothing.
      for (let i = 1; i <= 20; i++) {
        ana.doc.transact(() => appendStrokePoints(stroke, [10 + i * 5, 10 + i * 3]));
        await new Promise((r) => setTimeout(r, 30));
      }
      bo.doc.getMap('params').set('styleWeight', 7);
      const framesBefore = viewer.frames.length;
      let healthMax = 0;
      while (Date.now() - hungAt < 2_500) {
        const t0 = Date.now();
        const res = await fetch(server.url + '/healthz');
        assert.equal(res.status, 200);
        healthMax = Math.max(healthMax, Date.now() - t0);
        await new Promise((r) => setTimeout(r, 100));
      }
      t.diagnostic(`during the hang: /healthz max ${healthMax} ms, ${viewer.frames.length - framesBefore} frames to the viewer in 2.5 s`);
      assert.ok(healthMax < 250, `/healthz answered at once during the hang (max ${healthMax} ms)`);
      assert.ok(viewer.frames.length - framesBefore >= 5, 'frames kept flowing');
      const boStroke = bo.doc.getArray('strokes').get(0) as Y.Map<Y.Array<number>>;
      assert.equal(boStroke.get('points')!.length, 2, "none of Ana's points was relayed: none is durable");
      assert.equal(ana.doc.getMap('params').get('styleWeight'), 1, "nor Bo's param");
      assert.ok(server.sessions.loadedSession(s.id), 'the session stays loaded');

      proxy.resume();
      await waitFor(() => (bo.doc.getArray('strokes').get(0) as Y.Map<Y.Array<number>>).get('points')!.length === 42 && ana.doc.getMap('params').get('styleWeight') === 7, 15_000, 'the held edits to reach the others');
      t.diagnostic(`relayed ${Date.now() - hungAt - 2_500} ms after the database came back`);
      assert.deepEqual(docJson(bo.doc), docJson(ana.doc));
      assert.deepEqual(docJson(viewer.doc), docJson(ana.doc));

      // Stored once each, in the order they were applied: a replay of storage is the document.
      const stored = await server.storage.loadUpdates(s.id);
      const seen = new Set<string>();
      for (const u of stored) {
        const key = Buffer.from(u.update).toString('base64');
        assert.ok(!seen.has(key), `update ${u.seq} stored twice`);
        seen.add(key);
      }
      const replay = new Y.Doc();
      replay.getMap('params');
      replay.getArray('strokes');
      for (const u of stored) Y.applyUpdate(replay, u.update);
      assert.deepEqual(docJson(replay), docJson(ana.doc), 'storage holds every edit');
      const anaUpdates = stored.filter((u) => u.author.startsWith('ana#'));
      const replayInOrder = new Y.Doc();
      replayInOrder.getArray('strokes');
      let lengths: number[] = [];
      replayInOrder.getArray('strokes').observeDeep(() => {
        const p = (replayInOrder.getArray('strokes').get(0) as Y.Map<Y.Array<number>> | undefined)?.get('points');
        if (p) lengths.push(p.length);
      });
      for (const u of stored) Y.applyUpdate(replayInOrder, u.update);
      lengths = lengths.filter((n, i) => i === 0 || n !== lengths[i - 1]);
      assert.deepEqual(lengths, Array.from({ length: 21 }, (_, i) => 2 + 2 * i), `Ana's ${anaUpdates.length} updates stored in the order she made them`);
    } finally {
      proxy.resume(); // a failed assertion must not leave the server waiting for the database
      for (const c of clients) c.close();
      await server.close();
      await proxy.close();
    }
  });
});
