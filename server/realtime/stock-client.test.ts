/**
 * A client built only from socket.io-client + yjs + y-protocols + lib0 — no project imports on
 * the client side — joins, co-edits with a project client and receives frames. This is the
 * public contract external tools rely on. (The server side uses the project's test helpers.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { connectClient, startTestServer, waitFor } from '../testing/index.ts';

/** The whole stock client: ~30 lines any integrator can copy. */
function stockClient(url: string, session: string, token: string) {
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  const socket = io(url, { path: '/socket.io', auth: { session, token, name: 'stock' }, transports: ['websocket'], reconnection: false, forceNew: true });
  const frames: { iter: number; mime: string; data: Uint8Array }[] = [];
  const errors: { code: string }[] = [];
  let synced = false;
  socket.on('connect', () => {
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, doc);
    socket.emit('y:sync', encoding.toUint8Array(enc));
  });
  socket.on('y:sync', (msg: ArrayBuffer | Uint8Array) => {
    const enc = encoding.createEncoder();
    const type = syncProtocol.readSyncMessage(decoding.createDecoder(new Uint8Array(msg)), enc, doc, socket);
    if (encoding.length(enc) > 0) socket.emit('y:sync', encoding.toUint8Array(enc));
    if (type === syncProtocol.messageYjsSyncStep2) synced = true;
  });
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === socket) return;
    const enc = encoding.createEncoder();
    syncProtocol.writeUpdate(enc, update);
    socket.emit('y:sync', encoding.toUint8Array(enc));
  });
  socket.on('y:awareness', (msg: ArrayBuffer | Uint8Array) => awarenessProtocol.applyAwarenessUpdate(awareness, new Uint8Array(msg), socket));
  socket.on('frame', (frame: { iter: number; mime: string; data: Uint8Array }, ack: () => void) => {
    frames.push(frame);
    ack();
  });
  socket.on('error', (e: { code: string }) => errors.push(e));
  return {
    doc,
    frames,
    errors,
    isSynced: () => synced,
    close: () => {
      socket.disconnect();
      awareness.destroy();
    },
  };
}

test('S5: a stock yjs + y-protocols + socket.io client co-edits and receives frames', async () => {
  const server = await startTestServer({ idlePauseMs: 300 });
  try {
    const res = await fetch(server.url + '/api/sessions', { method: 'POST' });
    const s = (await res.json()) as { id: string; editorToken: string };
    const stock = stockClient(server.url, s.id, s.editorToken);
    const project = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
    await waitFor(() => stock.isSynced(), 5000, 'stock sync');
    assert.equal(stock.doc.getMap('params').get('running'), true);
    stock.doc.getMap('params').set('styleWeight', 12);
    project.doc.getMap('params').set('contentWeight', 3);
    await waitFor(() => project.doc.getMap('params').get('styleWeight') === 12 && stock.doc.getMap('params').get('contentWeight') === 3);
    await waitFor(() => stock.frames.length >= 2, 5000, 'frames for the stock client');
    assert.equal(stock.frames[0].mime, 'image/jpeg');
    assert.ok(stock.frames[0].data.byteLength > 0);
    assert.deepEqual(stock.errors, []);
    stock.close();
    project.close();
  } finally {
    await server.close();
  }
});
