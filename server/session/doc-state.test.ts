import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { DEFAULT_PARAMS } from '../../shared/schema.ts';
import { ErrorCode, type ErrorPayload } from '../../shared/protocol.ts';
import { DocValidator, seedDocument, type StateChanges } from './doc-state.ts';

const IMG = 'a'.repeat(64);

function setup() {
  const doc = new Y.Doc();
  const v = new DocValidator(doc, (id) => id === IMG);
  const log: { origin: unknown; errors: ErrorPayload[]; changes: StateChanges }[] = [];
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    const r = v.onTransaction(tr);
    log.push({ origin: tr.origin, ...r });
  });
  seedDocument(doc, { params: DEFAULT_PARAMS, styles: [{ imageId: IMG, weight: 1, scale: 1 }], content: { imageId: IMG, background: '#ffffff', width: 100, height: 80 } });
  return { doc, v, log };
}

test('S8: each param is validated on its own; a bad one keeps the last valid value and names its path', () => {
  const { doc, v, log } = setup();
  assert.deepEqual(log[0].errors, []);
  doc.transact(() => {
    doc.getMap('params').set('styleWeight', 3);
    doc.getMap('params').set('learningRate', -1);
    doc.getMap('params').set('optimizer', 'sgd');
  }, 'alice');
  const last = log.at(-1)!;
  assert.equal(last.origin, 'alice');
  assert.deepEqual(last.errors.map((e) => e.path).sort(), ['params.learningRate', 'params.optimizer']);
  assert.ok(last.errors.every((e) => e.code === ErrorCode.InvalidValue));
  assert.equal(v.state().params.styleWeight, 3);
  assert.equal(v.state().params.learningRate, DEFAULT_PARAMS.learningRate);
  assert.equal(last.changes.params, true);
  doc.transact(() => doc.getMap('params').set('styleWeight', '7'), 'bob');
  assert.match(log.at(-1)!.errors[0].message, /number/i);
  assert.equal(log.at(-1)!.changes.params, false);
  doc.transact(() => doc.getMap('params').set('styleWeight', Infinity), 'bob');
  assert.equal(v.state().params.styleWeight, 3);
});

test('S8: a style entry edited to a bad value keeps its last valid version; a never-valid one is left out', () => {
  const { doc, v, log } = setup();
  const first = doc.getArray<Y.Map<unknown>>('styles').get(0);
  first.set('weight', 2);
  assert.equal(v.state().styles[0].weight, 2);
  first.set('weight', -5);
  assert.equal(log.at(-1)!.errors[0].path, 'styles[0].weight');
  assert.equal(v.state().styles[0].weight, 2);
  const bad = new Y.Map<unknown>();
  bad.set('imageId', 'nothex');
  doc.getArray('styles').push([bad]);
  assert.match(log.at(-1)!.errors[0].path ?? '', /^styles\[1\]/);
  assert.equal(v.state().styles.length, 1);
  // Plain JSON objects in the array are accepted too.
  doc.getArray('styles').push([{ imageId: IMG, weight: 0.5, scale: 2 }]);
  assert.equal(v.state().styles.length, 2);
  assert.equal(log.at(-1)!.changes.styles, true);
});

test('S8: strokes are validated per entry, including live-appended Y.Array points', () => {
  const { doc, v, log } = setup();
  const m = new Y.Map<unknown>();
  const pts = new Y.Array<number>();
  doc.transact(() => {
    m.set('id', 'x');
    m.set('author', 'a');
    m.set('tool', 'brush');
    m.set('color', '#000000');
    m.set('size', 5);
    m.set('opacity', 1);
    m.set('points', pts);
    pts.push([1, 2]);
    doc.getArray('strokes').push([m]);
  });
  assert.equal(v.state().strokes.length, 1);
  pts.push([3, 4]);
  assert.deepEqual(v.state().strokes[0].points, [1, 2, 3, 4]);
  assert.equal(log.at(-1)!.changes.canvas, true);
  pts.push([5]); // odd count: invalid, keeps the last valid points
  assert.equal(log.at(-1)!.errors[0].path, 'strokes[0].points');
  assert.deepEqual(v.state().strokes[0].points, [1, 2, 3, 4]);
  m.set('color', 'red');
  assert.match(log.at(-1)!.errors[0].path ?? '', /^strokes\[0\]\.(color|points)$/);
  assert.equal(v.state().strokes[0].color, '#000000');
});

test('S8: content fields are validated one by one and an unknown image is refused', () => {
  const { doc, v, log } = setup();
  doc.getMap('content').set('width', 10);
  assert.equal(log.at(-1)!.errors[0].path, 'content.width');
  doc.getMap('content').set('imageId', 'b'.repeat(64));
  assert.match(log.at(-1)!.errors[0].message, /no image/);
  assert.equal(v.state().content.imageId, IMG);
  doc.getMap('content').delete('imageId');
  assert.equal(v.state().content.imageId, undefined, 'deleting imageId means a blank canvas');
  doc.getMap('content').set('background', '#00ff00');
  assert.equal(v.state().content.background, '#00ff00');
  assert.equal(log.at(-1)!.changes.canvas, true);
  assert.deepEqual(log.at(-1)!.errors, []);
});

function withBudget(budget: { maxStrokeCost: number; maxUpdateCost: number; maxSessionCost: number }) {
  const doc = new Y.Doc();
  const v = new DocValidator(doc, () => true, budget);
  const log: { errors: ErrorPayload[]; unknown: unknown[] }[] = [];
  doc.on('afterTransaction', (tr: Y.Transaction) => log.push(v.onTransaction(tr)));
  // A 100×80 canvas at resolution 256: working size = content size, scale 1.
  seedDocument(doc, { params: DEFAULT_PARAMS, styles: [], content: { background: '#ffffff', width: 100, height: 80 } });
  const add = (id: string, points: number[], size = 10) => {
    const m = new Y.Map<unknown>();
    for (const [k, val] of Object.entries({ id, author: 'a', tool: 'brush', color: '#ff0000', size, opacity: 1, points })) m.set(k, val);
    return m;
  };
  return { doc, v, log, add, strokes: doc.getArray<Y.Map<unknown>>('strokes') };
}

test('S24: a stroke over PAINT_MAX_STROKE_COST is refused with OVER_BUDGET and not drawn; one growing past it keeps its last valid version, told once', () => {
  // Segment (10,20)-(50,20) size 10 costs 53 × 13 = 689 pixels.
  const { doc, v, log, add, strokes } = withBudget({ maxStrokeCost: 1000, maxUpdateCost: 1e9, maxSessionCost: 1e9 });
  doc.transact(() => strokes.push([add('big', [0, 0, 99, 79, 0, 79, 99, 0], 40)]), 'ann');
  const e = log.at(-1)!.errors;
  assert.equal(e[0].code, ErrorCode.OverBudget);
  assert.equal(e[0].path, 'strokes[0].points');
  assert.match(e[0].message, /PAINT_MAX_STROKE_COST/);
  assert.equal(v.state().strokes.length, 0);
  const live = new Y.Array<number>();
  live.push([10, 20, 50, 20]);
  const m = add('live', []);
  doc.transact(() => {
    m.set('points', live);
    strokes.push([m]);
  }, 'bo');
  assert.deepEqual(v.state().strokes.map((s) => s.points.length), [4]);
  doc.transact(() => live.push([50, 60]), 'bo'); // now over 1000
  doc.transact(() => live.push([10, 60]), 'bo');
  assert.deepEqual(v.state().strokes.map((s) => s.points.length), [4], 'the last valid version is drawn');
  const told = log.slice(-2).flatMap((l) => l.errors);
  assert.equal(told.length, 1, 'told once, not on every point');
  assert.equal(v.paintCost, 53 * 13);
});

test('S24: one update may add at most PAINT_MAX_UPDATE_COST, and the session at most PAINT_MAX_SESSION_COST', () => {
  const { doc, v, log, add, strokes } = withBudget({ maxStrokeCost: 1000, maxUpdateCost: 1500, maxSessionCost: 2500 });
  doc.transact(() => strokes.push([0, 1, 2].map((i) => add(`u${i}`, [10, 20 + i, 50, 20 + i]))), 'ann');
  assert.equal(v.state().strokes.length, 2, 'two of 689 fit 1500, the third does not');
  assert.match(log.at(-1)!.errors[0].message, /PAINT_MAX_UPDATE_COST/);
  doc.transact(() => strokes.push([add('s3', [10, 40, 50, 40])]), 'ann');
  doc.transact(() => strokes.push([add('s4', [10, 50, 50, 50])]), 'ann');
  assert.equal(v.state().strokes.length, 3, 'the session holds 3 × 689 ≤ 2500, not 4');
  assert.match(log.at(-1)!.errors[0].message, /PAINT_MAX_SESSION_COST/);
  // Erasing makes room again: deleting a drawn stroke lets a later one in.
  doc.transact(() => strokes.delete(0, 1), 'ann');
  assert.equal(v.state().strokes.length, 3);
});

test('S27: unknown param, content, style and stroke keys are reported as dropped and listed for removal', () => {
  const { doc, log, add, strokes } = withBudget({ maxStrokeCost: 1e9, maxUpdateCost: 1e9, maxSessionCost: 1e9 });
  const s = add('s', [1, 1]);
  doc.transact(() => {
    doc.getMap('params').set('junk', 'x'.repeat(1000));
    doc.getMap('content').set('extra', 1);
    s.set('bloat', 'y');
    strokes.push([s]);
  }, 'mallory');
  const r = log.at(-1)!;
  assert.deepEqual(r.errors.map((e) => e.path).sort(), ['content.extra', 'params.junk']);
  assert.ok(r.errors.every((e) => /dropped/.test(e.message)));
  assert.deepEqual((r.unknown as [Y.Map<unknown>, string][]).map(([, k]) => k).sort(), ['bloat', 'extra', 'junk']);
});
