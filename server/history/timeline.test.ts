import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { DEFAULT_PARAMS, type SessionState } from '../../shared/schema.ts';
import { DocValidator, seedDocument } from '../session/doc-state.ts';
import type { StoredUpdate } from '../storage/types.ts';
import { CHECKPOINT_EVERY, SessionTimeline, canonicalJson } from './timeline.ts';
import { mulberry32 } from '../../shared/random.ts';
import { appendRegionStrokePoints, createRegionStroke } from '../../shared/region-strokes.ts';

const IMG_A = 'a'.repeat(64);
const IMG_B = 'b'.repeat(64);
const MISSING = 'c'.repeat(64);
const exists = (id: string) => id === IMG_A || id === IMG_B;

/** Deterministic PRNG so a failing fuzz run can be repeated. */
const rng = mulberry32;

/**
 * Records a session the way the server stores it: two clients edit their own replicas, each
 * local transaction becomes one stored update (author, fake clock time), and the other replica
 * receives it. Includes invalid values (the last-valid rule must be replayed exactly).
 */
function recordSession(seed: number, edits: number): StoredUpdate[] {
  const rand = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const stored: StoredUpdate[] = [];
  let clock = 1_000_000;
  let seq = 0;
  const docs = [new Y.Doc(), new Y.Doc()];
  const names = ['ana#s1', 'bo#s2'];
  docs.forEach((d, i) =>
    d.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin === 'remote') return;
      stored.push({ sessionId: 'fuzz', seq: ++seq, update: u, author: origin === 'server' ? 'server' : names[i], time: clock });
      Y.applyUpdate(docs[1 - i], u, 'remote');
    }),
  );
  seedDocument(docs[0], { params: DEFAULT_PARAMS, styles: [{ imageId: IMG_A, weight: 1, scale: 1 }], content: { imageId: IMG_A, background: '#ffffff', width: 64, height: 48 } });
  for (let n = 0; n < edits; n++) {
    // Time gaps: most edits are close together, some far apart, some at the same millisecond.
    const r = rand();
    clock += r < 0.2 ? 0 : r < 0.9 ? Math.floor(rand() * 50) : Math.floor(rand() * 60_000);
    const who = rand() < 0.5 ? 0 : 1;
    const doc = docs[who];
    const strokes = doc.getArray<Y.Map<unknown>>('strokes');
    const styles = doc.getArray<Y.Map<unknown>>('styles');
    const kind = rand();
    const regions = doc.getArray<Y.Map<unknown>>('regions');
    if (rand() < 0.15) {
      // style brush strokes (S34): added, grown (sometimes with a bad point), given a missing style, removed
      doc.transact(() => {
        const r = rand();
        if (r < 0.5 || !regions.length) {
          const pts = Array.from({ length: 2 + 2 * Math.floor(rand() * 3) }, () => Math.round(rand() * 60));
          regions.push([createRegionStroke({ id: `r${n}`, author: names[who], tool: pick(['brush', 'eraser'] as const), style: pick([IMG_A, IMG_B, MISSING]), size: 8, points: pts })]);
        } else if (r < 0.8) {
          const m = regions.get(Math.floor(rand() * regions.length));
          appendRegionStrokePoints(m, rand() < 0.15 ? [Infinity, 1] : [Math.round(rand() * 60), Math.round(rand() * 60)]);
        } else if (r < 0.9) {
          regions.get(Math.floor(rand() * regions.length)).set('style', MISSING);
        } else {
          regions.delete(Math.floor(rand() * regions.length), 1);
        }
      });
      continue;
    }
    doc.transact(() => {
      if (kind < 0.2) {
        doc.getMap('params').set(pick(['styleWeight', 'contentWeight', 'tvWeight', 'learningRate']), pick([0.5, 2, 10, -1, 1e3]));
      } else if (kind < 0.25) {
        doc.getMap('params').set(pick(['running', 'pooling', 'colors']), pick([true, false, 'max', 'avg', 'luminance', 'nope']));
      } else if (kind < 0.5) {
        const m = new Y.Map<unknown>();
        const pts = Array.from({ length: 2 + 2 * Math.floor(rand() * 4) }, () => Math.round(rand() * 60));
        for (const [k, v] of Object.entries({ id: `s${n}`, author: names[who], tool: pick(['brush', 'eraser']), color: pick(['#ff0000', '#00ff00']), size: 4, opacity: 1, points: pts })) m.set(k, v);
        strokes.push([m]);
      } else if (kind < 0.7 && strokes.length) {
        const s = strokes.get(Math.floor(rand() * strokes.length));
        const pts = (s.get('points') as number[]) ?? [];
        s.set('points', rand() < 0.1 ? [...pts, NaN, 1] : [...pts, Math.round(rand() * 60), Math.round(rand() * 60)]);
      } else if (kind < 0.78 && strokes.length) {
        strokes.delete(Math.floor(rand() * strokes.length), 1);
      } else if (kind < 0.85) {
        const m = new Y.Map<unknown>();
        for (const [k, v] of Object.entries({ imageId: pick([IMG_A, IMG_B, MISSING]), weight: 1, scale: 1 })) m.set(k, v);
        styles.push([m]);
      } else if (kind < 0.9 && styles.length) {
        styles.get(Math.floor(rand() * styles.length)).set(pick(['weight', 'scale']), pick([0.5, 2, 99, -3]));
      } else if (kind < 0.93 && styles.length > 1) {
        styles.delete(0, 1);
      } else if (kind < 0.97) {
        doc.getMap('content').set(pick(['background', 'width']), pick(['#123456', 'blue', 80, 8]));
      } else {
        doc.getMap('content').delete('imageId');
      }
    });
  }
  docs.forEach((d) => d.destroy());
  return stored;
}

/** The reference: a fresh doc with the session layer's validator, updates applied one by one (as Session.load does). */
function referenceState(updates: readonly StoredUpdate[], t: number): SessionState {
  const doc = new Y.Doc();
  // Typed top-level types first, so the validator sees the seed transaction (see doc-replayer.ts).
  doc.getMap('params'), doc.getMap('content'), doc.getArray('styles'), doc.getArray('strokes'), doc.getArray('regions');
  const v = new DocValidator(doc, exists);
  doc.on('afterTransaction', (tr: Y.Transaction) => v.onTransaction(tr));
  for (const u of updates) {
    if (u.time > t) break;
    Y.applyUpdate(doc, u.update, 'storage');
  }
  const s = v.state();
  doc.destroy();
  return s;
}

describe('session timeline', () => {
  test('H2: the state at t equals the state rebuilt by applying the updates up to t (fuzz: 2 clients, gaps, invalid values)', () => {
    for (const seed of [1, 2, 3]) {
      const updates = recordSession(seed, 300);
      assert.ok(updates.length > 3 * CHECKPOINT_EVERY, 'enough updates to cross several checkpoints');
      const timeline = new SessionTimeline('fuzz', exists);
      // Appended in two batches, as an incremental refresh would.
      timeline.append(updates.slice(0, 100));
      timeline.append(updates.slice(100));
      const times = [...new Set(updates.map((u) => u.time))];
      const rand = rng(seed * 7);
      const probes = [updates[0].time - 1, ...times.filter(() => rand() < 0.15), times.at(-1)! + 1, times[Math.floor(times.length / 2)] + 0.5];
      for (const t of probes) {
        const got = timeline.stateAt(t);
        assert.equal(canonicalJson(got.state), canonicalJson(referenceState(updates, t)), `seed ${seed}, t ${t}`);
        assert.equal(got.count, updates.filter((u) => u.time <= t).length);
      }
      // Twice in a row: the cached answer is the same.
      const mid = times[Math.floor(times.length / 3)];
      assert.equal(canonicalJson(timeline.stateAt(mid).state), canonicalJson(timeline.stateAt(mid).state));
      timeline.destroy();
    }
  });

  test('H3: each update is described: params old→new, styles added/changed/removed, strokes added/updated/removed with id and author', () => {
    const doc = new Y.Doc();
    const stored: StoredUpdate[] = [];
    let time = 10;
    doc.on('update', (u: Uint8Array, origin: unknown) => stored.push({ sessionId: 'x', seq: stored.length + 1, update: u, author: String(origin), time: time++ }));
    seedDocument(doc, { params: DEFAULT_PARAMS, styles: [{ imageId: IMG_A, weight: 1, scale: 1 }], content: { background: '#ffffff', width: 32, height: 32 } });
    doc.transact(() => doc.getMap('params').set('styleWeight', 5), 'ana#1');
    const stroke = new Y.Map<unknown>();
    doc.transact(() => {
      for (const [k, v] of Object.entries({ id: 'k1', author: 'ana', tool: 'brush', color: '#ff0000', size: 3, opacity: 1, points: [1, 2] })) stroke.set(k, v);
      doc.getArray('strokes').push([stroke]);
    }, 'ana#1');
    doc.transact(() => stroke.set('points', [1, 2, 3, 4, 5, 6]), 'ana#1');
    doc.transact(() => (doc.getArray('styles').get(0) as Y.Map<unknown>).set('weight', 2), 'bo#2');
    doc.transact(() => {
      const m = new Y.Map<unknown>();
      m.set('imageId', IMG_B);
      m.set('weight', 1);
      m.set('scale', 1);
      doc.getArray('styles').push([m]);
    }, 'bo#2');
    doc.transact(() => doc.getArray('styles').delete(0, 1), 'bo#2');
    doc.transact(() => doc.getArray('strokes').delete(0, 1), 'bo#2');
    doc.transact(() => doc.getMap('params').set('styleWeight', 5), 'bo#2');
    const region = createRegionStroke({ id: 'g1', author: 'ana', tool: 'brush', style: IMG_B, size: 9, points: [4, 4] });
    doc.transact(() => doc.getArray('regions').push([region]), 'ana#1');
    doc.transact(() => appendRegionStrokePoints(region, [9, 9]), 'ana#1');
    doc.transact(() => doc.getArray('regions').delete(0, 1), 'bo#2');
    const timeline = new SessionTimeline('x', exists);
    timeline.append(stored);
    const e = timeline.edits;
    assert.equal(e.length, 12);
    assert.deepEqual(e[9].changes, [{ kind: 'region-added', id: 'g1', author: 'ana', tool: 'brush', style: IMG_B }]);
    assert.deepEqual(e[10].changes, [{ kind: 'region-updated', id: 'g1', author: 'ana', points: 2 }]);
    assert.deepEqual(e[11].changes, [{ kind: 'region-removed', id: 'g1', author: 'ana' }]);
    assert.deepEqual(timeline.stateAt(e[10].time).state.regions.map((r) => r.points), [[4, 4, 9, 9]]);
    assert.deepEqual(timeline.stateAt(e[11].time).state.regions, []);
    assert.equal(e[0].author, 'server');
    assert.ok(e[0].changes.some((c) => c.kind === 'param' && c.key === 'styleWeight' && c.from === undefined && c.to === 1));
    assert.ok(e[0].changes.some((c) => c.kind === 'style-added' && c.imageId === IMG_A));
    assert.deepEqual(e[1].changes, [{ kind: 'param', key: 'styleWeight', from: 1, to: 5 }]);
    assert.deepEqual(e[2].changes, [{ kind: 'stroke-added', id: 'k1', author: 'ana', tool: 'brush', color: '#ff0000' }]);
    assert.deepEqual(e[3].changes, [{ kind: 'stroke-updated', id: 'k1', author: 'ana', points: 3 }]);
    assert.deepEqual(e[4].changes, [{ kind: 'style-changed', index: 0, imageId: IMG_A, key: 'weight', from: 1, to: 2 }]);
    assert.deepEqual(e[5].changes, [{ kind: 'style-added', index: 1, imageId: IMG_B }]);
    assert.deepEqual(e[6].changes, [{ kind: 'style-removed', index: 0, imageId: IMG_A }]);
    assert.deepEqual(e[7].changes, [{ kind: 'stroke-removed', id: 'k1', author: 'ana' }]);
    assert.deepEqual(e[8].changes, [], 'setting the same value again changes nothing');
    assert.equal(timeline.stateAt(12).state.strokes[0].points.length, 2, 'the stroke as it was at t=12');
    assert.equal(timeline.stateAt(13).state.strokes[0].points.length, 6);
    timeline.destroy();
    doc.destroy();
  });
});

test('S27: checkpoints are budgeted by bytes: a big document is re-encoded only after as many bytes of updates, and states stay exact', () => {
  const doc = new Y.Doc();
  const stored: StoredUpdate[] = [];
  let seq = 0;
  doc.on('update', (u: Uint8Array) => stored.push({ sessionId: 'big', seq: ++seq, update: u, author: 'a', time: 1000 + seq }));
  seedDocument(doc, { params: DEFAULT_PARAMS, styles: [], content: { background: '#ffffff', width: 64, height: 48 } });
  doc.getMap('scratch').set('blob', 'x'.repeat(200_000)); // a 200 KB document
  for (let i = 0; i < 5 * CHECKPOINT_EVERY; i++) doc.getMap('params').set('seed', i); // small updates
  const tl = new SessionTimeline('big', () => true);
  tl.append(stored);
  const checkpoints = (tl as unknown as { checkpoints: unknown[] }).checkpoints.length;
  // The empty start, one after the blob arrived; then 5 × 64 small updates weigh far less than 200 KB.
  assert.equal(checkpoints, 2, `small updates do not pay for re-encoding 200 KB (got ${checkpoints} checkpoints)`);
  assert.equal(tl.stateAfter(3 * CHECKPOINT_EVERY).state.params.seed, 3 * CHECKPOINT_EVERY - 3, 'a state between checkpoints is still exact');
  tl.destroy();
});
