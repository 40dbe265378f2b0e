import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { io as ioClient } from 'socket.io-client';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { ErrorCode, PROTOCOL_VERSION } from '../../shared/protocol.ts';
import { connectClient, createSession, docJson, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import { viewerTokenFor } from '../session/session-manager.ts';
import { isDeepStrictEqual } from 'node:util';

describe('realtime sync', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const connect = async (o: Parameters<typeof connectClient>[0]) => {
    const c = await connectClient(o);
    clients.push(c);
    return c;
  };
  before(async () => {
    server = await startTestServer({ idlePauseMs: 300 });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await server.close();
  });

  test('S5: a new editor receives the seeded document and two editors converge', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken, name: 'a' });
    const b = await connect({ url: server.url, session: s.id, token: s.editorToken, name: 'b' });
    assert.equal(a.doc.getMap('params').get('styleWeight'), 1);
    assert.equal(a.doc.getArray('styles').length, 1);
    a.doc.getMap('params').set('styleWeight', 5);
    b.doc.getMap('params').set('tvWeight', 3);
    await waitFor(() => b.doc.getMap('params').get('styleWeight') === 5 && a.doc.getMap('params').get('tvWeight') === 3);
    assert.deepEqual(docJson(a.doc), docJson(b.doc));
    assert.deepEqual(a.errors, []);
  });

  test('S5: an update is not echoed back to its sender', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    const b = await connect({ url: server.url, session: s.id, token: s.editorToken });
    let received = 0;
    a.socket.on('y:sync', () => received++);
    a.doc.getMap('params').set('seed', 7);
    await waitFor(() => b.doc.getMap('params').get('seed') === 7);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(received, 0);
  });

  test('S5: seeded random concurrent edits by three clients converge', async () => {
    const s = await createSession(server.url);
    const cs = await Promise.all([0, 1, 2].map((i) => connect({ url: server.url, session: s.id, token: s.editorToken, name: `fuzz${i}` })));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 40; round++) {
      const c = cs[Math.floor(rnd() * cs.length)];
      const op = Math.floor(rnd() * 4);
      if (op === 0) c.doc.getMap('params').set('styleWeight', Math.round(rnd() * 100));
      else if (op === 1) {
        const m = new Y.Map<unknown>();
        c.doc.transact(() => {
          m.set('id', `s${round}`);
          m.set('author', 'fuzz');
          m.set('tool', 'brush');
          m.set('color', '#ff0000');
          m.set('size', 4);
          m.set('opacity', 1);
          m.set('points', [rnd() * 400, rnd() * 300, rnd() * 400, rnd() * 300]);
          c.doc.getArray('strokes').insert(Math.floor(rnd() * (c.doc.getArray('strokes').length + 1)), [m]);
        });
      } else if (op === 2 && c.doc.getArray('strokes').length) c.doc.getArray('strokes').delete(0, 1);
      else c.doc.getMap('content').set('background', rnd() < 0.5 ? '#000000' : '#ffffff');
      if (rnd() < 0.3) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => {
      const j = docJson(cs[0].doc);
      return cs.every((c) => isDeepStrictEqual(docJson(c.doc), j));
    }, 5000, 'convergence');
    // The server's copy is the same too.
    const live = server.sessions.loadedSession(s.id)!;
    assert.deepEqual(docJson(live.doc), docJson(cs[0].doc));
  });

  test('S3: the viewer token is derived from the editor token; every editor gets it in status, viewers do not', async () => {
    const s = await createSession(server.url);
    assert.equal(s.viewerToken, viewerTokenFor(s.editorToken));
    assert.notEqual(s.viewerToken, s.editorToken);
    const ed = await connect({ url: server.url, session: s.id, token: s.editorToken, name: 'co-editor' });
    const viewer = await connect({ url: server.url, session: s.id, token: s.viewerToken, name: 'v' });
    assert.equal(ed.statuses[0]?.viewerToken, s.viewerToken);
    assert.equal(viewer.statuses[0]?.role, 'viewer');
    assert.equal(viewer.statuses[0]?.viewerToken, undefined, 'a viewer is not told any token');
    // Status broadcasts (engine state changes) carry it too.
    ed.doc.getMap('params').set('running', false);
    await waitFor(() => ed.statuses.at(-1)?.state === 'paused');
    assert.equal(ed.statuses.at(-1)?.viewerToken, s.viewerToken);
    assert.equal(viewer.statuses.at(-1)?.viewerToken, undefined);
  });

  test('S7: a viewer receives the document and frames but its writes are dropped with READ_ONLY', async () => {
    const s = await createSession(server.url);
    const ed = await connect({ url: server.url, session: s.id, token: s.editorToken });
    const viewer = await connect({ url: server.url, session: s.id, token: s.viewerToken, name: 'v' });
    assert.equal(viewer.statuses[0]?.role, 'viewer');
    viewer.doc.getMap('params').set('styleWeight', 99);
    await waitFor(() => viewer.errors.length > 0);
    assert.equal(viewer.errors[0].code, ErrorCode.ReadOnly);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ed.doc.getMap('params').get('styleWeight'), 1);
    assert.equal(server.sessions.loadedSession(s.id)!.doc.getMap('params').get('styleWeight'), 1);
    await waitFor(() => viewer.frames.length > 0, 5000, 'a frame for the viewer');
    ed.doc.getMap('params').set('tvWeight', 2);
    await waitFor(() => viewer.doc.getMap('params').get('tvWeight') === 2);
  });

  test('S7: an empty step2 from a viewer (nothing to write) is ignored without an error', async () => {
    const s = await createSession(server.url);
    const viewer = await connect({ url: server.url, session: s.id, token: s.viewerToken });
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep2(enc, viewer.doc, Y.encodeStateVector(viewer.doc));
    viewer.socket.emit('y:sync', encoding.toUint8Array(enc));
    // An awareness update from a viewer is fine too; send a real write afterwards as a marker.
    viewer.doc.getMap('params').set('seed', 3);
    await waitFor(() => viewer.errors.length > 0);
    assert.deepEqual(viewer.errors.map((e) => e.code), [ErrorCode.ReadOnly]);
  });

  test('S8: an invalid param is reported to its writer only and the engine keeps the last valid value', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    const b = await connect({ url: server.url, session: s.id, token: s.editorToken });
    a.doc.getMap('params').set('styleWeight', 10);
    await waitFor(() => server.sessions.loadedSession(s.id)!.validator.state().params.styleWeight === 10);
    a.doc.getMap('params').set('styleWeight', Number.NaN);
    await waitFor(() => a.errors.length > 0);
    assert.equal(a.errors[0].code, ErrorCode.InvalidValue);
    assert.equal(a.errors[0].path, 'params.styleWeight');
    assert.match(a.errors[0].message, /NaN|finite|number/i);
    a.doc.getMap('params').set('resolution', 5000);
    await waitFor(() => a.errors.some((e) => e.path === 'params.resolution'));
    assert.equal(server.sessions.loadedSession(s.id)!.validator.state().params.styleWeight, 10);
    assert.equal(server.sessions.loadedSession(s.id)!.validator.state().params.resolution, 256);
    assert.deepEqual(b.errors, []);
  });

  test('S8: a style naming an image that is not stored is rejected with its path', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    const m = new Y.Map<unknown>();
    m.set('imageId', 'a'.repeat(64));
    m.set('weight', 1);
    m.set('scale', 1);
    a.doc.getArray('styles').push([m]);
    await waitFor(() => a.errors.length > 0);
    assert.equal(a.errors[0].path, 'styles[1].imageId');
    assert.equal(server.sessions.loadedSession(s.id)!.validator.state().styles.length, 1);
  });

  test('S4: a wrong token or unknown session is refused at connect with a clear message', async () => {
    const s = await createSession(server.url);
    await assert.rejects(connectClient({ url: server.url, session: s.id, token: 'nope' }), /token is not valid/);
    await assert.rejects(connectClient({ url: server.url, session: 'nosuchsession', token: s.editorToken }), /unknown session/);
    await assert.rejects(connectClient({ url: server.url, session: '', token: 'x' }), /bad handshake/);
  });

  test('S9: awareness states are relayed and removed when their client leaves', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    const b = await connect({ url: server.url, session: s.id, token: s.viewerToken });
    a.awareness.setLocalState({ user: { name: 'ann', color: '#ff0000' }, cursor: { x: 1, y: 2 } });
    await waitFor(() => (b.awareness.getStates().get(a.doc.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'ann');
    a.socket.disconnect();
    await waitFor(() => !b.awareness.getStates().has(a.doc.clientID), 5000, 'awareness removal');
  });

  test('S10: a client that never acknowledges frames does not slow a fast client', async () => {
    const s = await createSession(server.url);
    const slow = await connect({ url: server.url, session: s.id, token: s.viewerToken, ackFrames: false });
    const fast = await connect({ url: server.url, session: s.id, token: s.viewerToken });
    await waitFor(() => fast.frames.length >= 12, 8000, 'frames for the fast client');
    assert.ok(slow.frames.length <= 2, `slow client got ${slow.frames.length} frames`);
    const fr = fast.frames[fast.frames.length - 1];
    assert.equal(fr.mime, 'image/jpeg');
    assert.equal(fr.backend, 'fake');
    assert.ok(fr.data.byteLength > 100);
    assert.ok(fast.frames.every((f, i) => i === 0 || f.iter >= fast.frames[i - 1].iter));
  });

  test('S11: status is sent on connect and when params.running changes', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    assert.equal(a.statuses[0].session, s.id);
    assert.equal(a.statuses[0].role, 'editor');
    await waitFor(() => a.statuses.some((st) => st.state === 'running'));
    a.doc.getMap('params').set('running', false);
    await waitFor(() => a.statuses.at(-1)?.state === 'paused');
    const n = a.frames.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(a.frames.length <= n + 1, 'frames stop while paused');
    a.doc.getMap('params').set('running', true);
    await waitFor(() => a.statuses.at(-1)?.state === 'running');
  });

  test('S7: a socket with a raw non-binary y:sync payload gets BAD_MESSAGE', async () => {
    const s = await createSession(server.url);
    const a = await connect({ url: server.url, session: s.id, token: s.editorToken });
    (a.socket as unknown as { emit(e: string, v: unknown): void }).emit('y:sync', 'hello');
    (a.socket as unknown as { emit(e: string, v: unknown): void }).emit('y:sync', new Uint8Array([9, 9]));
    await waitFor(() => a.errors.length >= 2);
    assert.ok(a.errors.every((e) => e.code === ErrorCode.BadMessage));
  });

  test('S32: a client that names another protocol version is refused at the handshake with both versions; the current one and a stock client (no version) are served', async () => {
    const s = await createSession(server.url);
    const attempt = (protocol?: number) =>
      new Promise<{ ok: true } | { ok: false; err: Error & { data?: { code: string; message: string } } }>((resolve) => {
        const sock = ioClient(server.url, { auth: { session: s.id, token: s.viewerToken, ...(protocol !== undefined ? { protocol } : {}) }, transports: ['websocket'], reconnection: false, forceNew: true });
        sock.on('connect', () => (sock.close(), resolve({ ok: true })));
        sock.on('connect_error', (err) => (sock.close(), resolve({ ok: false, err })));
      });
    const old = await attempt(PROTOCOL_VERSION - 1);
    assert.equal(old.ok, false);
    if (!old.ok) {
      assert.equal(old.err.data?.code, ErrorCode.IncompatibleClient);
      assert.match(old.err.message, new RegExp(`protocol ${PROTOCOL_VERSION - 1} .*protocol ${PROTOCOL_VERSION}.*reload`));
    }
    const future = await attempt(PROTOCOL_VERSION + 1);
    assert.equal(future.ok ? null : future.err.data?.code, ErrorCode.IncompatibleClient);
    assert.equal((await attempt(PROTOCOL_VERSION)).ok, true);
    assert.equal((await attempt()).ok, true, 'a client that does not say is served (the stock-client contract)');
  });

  test('S4: connect_error carries the error code in data', async () => {
    const s = await createSession(server.url);
    const sock = ioClient(server.url, { auth: { session: s.id, token: 'bad' }, transports: ['websocket'], reconnection: false, forceNew: true });
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) => sock.on('connect_error', resolve));
    sock.close();
    assert.equal(err.data?.code, ErrorCode.Unauthorized);
  });
});
