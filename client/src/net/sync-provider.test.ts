import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { SyncProvider } from './sync-provider.ts';

/**
 * A minimal y-protocols relay standing in for the Atelier server: it holds the doc, greets each
 * client with step 1, answers step 1 with step 2, and broadcasts updates to the other clients.
 * Viewer writes (update / step 2) are counted and dropped, as the real server does.
 */
class Relay {
  doc = new Y.Doc();
  awareness = new awarenessProtocol.Awareness(this.doc);
  clients = new Map<Client, { readOnly: boolean }>();
  droppedViewerWrites = 0;
  constructor() {
    this.awareness.setLocalState(null);
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, update);
      const msg = encoding.toUint8Array(enc);
      for (const c of this.clients.keys()) if (c !== origin) c.provider.handleSyncMessage(msg);
    });
  }
  connect(c: Client, readOnly = false) {
    this.clients.set(c, { readOnly });
    c.provider.handleConnect();
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, this.doc);
    c.provider.handleSyncMessage(encoding.toUint8Array(enc));
    const states = [...this.awareness.getStates().keys()];
    if (states.length) c.provider.handleAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(this.awareness, states));
  }
  disconnect(c: Client) {
    this.clients.delete(c);
    c.provider.handleDisconnect();
  }
  fromClient(c: Client, msg: Uint8Array) {
    const info = this.clients.get(c);
    if (!info) throw new Error('message from a disconnected client');
    const type = decoding.peekVarUint(decoding.createDecoder(msg));
    if (info.readOnly && type !== syncProtocol.messageYjsSyncStep1) {
      this.droppedViewerWrites++;
      return;
    }
    const enc = encoding.createEncoder();
    syncProtocol.readSyncMessage(decoding.createDecoder(msg), enc, this.doc, c);
    if (encoding.length(enc) > 0) c.provider.handleSyncMessage(encoding.toUint8Array(enc));
  }
  awarenessFromClient(c: Client, msg: Uint8Array) {
    awarenessProtocol.applyAwarenessUpdate(this.awareness, msg, c);
    for (const other of this.clients.keys()) if (other !== c) other.provider.handleAwarenessMessage(msg);
  }
}

class Client {
  doc = new Y.Doc();
  awareness = new awarenessProtocol.Awareness(this.doc);
  provider: SyncProvider;
  sent: Uint8Array[] = [];
  constructor(relay: Relay, readOnly = false) {
    this.provider = new SyncProvider(
      this.doc,
      this.awareness,
      {
        sendSync: (m) => {
          this.sent.push(m);
          relay.fromClient(this, m);
        },
        sendAwareness: (m) => relay.awarenessFromClient(this, m),
      },
      { readOnly },
    );
  }
  sentTypes(): number[] {
    return this.sent.map((m) => decoding.peekVarUint(decoding.createDecoder(m)));
  }
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});
function setup(n: number, readOnly: boolean[] = []) {
  const relay = new Relay();
  const clients = Array.from({ length: n }, (_, i) => new Client(relay, readOnly[i] ?? false));
  cleanup.push(() => {
    for (const c of clients) {
      c.provider.destroy();
      c.awareness.destroy();
    }
    relay.awareness.destroy();
  });
  return { relay, clients };
}

describe('sync provider', () => {
  test('C20: two editors converge through the server and the server holds the result', () => {
    const { relay, clients: [a, b] } = setup(2);
    relay.connect(a);
    relay.connect(b);
    assert.ok(a.provider.synced && b.provider.synced);
    a.doc.getMap('params').set('styleWeight', 3e4);
    b.doc.getArray('strokes').push([new Y.Map([['id', 's1']])]);
    assert.equal(b.doc.getMap('params').get('styleWeight'), 3e4);
    assert.equal(a.doc.getArray('strokes').length, 1);
    assert.equal(relay.doc.getMap('params').get('styleWeight'), 3e4);
  });

  test('C21: remote updates are applied with the provider as origin and never sent back', () => {
    const { relay, clients: [a, b] } = setup(2);
    relay.connect(a);
    relay.connect(b);
    const before = b.sent.length;
    a.doc.getMap('params').set('seed', 7);
    a.doc.getMap('params').set('seed', 8);
    assert.equal(b.sent.length, before, 'b echoed a remote update');
  });

  test('C22: every connect sends step 1 and answers the server step 1 with step 2', () => {
    const { relay, clients: [a] } = setup(1);
    relay.connect(a);
    relay.disconnect(a);
    relay.connect(a);
    const types = a.sentTypes();
    assert.equal(types.filter((t) => t === syncProtocol.messageYjsSyncStep1).length, 2);
    assert.equal(types.filter((t) => t === syncProtocol.messageYjsSyncStep2).length, 2);
  });

  test('C23: edits made offline are kept and delivered after reconnect, and missed edits arrive', () => {
    const { relay, clients: [a, b] } = setup(2);
    relay.connect(a);
    relay.connect(b);
    relay.disconnect(a);
    assert.equal(a.provider.connected, false);
    const sentWhileOffline = a.sent.length;
    a.doc.getMap('params').set('tvWeight', 5);
    b.doc.getMap('params').set('contentWeight', 9);
    assert.equal(a.sent.length, sentWhileOffline, 'nothing is sent while offline');
    assert.equal(b.doc.getMap('params').get('tvWeight'), undefined);
    relay.connect(a);
    assert.equal(b.doc.getMap('params').get('tvWeight'), 5);
    assert.equal(a.doc.getMap('params').get('contentWeight'), 9);
    assert.equal(relay.doc.getMap('params').get('tvWeight'), 5);
  });

  test('C24: a read-only provider receives the document but sends no content', () => {
    const { relay, clients: [editor, viewer] } = setup(2, [false, true]);
    editor.doc.getMap('params').set('seed', 42);
    relay.connect(editor);
    relay.connect(viewer);
    assert.equal(viewer.doc.getMap('params').get('seed'), 42);
    viewer.doc.getMap('params').set('seed', 1);
    assert.equal(relay.droppedViewerWrites, 0, 'viewer sent a write');
    assert.deepEqual(
      viewer.sentTypes().filter((t) => t !== syncProtocol.messageYjsSyncStep1),
      [],
    );
    assert.equal(relay.doc.getMap('params').get('seed'), 42);
  });

  test('C24: a provider promoted to editor sends its pending local edits', () => {
    const { relay, clients: [a] } = setup(1, [true]);
    relay.connect(a);
    a.doc.getMap('params').set('seed', 3);
    assert.equal(relay.doc.getMap('params').get('seed'), undefined);
    relay.clients.set(a, { readOnly: false });
    a.provider.setReadOnly(false);
    assert.equal(relay.doc.getMap('params').get('seed'), 3);
  });

  test('C25: presence is shared and forgotten when the connection drops', () => {
    const { relay, clients: [a, b] } = setup(2);
    a.awareness.setLocalState({ user: { name: 'Ana', color: '#ff0000' }, cursor: null });
    relay.connect(a);
    relay.connect(b);
    assert.equal((b.awareness.getStates().get(a.doc.clientID) as { user: { name: string } }).user.name, 'Ana');
    b.awareness.setLocalStateField('cursor', { x: 3, y: 4 });
    assert.deepEqual((a.awareness.getStates().get(b.doc.clientID) as { cursor: unknown }).cursor, { x: 3, y: 4 });
    relay.disconnect(b);
    assert.deepEqual([...b.awareness.getStates().keys()], [b.doc.clientID]);
  });

  test('C26: the synced flag follows the server step 2 and resets on disconnect', () => {
    const { relay, clients: [a] } = setup(1);
    const seen: boolean[] = [];
    a.provider.onSynced((s) => seen.push(s));
    relay.connect(a);
    relay.disconnect(a);
    assert.deepEqual(seen, [true, false]);
  });
});
