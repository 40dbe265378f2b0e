/**
 * Seeded generators for fuzz, crash and load tests: a small PRNG, honest document edits (strokes
 * that look like the client's), and hostile socket payloads (random, mutated, truncated, non-binary,
 * oversize). Seeded so a failure can be replayed exactly from the seed printed in the test name.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { mulberry32 } from '../../shared/random.ts';
import { createStroke } from '../../shared/strokes.ts';

/** Seeded test input (mulberry32), so a failing fuzz run can be repeated. */
export const prng = mulberry32;

/** Integer in [0, n). */
export const randInt = (rnd: () => number, n: number) => Math.floor(rnd() * n);

/** Appends a valid stroke (as the editor client does: shared/strokes.ts, a Y.Map with an append-only `points` Y.Array). */
export function addStroke(doc: Y.Doc, id: string, points: number[], author = 'fuzz'): Y.Array<number> {
  const m = createStroke({ id, author, tool: 'brush', color: '#3366cc', size: 8, opacity: 1, points });
  doc.transact(() => doc.getArray('strokes').push([m]));
  return m.get('points') as Y.Array<number>;
}

/** Ids of the strokes in `doc` (for "every honest stroke is still there" checks). */
export function strokeIds(doc: Y.Doc): Set<string> {
  const out = new Set<string>();
  for (const s of doc.getArray('strokes').toArray()) {
    if (s instanceof Y.Map && typeof s.get('id') === 'string') out.add(s.get('id') as string);
  }
  return out;
}

/** What a client holds that came from `author` (its part of the state vector). */
export function clockOf(doc: Y.Doc, client: number): number {
  return Y.decodeStateVector(Y.encodeStateVector(doc)).get(client) ?? 0;
}

/**
 * Crash-test editing (app/crash.test.ts, cluster/crash.test.ts): every few ms each editor adds a
 * stroke (ids `r<round>-<editor>-<n>`), grows its last one or turns a knob. Returns the stop function.
 */
export function scriptedEditing(editors: { doc: Y.Doc }[], rnd: () => number, round: number, minMs = 2, spreadMs = 5): () => void {
  const timers = editors.map((c, i) => {
    let pts: Y.Array<number> | null = null;
    let n = 0;
    return setInterval(() => {
      const op = randInt(rnd, 3);
      if (op === 0 || !pts) pts = addStroke(c.doc, `r${round}-${i}-${n++}`, [n, n, n + 1, n + 1], `e${i}`);
      else if (op === 1) pts.push([randInt(rnd, 500), randInt(rnd, 500)]);
      else c.doc.getMap('params').set('seed', randInt(rnd, 1000));
    }, minMs + randInt(rnd, spreadMs));
  });
  return () => timers.forEach(clearInterval);
}

/** Everything relayed so far between two editors and a watcher: strokes and per-author clocks. */
export interface Relayed {
  ids: Set<string>;
  clocks: [client: number, clock: number][];
}

/** What {@link scriptedEditing}'s two editors `a`, `b` and `watcher` received from another client. */
export function relayedSoFar(a: { doc: Y.Doc }, b: { doc: Y.Doc }, watcher: { doc: Y.Doc }, round: number): Relayed {
  const ids = new Set([...strokeIds(watcher.doc)]);
  for (const id of strokeIds(a.doc)) if (!id.startsWith(`r${round}-0-`)) ids.add(id);
  for (const id of strokeIds(b.doc)) if (!id.startsWith(`r${round}-1-`)) ids.add(id);
  return {
    ids,
    clocks: [
      [a.doc.clientID, Math.max(clockOf(watcher.doc, a.doc.clientID), clockOf(b.doc, a.doc.clientID))],
      [b.doc.clientID, Math.max(clockOf(watcher.doc, b.doc.clientID), clockOf(a.doc, b.doc.clientID))],
    ],
  };
}

/** The strokes and clocks of `relayed` that `doc` lacks, worded for an assertion (empty = all kept). */
export function missingFrom(doc: Y.Doc, relayed: Relayed): string[] {
  const have = strokeIds(doc);
  const out = [...relayed.ids].filter((id) => !have.has(id)).map((id) => `relayed stroke ${id} is gone`);
  for (const [client, clock] of relayed.clocks) {
    if (clockOf(doc, client) < clock) out.push(`client ${client} had ${clock} relayed, ${clockOf(doc, client)} stored`);
  }
  return out;
}

/** Wraps a Yjs update as a y-protocols sync `update` message. */
export function syncUpdateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
}

/**
 * Valid messages to mutate: sync updates and awareness updates recorded from a private doc
 * (its own client id, so mutations rarely touch other clients' items) doing typical edits,
 * including hostile values (NaN, ±Infinity, negative, huge, wrong types).
 */
export function recordSeedMessages(seed: number): { sync: Uint8Array[]; awareness: Uint8Array[] } {
  const doc = new Y.Doc();
  const sync: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => sync.push(syncUpdateMessage(u)));
  const params = doc.getMap('params');
  const hostile: unknown[] = [NaN, Infinity, -Infinity, -1, 1e308, -0, 'x'.repeat(100), null, [1, 2, 3], { a: 1 }, true];
  for (const v of hostile) params.set('styleWeight', v);
  params.set('resolution', 1e9);
  params.set('learningRate', -5);
  params.set('nope', 1);
  const pts = addStroke(doc, `seed-${seed}`, [1, 2, 3, 4]);
  for (let i = 0; i < 5; i++) pts.push([10 + i, 20 + i]);
  pts.push([NaN, Infinity]);
  doc.getMap('content').set('width', Infinity);
  doc.getArray('styles').push([{ imageId: 'f'.repeat(64), weight: -1, scale: 1e9 }]);
  doc.getArray('strokes').push([{ id: 'plain', author: 'x', tool: 'laser', color: 'red', size: NaN, opacity: 2, points: [1] }]);
  doc.getArray('strokes').delete(0, 1);
  const awareness = new awarenessProtocol.Awareness(doc);
  const aw: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    awareness.setLocalState({ user: { name: `fuzzer${i}`, color: '#ff0000' }, cursor: { x: i, y: i } });
    aw.push(awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]));
  }
  awareness.destroy();
  doc.destroy();
  return { sync, awareness: aw };
}

/** Returns a copy of `bytes` with a few random byte flips, insertions, deletions or a truncation. */
export function mutate(rnd: () => number, bytes: Uint8Array): Uint8Array {
  let out = Array.from(bytes);
  const n = 1 + randInt(rnd, 4);
  for (let i = 0; i < n; i++) {
    const at = randInt(rnd, Math.max(1, out.length));
    switch (randInt(rnd, 5)) {
      case 0:
        out[at] = randInt(rnd, 256);
        break;
      case 1:
        out.splice(at, 0, randInt(rnd, 256));
        break;
      case 2:
        out.splice(at, 1);
        break;
      case 3:
        out = out.slice(0, at);
        break;
      default:
        out[at] = 0xff; // long varint continuation
    }
  }
  return Uint8Array.from(out);
}

export function randomBytes(rnd: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = randInt(rnd, 256);
  return b;
}

/** Payloads that are not binary at all. */
export function nonBinaryPayload(rnd: () => number): unknown {
  const options: (() => unknown)[] = [
    () => 'hello',
    () => randInt(rnd, 1e9),
    () => ({ type: 'update', data: [1, 2, 3] }),
    () => null,
    () => true,
    () => Array.from({ length: 10_000 }, (_, i) => i),
    () => [new Uint8Array([0, 0])],
    () => ({ nested: { buf: new Uint8Array([1, 2, 3]) } }),
    () => NaN,
    () => '\u0000'.repeat(100),
  ];
  return options[randInt(rnd, options.length)]();
}
