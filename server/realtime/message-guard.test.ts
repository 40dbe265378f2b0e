import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import { ErrorCode } from '../../shared/protocol.ts';
import { MAX_AWARENESS_ENTRIES, SocketGuard, checkUpdate, inspectAwarenessUpdate, parseSyncMessage, type SocketLimits } from './message-guard.ts';
import { syncUpdateMessage } from '../testing/fuzz-kit.ts';

const limits: SocketLimits = { msgRate: 10, msgBurst: 5, byteRate: 1000, byteBurst: 2000, maxMessageBytes: 1500, maxBadMessages: 3, strikeForgiveSec: 5 };

describe('socket message guard', () => {
  test('R1: non-binary, empty and oversize messages are refused with a clear code', () => {
    const g = new SocketGuard({ ...limits, maxBadMessages: 0 });
    const cases: [unknown, string][] = [
      ['text', ErrorCode.BadMessage],
      [42, ErrorCode.BadMessage],
      [null, ErrorCode.BadMessage],
      [{ a: 1 }, ErrorCode.BadMessage],
      [new Uint8Array(0), ErrorCode.BadMessage],
      [new Uint8Array(1501), ErrorCode.PayloadTooLarge],
    ];
    for (const [raw, code] of cases) {
      const a = g.admit('y:sync', raw);
      assert.equal(a.ok, false);
      if (!a.ok) assert.equal(a.error?.code, code, String(raw));
    }
    assert.equal(g.admit('y:sync', new Uint8Array([2, 0])).ok, true);
  });

  test('R1: a socket is told to go after maxBadMessages strikes, and strikes are forgiven over time', () => {
    let now = 0;
    const g = new SocketGuard(limits, () => now);
    const bad = () => g.admit('y:sync', 'garbage');
    assert.deepEqual([bad(), bad(), bad()].map((a) => !a.ok && a.disconnect), [false, false, false]);
    now += 5000; // one strike forgiven
    assert.equal(!bad().ok && (bad() as { disconnect: boolean }).disconnect, true);
  });

  test('R2: over the message rate messages are dropped with one RATE_LIMITED notice per second', () => {
    let now = 0;
    const g = new SocketGuard({ ...limits, maxBadMessages: 0 }, () => now);
    const msg = new Uint8Array([2, 0]);
    const results = Array.from({ length: 8 }, () => g.admit('y:sync', msg));
    assert.equal(results.filter((r) => r.ok).length, 5);
    const notices = results.filter((r) => !r.ok && r.error?.code === ErrorCode.RateLimited);
    assert.equal(notices.length, 1);
    assert.ok(results.every((r) => r.ok || r.rateLimited));
    now += 1000;
    assert.equal(g.admit('y:sync', msg).ok, true, 'refilled');
    assert.equal(g.rateLimited, 3);
  });

  test('R2: the byte rate is enforced separately from the message rate', () => {
    const now = 0;
    const g = new SocketGuard({ ...limits, msgBurst: 100, maxBadMessages: 0 }, () => now);
    const big = new Uint8Array(1400);
    assert.equal(g.admit('y:sync', big).ok, true);
    const second = g.admit('y:sync', big);
    assert.equal(second.ok, false);
    if (!second.ok) assert.match(second.error?.message ?? '', /bytes\/s/);
  });

  test('R1: sync messages must be exactly a known type and one length-prefixed payload', () => {
    assert.deepEqual(parseSyncMessage(new Uint8Array([2, 2, 0, 0])), { type: 2, payload: new Uint8Array([0, 0]) });
    assert.match(String(parseSyncMessage(new Uint8Array([3, 0]))), /unknown sync message type 3/);
    assert.match(String(parseSyncMessage(new Uint8Array([2, 5, 0]))), /does not match/);
    assert.match(String(parseSyncMessage(new Uint8Array([2, 1, 0, 9]))), /does not match/);
    assert.match(String(parseSyncMessage(new Uint8Array([0xff, 0xff]))), /unreadable/);
  });

  test('R1: updates that cannot integrate completely are refused before they touch the document', () => {
    const server = new Y.Doc();
    const writer = new Y.Doc();
    const updates: Uint8Array[] = [];
    writer.on('update', (u: Uint8Array) => updates.push(u));
    writer.getMap('params').set('seed', 1);
    writer.getMap('params').set('seed', 2);
    assert.equal(checkUpdate(updates[0], server).error, null);
    assert.match(String(checkUpdate(updates[1], server).error), /starts at clock|does not have/, 'a gap: the first update is missing');
    Y.applyUpdate(server, updates[0]);
    assert.equal(checkUpdate(updates[1], server).error, null);
    assert.match(String(checkUpdate(new Uint8Array([1, 9, 9]), server).error), /undecodable/);
    assert.deepEqual(checkUpdate(new Uint8Array([0, 0]), server), { error: null, empty: true });
    const withSubdoc = new Y.Doc();
    const sub: Uint8Array[] = [];
    withSubdoc.on('update', (u: Uint8Array) => sub.push(u));
    withSubdoc.getMap('x').set('doc', new Y.Doc());
    assert.match(String(checkUpdate(sub[0], new Y.Doc()).error), /subdocuments/);
    const deleter = new Y.Doc();
    const del: Uint8Array[] = [];
    Y.applyUpdate(deleter, Y.encodeStateAsUpdate(writer));
    deleter.on('update', (u: Uint8Array) => del.push(u));
    deleter.getMap('params').delete('seed');
    assert.match(String(checkUpdate(del[0], new Y.Doc()).error), /deletes items|does not have/);
    assert.ok(syncUpdateMessage(updates[0]).length > updates[0].length);
  });

  test('R1: the document\'s clocks are read per client the update names, also among many writers', () => {
    // checkUpdate reads the clock of each client an update names (Y.getState), not the whole state vector.
    const server = new Y.Doc();
    const writers = Array.from({ length: 200 }, () => new Y.Doc());
    const pending: Uint8Array[][] = writers.map(() => []);
    writers.forEach((w, k) => w.on('update', (u: Uint8Array) => pending[k].push(u)));
    writers.forEach((w, k) => w.getArray('strokes').push([k]));
    for (const [k, u] of pending.entries()) {
      assert.equal(checkUpdate(u[0], server).error, null, `writer ${k}'s first update`);
      Y.applyUpdate(server, u[0]);
    }
    // Each writer appends twice; the second append alone has a gap until the first is applied.
    for (const [k, w] of writers.entries()) {
      Y.applyUpdate(w, Y.encodeStateAsUpdate(server));
      pending[k] = [];
      w.getArray('strokes').push([k, 1]);
      w.getArray('strokes').push([k, 2]);
    }
    for (const [k, u] of pending.entries()) {
      assert.match(String(checkUpdate(u[1], server).error), /starts at clock/, `writer ${k}: a gap`);
      assert.equal(checkUpdate(u[0], server).error, null, `writer ${k}: in order`);
      Y.applyUpdate(server, u[0]);
      assert.equal(checkUpdate(u[1], server).error, null, `writer ${k}: now in order`);
      Y.applyUpdate(server, u[1]);
    }
    // Deleting what another writer wrote is fine once the server has it, refused on a doc without it.
    const del: Uint8Array[] = [];
    writers[0].on('update', (u: Uint8Array) => del.push(u));
    Y.applyUpdate(writers[0], Y.encodeStateAsUpdate(server));
    del.length = 0;
    writers[0].getArray('strokes').delete(5, 10);
    assert.equal(checkUpdate(del[0], server).error, null);
    assert.match(String(checkUpdate(del[0], new Y.Doc()).error), /deletes items|does not have/);
    assert.equal(server.getArray('strokes').length, 200 * 5, 'every append arrived once');
  });

  test('R1, S9: awareness updates are checked for shape, entry count, state size and the presence schema', (t) => {
    const doc = new Y.Doc();
    const aw = new awarenessProtocol.Awareness(doc);
    t.after(() => aw.destroy());
    aw.setLocalState({ user: { name: 'a', color: '#ff0000' }, cursor: { x: 1, y: 2 } });
    const ok = awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]);
    assert.deepEqual(inspectAwarenessUpdate(ok), [doc.clientID]);
    aw.setLocalState({ user: { name: 'a' } });
    assert.match(String(inspectAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]))), /presence schema: user.color/);
    aw.setLocalState({ user: { name: 'a', color: '#ff0000' }, extra: 'x'.repeat(100) });
    assert.match(String(inspectAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]))), /presence schema/);
    aw.setLocalState({ user: { name: 'x'.repeat(2000), color: '#ff0000' } });
    assert.match(String(inspectAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]))), /characters \(at most 1024\)/);
    aw.setLocalState(null);
    assert.deepEqual(inspectAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID])), [doc.clientID], 'a removal (null state) is fine');
    assert.match(String(inspectAwarenessUpdate(ok.subarray(0, ok.length - 2))), /unreadable/);
    const many = encoding.createEncoder();
    encoding.writeVarUint(many, MAX_AWARENESS_ENTRIES + 1);
    assert.match(String(inspectAwarenessUpdate(encoding.toUint8Array(many))), /entries/);
    const notJson = encoding.createEncoder();
    encoding.writeVarUint(notJson, 1);
    encoding.writeVarUint(notJson, 7);
    encoding.writeVarUint(notJson, 1);
    encoding.writeVarString(notJson, '{nope');
    assert.match(String(inspectAwarenessUpdate(encoding.toUint8Array(notJson))), /unreadable/);
    aw.destroy();
  });
});
