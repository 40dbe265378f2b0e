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
  const clients: { close(): void }[] = []; // closed even when a check fails (an open client keeps the run alive)
  try {
    assert.ok(server.engineHost instanceof WorkerEngineHost);
    assert.equal(await server.engineHost.ready, 'cpu');
    // Created in-process so the first step already runs at 48 px (a 256 px cpu step is slow).
    const { session, editorToken } = await server.sessions.create();
    session.doc.getMap('params').set('resolution', 48);
    const c = await connectClient({ url: server.url, session: session.id, token: editorToken });
    clients.push(c);
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
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
});

test('S23: a change made while a step runs abandons that step, and a stream of changes cannot stall the optimization', async () => {
  const server = await startTestServer({ idlePauseMs: 60_000 }, { tinyEngine: true });
  try {
    assert.ok(server.engineHost instanceof WorkerEngineHost);
    const host = server.engineHost;
    await host.ready;
    const { session, editorToken } = await server.sessions.create();
    // Big enough that a cpu step takes a good fraction of a second: changes land mid-step.
    session.doc.getMap('params').set('resolution', 160);
    const c = await connectClient({ url: server.url, session: session.id, token: editorToken });
    await waitFor(() => c.frames.length >= 2, 120_000, 'frames at 160 px');
    const params = c.doc.getMap('params');
    // Alternate the content weight until one change has interrupted a running step; every change
    // shows in the next frames' content loss (it carries the weight).
    for (let i = 0; host.interruptedSteps === 0 && i < 6; i++) {
      const weight = i % 2 === 0 ? 1000 : 1;
      const last = c.frames.at(-1)!;
      params.set('contentWeight', weight);
      await waitFor(() => c.frames.some((f) => f.iter > last.iter && (weight === 1000 ? f.losses.content > 100 * last.losses.content : f.losses.content < last.losses.content / 100)), 60_000, `a frame computed with contentWeight ${weight}`);
    }
    assert.ok(host.interruptedSteps >= 1, `steps interrupted: ${host.interruptedSteps}`);
    // A change every 50 ms for 4 s: at most every other step is abandoned, so frames keep coming.
    const startIter = c.frames.at(-1)!.iter;
    const timer = setInterval(() => params.set('tvWeight', 1 + Math.random()), 50);
    try {
      await waitFor(() => c.frames.at(-1)!.iter >= startIter + 2, 60_000, 'steps complete while changes stream in');
    } finally {
      clearInterval(timer);
    }
    c.close();
  } finally {
    await server.close();
  }
});

test('S26: a step longer than ENGINE_STEP_TIME_LIMIT_MS is preempted and its session stopped with an error naming the limit', async () => {
  const engineHost = new WorkerEngineHost({ backend: 'cpu', model: 'mobilenet_v2', forceModel: 'tiny', frameRate: 10, frameQuality: 70, stepTimeLimitMs: 100 });
  const server = await startTestServer({ idlePauseMs: 60_000 }, { engineHost });
  try {
    await engineHost.ready;
    const { session, editorToken } = await server.sessions.create();
    // A 160 px cpu step of the tiny network takes well over 100 ms.
    session.doc.getMap('params').set('resolution', 160);
    const c = await connectClient({ url: server.url, session: session.id, token: editorToken });
    await waitFor(() => c.statuses.some((s) => s.state === 'error'), 120_000, 'the error state');
    const st = c.statuses.find((s) => s.state === 'error')!;
    assert.match(st.message ?? '', /ENGINE_STEP_TIME_LIMIT_MS/);
    assert.equal(c.frames.length, 0, 'no step finished');
    c.close();
  } finally {
    await server.close();
  }
});
