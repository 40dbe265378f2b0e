import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { DEFAULT_PARAMS } from '../../shared/schema.ts';
import { ErrorCode, type ErrorPayload } from '../../shared/protocol.ts';
import { appendStrokePoints, createStroke } from '../../shared/strokes.ts';
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

/**
 * Random edits of an editor's replica, applied to a server document as updates (as over the
 * socket), validated by two validators: one that takes the appended-points paths, one that
 * validates every touched stroke whole. Returns how often the fast paths were taken.
 */
function growthScenario(seed: number, budget: { maxStrokeCost: number; maxUpdateCost: number; maxSessionCost: number }, seen: Set<string>) {
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const server = new Y.Doc();
  const fast = new DocValidator(server, () => true, budget);
  const whole = new DocValidator(server, () => true, budget, false);
  let grown = 0;
  const grownStroke = (fast as any).grownStroke.bind(fast);
  (fast as any).grownStroke = (...a: unknown[]) => {
    const r = grownStroke(...a);
    if (r) grown++;
    return r;
  };
  let walksSkipped = 0;
  const strokesGrown = (fast as any).strokesGrown.bind(fast);
  (fast as any).strokesGrown = (...a: unknown[]) => {
    const r = strokesGrown(...a);
    if (r) walksSkipped++;
    return r;
  };
  let transactions = 0;
  server.on('afterTransaction', (tr: Y.Transaction) => {
    const a = fast.onTransaction(tr);
    const b = whole.onTransaction(tr);
    assert.deepEqual(a, b, `transaction ${transactions}`);
    assert.deepEqual(fast.state(), whole.state(), `transaction ${transactions}`);
    assert.equal(fast.paintCost, whole.paintCost);
    for (const e of a.errors) seen.add(e.code === ErrorCode.OverBudget ? e.message.match(/PAINT_MAX_\w+/)![0] : e.code);
    transactions++;
  });
  seedDocument(server, { params: { ...DEFAULT_PARAMS, resolution: 256 }, styles: [], content: { background: '#ffffff', width: 300, height: 200 } });
  // An editor's replica: its edits reach the server as updates, as they do over the socket.
  const client = new Y.Doc();
  Y.applyUpdate(client, Y.encodeStateAsUpdate(server));
  client.on('update', (u: Uint8Array) => Y.applyUpdate(server, u, 'editor'));
  const strokes = client.getArray<Y.Map<unknown>>('strokes');
  const q = (v: number) => Math.round(v * 8) / 8;
  const point = () => [q(rnd() * 340 - 20), q(rnd() * 240 - 20)];
  /** A point near the stroke's last one (a brush moving), now and then anywhere. */
  const next = (m: Y.Map<unknown>) => {
    const p = m.get('points') as Y.Array<unknown> | unknown[];
    const n = p instanceof Y.Array ? p.length : 0;
    const [x, y] = n >= 2 ? (p as Y.Array<unknown>).slice(n - 2) : [NaN, NaN];
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x + y) || rnd() < 0.05) return point();
    return [q(x + (rnd() - 0.5) * 12), q(y + (rnd() - 0.5) * 12)];
  };
  const badValue = () => pick([NaN, 2e5, 'x', null, -1e6]);
  for (let step = 0; step < 600; step++) {
    const r = rnd();
    const s = strokes.length ? strokes.get(Math.floor(rnd() * strokes.length)) : null;
    const pts = s?.get('points');
    if (!s || r < 0.04) {
      const bad = rnd() < 0.03;
      strokes.push([createStroke({ id: `s${step}`, author: 'a', tool: 'brush', color: bad ? 'red' : '#112233', size: rnd() < 0.2 ? 40 + rnd() * 40 : 1 + rnd() * 20, opacity: rnd() < 0.05 ? 0 : 1, points: rnd() < 0.1 ? [] : point() })]);
    } else if (r < 0.75) {
      // Drawing: 1–3 points appended, sometimes to two strokes in one update, sometimes a bad one.
      client.transact(() => {
        const add = next(s);
        for (let n = Math.floor(rnd() * 3); n > 0; n--) add.push(...add.slice(-2).map((v) => q(v + (rnd() - 0.5) * 12)));
        if (rnd() < 0.02) add[Math.floor(rnd() * add.length)] = badValue() as number;
        if (rnd() < 0.01) add.pop(); // half a point
        appendStrokePoints(s, add);
        if (rnd() < 0.15) {
          const other = pick(strokes.toArray());
          appendStrokePoints(other, next(other));
        }
      });
    } else if (r < 0.79 && pts instanceof Y.Array && pts.length > 2) {
      if (rnd() < 0.5) pts.delete(Math.floor(rnd() * (pts.length - 1)), 1); // not an append: validated whole
      else pts.insert(Math.floor(rnd() * pts.length), rnd() < 0.8 ? point() : [badValue()]);
    } else if (r < 0.86) {
      const [field, values] = pick([['size', [4, 12, 60, -1]], ['color', ['#00ff00', '#ff0000', 'nope']], ['opacity', [0.5, 1, 0, 2]]] as const);
      s.set(field, pick<unknown>(values));
    } else if (r < 0.91) {
      s.set('points', rnd() < 0.5 ? (pts instanceof Y.Array ? pts.toArray() : []) : Y.Array.from(point()));
    } else if (r < 0.94) {
      strokes.delete(Math.floor(rnd() * strokes.length), 1);
    } else if (r < 0.96) {
      client.getMap('params').set('resolution', pick([128, 256, 384]));
    } else if (r < 0.965) {
      s.set('note', 'not a stroke field'); // S27: reported and listed for removal while it stays
    }
  }
  return { transactions, grown, walksSkipped, drawn: fast.state().strokes.length };
}

test('S24, S8: a stroke grown by appended points is validated and costed from its new points only, and the other strokes are not walked, with the result of validating them all whole (seeded edits over the wire)', () => {
  const seen = new Set<string>();
  let grown = 0, walksSkipped = 0, transactions = 0;
  // Small budgets, so strokes pass each of them while they grow.
  for (const [seed, maxSessionCost] of [[1234, 12_000], [99, 20_000], [7, 45_000]]) {
    const r = growthScenario(seed, { maxStrokeCost: 20_000, maxUpdateCost: 8_000, maxSessionCost }, seen);
    assert.ok(r.drawn > 5, `seed ${seed}: ${r.drawn} strokes drawn`);
    grown += r.grown;
    walksSkipped += r.walksSkipped;
    transactions += r.transactions;
  }
  assert.ok(transactions > 1500, `${transactions} transactions`);
  assert.ok(grown > 300, `${grown} strokes grown from their new points alone`);
  assert.ok(walksSkipped > 150, `${walksSkipped} transactions without a walk over all strokes`);
  assert.deepEqual([...seen].sort(), [ErrorCode.InvalidValue, 'PAINT_MAX_SESSION_COST', 'PAINT_MAX_STROKE_COST', 'PAINT_MAX_UPDATE_COST'].sort(), 'bad values and every paint budget were exercised');
});
