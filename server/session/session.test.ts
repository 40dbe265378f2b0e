import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { ErrorCode } from '../../shared/protocol.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import { RecordingEngineHost } from '../testing/recording-engine-host.ts';

describe('session engine feed', () => {
  let server: TestServer | null = null;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    server = null;
  });

  test('S8/S12: only valid values reach the engine, and a change reaches it warm (no reopen)', async () => {
    const host = new RecordingEngineHost();
    server = await startTestServer({ idlePauseMs: 5000 }, { engineHost: host });
    const s = await createSession(server.url);
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
    clients.push(c);
    await waitFor(() => host.opens.length === 1);
    c.doc.getMap('params').set('styleWeight', 4);
    await waitFor(() => host.updates.some((u) => u.params?.styleWeight === 4));
    c.doc.getMap('params').set('styleWeight', -1);
    c.doc.getMap('params').set('learningRate', 'fast');
    await waitFor(() => c.errors.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(host.updates.every((u) => !u.params || (u.params.styleWeight >= 0 && typeof u.params.learningRate === 'number')));
    assert.equal(host.opens.length, 1, 'warm: the engine was not reopened');
  });

  test('S20, S25: a drawn stroke is rasterized into the content the engine gets, at the working size', async () => {
    const host = new RecordingEngineHost();
    server = await startTestServer({ idlePauseMs: 5000 }, { engineHost: host });
    const s = await createSession(server.url);
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
    clients.push(c);
    c.doc.transact(() => {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({ id: 'z', author: 'me', tool: 'brush', color: '#00ff00', size: 20, opacity: 1, points: [100, 100, 200, 100] })) m.set(k, v);
      c.doc.getArray('strokes').push([m]);
    });
    // The canvas reaches the engine as an update, or as the open inputs if the engine opened later.
    // The chelsea canvas (451x300) is composed at resolution 256's working size: 256x170, scale 256/451.
    const k = 256 / 451;
    const green = (img: { width: number; data: Uint8Array } | undefined) => {
      if (!img) return false;
      const i = (Math.round(100 * k) * img.width + Math.round(150 * k)) * 3;
      return img.data[i] === 0 && img.data[i + 1] === 255 && img.data[i + 2] === 0;
    };
    await waitFor(() => host.updates.some((u) => green(u.content)) || host.opens.some((o) => green(o.inputs.content)), 10_000, 'the stroke in the engine content');
    const img = [...host.updates.map((u) => u.content), ...host.opens.map((o) => o.inputs.content)].find(green)!;
    assert.deepEqual([img.width, img.height], [256, 170]);
  });

  test('S12: with nobody watching the session idles after the grace period and resumes from its keyframe on join', async () => {
    const host = new RecordingEngineHost();
    server = await startTestServer({ idlePauseMs: 200, keyframeIntervalMs: 100 }, { engineHost: host });
    const s = await createSession(server.url);
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
    await waitFor(() => c.frames.length >= 3, 5000, 'frames');
    c.close();
    await waitFor(() => !server!.sessions.loaded().some((x) => x.id === s.id), 5000, 'the session to unload');
    const kf = await server.storage.latestKeyframe(s.id);
    assert.ok(kf && kf.iter > 0);
    const again = await connectClient({ url: server.url, session: s.id, token: s.viewerToken });
    clients.push(again);
    // A slow machine may open more than once (e.g. a reconnect); every reopen must resume the keyframe.
    await waitFor(() => host.opens.length >= 2, 10_000, 'a reopen');
    for (const open of host.opens.slice(1)) {
      assert.ok(open.options.initImage, 'reopened from the keyframe image');
      assert.ok(open.options.iterOffset! >= kf.iter, `resumes at or after the keyframe's iteration ${kf.iter}`);
    }
    await waitFor(() => again.frames.some((f) => f.iter > kf.iter), 10_000, 'frames after the keyframe');
  });

  test('S4/S2: client and session limits are enforced with clear errors', async () => {
    server = await startTestServer({ maxClientsPerSession: 1, maxSessions: 1, idlePauseMs: 5000 });
    const s = await createSession(server.url);
    clients.push(await connectClient({ url: server.url, session: s.id, token: s.editorToken }));
    await assert.rejects(connectClient({ url: server.url, session: s.id, token: s.viewerToken }), /maximum of 1 clients/);
    const res = await fetch(server.url + '/api/sessions', { method: 'POST' });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, ErrorCode.TooManySessions);
  });
});
