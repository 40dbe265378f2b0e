/**
 * Integration with the real engine in its worker thread, on the tiny random-weight network and
 * the cpu backend so it stays short. Checks the whole path: session → worker → StyleTransfer →
 * JPEG frames → socket, and a warm re-target on a resolution change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, startTestServer, waitFor } from '../testing/index.ts';
import { WorkerEngineHost } from './worker-host.ts';

test('S21: the worker engine (tiny network, cpu) streams frames and re-targets warm on a resolution change', async () => {
  const server = await startTestServer({ idlePauseMs: 500 }, { tinyEngine: true });
  try {
    assert.ok(server.engineHost instanceof WorkerEngineHost);
    assert.equal(await server.engineHost.ready, 'cpu');
    // Created in-process so the first step already runs at 48 px (a 256 px cpu step is slow).
    const { session, editorToken } = server.sessions.create();
    session.doc.getMap('params').set('resolution', 48);
    const c = await connectClient({ url: server.url, session: session.id, token: editorToken });
    await waitFor(() => c.frames.some((f) => Math.max(f.w, f.h) === 48), 60_000, 'a 48 px frame');
    const before = c.frames.at(-1)!;
    assert.equal(before.backend, 'cpu');
    assert.ok(Number.isFinite(before.losses.total));
    c.doc.getMap('params').set('resolution', 40);
    await waitFor(() => c.frames.some((f) => Math.max(f.w, f.h) === 40), 60_000, 'a 40 px frame');
    const after = c.frames.find((f) => Math.max(f.w, f.h) === 40)!;
    assert.ok(after.iter > before.iter, `iterations keep counting across the change (${before.iter} -> ${after.iter})`);
    assert.ok(c.statuses.some((st) => st.state === 'running'));
    // The worker reports its live tensor count with frames; /metrics exposes it for soak runs.
    const metrics = await (await fetch(server.url + '/metrics')).text();
    const tensors = Number(/^atelier_engine_tensors (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(tensors > 0, `atelier_engine_tensors in /metrics (got ${tensors})`);
    c.close();
  } finally {
    await server.close();
  }
});
