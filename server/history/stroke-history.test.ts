/**
 * S29: painting costs O(1) per point on the wire and in storage. A 300-point stroke drawn live,
 * one point per update (the worst case: the studio sends a few per update), through a real server:
 * the stored updates weigh at most 3× the stroke's final size in the document, every relay message
 * the other editor gets is small and does not grow with the stroke, and the replay still shows the
 * stroke growing at ≥ 10 states a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { api, type HistoryResponse, type HistoryStateResponse } from '../../shared/protocol.ts';
import { appendStrokePoints, createStroke, quantizeCoord } from '../../shared/strokes.ts';
import { connectClient, createSession, startTestServer, waitFor } from '../testing/index.ts';

const POINTS = 300;

test('S29: a 300-point stroke painted live stores ≤ 3× its final size, relays O(1) per point, and replays growing at ≥ 10 states/s', async (t) => {
  const server = await startTestServer({ keyframeIntervalMs: 60_000 });
  const clients: { close(): void }[] = [];
  try {
    const s = await createSession(server.url);
    const painter = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'ana' });
    const watcher = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'bo' });
    clients.push(painter, watcher);
    const relayed: number[] = [];
    watcher.socket.on('y:sync', (m: Uint8Array) => relayed.push(m.byteLength));
    const seeded = (await server.storage.loadUpdates(s.id)).length;
    const before = Y.encodeStateAsUpdate(painter.doc).byteLength;

    const point = (i: number) => [quantizeCoord(40 + 150 * Math.cos(i / 30) + i / 3), quantizeCoord(120 + 90 * Math.sin(i / 17))];
    const stroke = createStroke({ id: 'live-1', author: 'ana', tool: 'brush', color: '#ff0000', size: 6, opacity: 1, points: point(0) });
    painter.doc.transact(() => painter.doc.getArray('strokes').push([stroke]));
    const started = Date.now();
    for (let i = 1; i < POINTS; i++) {
      painter.doc.transact(() => appendStrokePoints(stroke, point(i)));
      await new Promise((r) => setTimeout(r, 5));
    }
    const drawMs = Date.now() - started;
    await waitFor(() => (watcher.doc.getArray('strokes').get(0) as Y.Map<unknown> | undefined)?.get('points') instanceof Y.Array && ((watcher.doc.getArray('strokes').get(0) as Y.Map<Y.Array<number>>).get('points')!.length === 2 * POINTS), 10_000, 'the whole stroke at the watcher');

    const finalSize = Y.encodeStateAsUpdate(painter.doc).byteLength - before;
    const stored = (await server.storage.loadUpdates(s.id)).slice(seeded);
    const storedBytes = stored.reduce((n, u) => n + u.update.byteLength, 0);
    assert.equal(stored.length, POINTS, 'one stored update per published point');
    assert.ok(storedBytes <= 3 * finalSize, `stored ${storedBytes} bytes for a stroke of ${finalSize} bytes (${(storedBytes / finalSize).toFixed(2)}×; replacing the array per point stored ~${Math.round((POINTS * POINTS * 9) / 1000)} KB)`);
    const relayedBytes = relayed.reduce((a, b) => a + b, 0);
    t.diagnostic(`stroke of ${POINTS} points: final ${finalSize} B in the document, stored ${storedBytes} B in ${stored.length} updates (${(storedBytes / finalSize).toFixed(2)}×), relayed ${relayedBytes} B in ${relayed.length} messages`);
    assert.ok(relayedBytes <= 3 * finalSize, `the watcher received ${relayedBytes} bytes for it`);
    assert.ok(Math.max(...relayed) <= 64 * Math.ceil(POINTS / relayed.length) + 64, `relay messages stay small (max ${Math.max(...relayed)} bytes over ${relayed.length} messages)`);

    // Replay: the history describes every append, and states 100 ms apart show the stroke growing.
    const headers = { authorization: `Bearer ${s.viewerToken}` };
    const history = (await (await fetch(server.url + api.history(s.id), { headers })).json()) as HistoryResponse;
    const grows = history.edits.filter((e) => e.changes.some((c) => c.kind === 'stroke-updated' && c.id === 'live-1'));
    assert.equal(grows.length, POINTS - 1, 'every append is an edit of the replay');
    const t0 = stored[0].time;
    const t1 = stored.at(-1)!.time;
    const counts: number[] = [];
    for (let t = t0; t <= t1; t += 100) {
      const st = (await (await fetch(server.url + api.historyState(s.id, t), { headers })).json()) as HistoryStateResponse;
      counts.push(st.state.strokes.find((x) => x.id === 'live-1')?.points.length ?? 0);
    }
    const steps = counts.filter((c, i) => i > 0 && c > counts[i - 1]).length;
    assert.ok(steps >= counts.length - 2, `the stroke grows between states 100 ms apart (${counts.join(',')}; drawn in ${drawMs} ms)`);
  } finally {
    // Closed here, not at the end of the try: a failed assertion left them reconnecting, and the
    // test process never exited.
    for (const c of clients) c.close();
    await server.close();
  }
});
