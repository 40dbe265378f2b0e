import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Stroke } from '../../shared/schema.ts';
import { CanvasComposer, PaintCostCounter, paintStroke, parseHexColor, solidImage, strokePaintCost } from './rasterize.ts';

const stroke = (o: Partial<Stroke>): Stroke => ({ id: 's', author: 'a', tool: 'brush', color: '#ff0000', size: 10, opacity: 1, points: [10, 20, 50, 20], ...o });
const px = (img: { width: number; data: Uint8Array }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

test('S20: a brush paints its colour inside the capsule, anti-aliases the edge and leaves the rest', () => {
  const base = solidImage(64, 40, '#ffffff');
  const out = { ...base, data: new Uint8Array(base.data) };
  paintStroke(out, base, stroke({ points: [10, 20.3, 50, 20.3] }));
  assert.deepEqual(px(out, 30, 20), [255, 0, 0]); // on the line
  assert.deepEqual(px(out, 30, 5), [255, 255, 255]); // far away
  const edge = px(out, 30, 25); // centre 5.2 px off the line, radius 5: coverage 0.3
  assert.equal(edge[0], 255);
  assert.ok(edge[1] > 0 && edge[1] < 255, `edge pixel is blended: ${edge}`);
  assert.deepEqual(px(base, 30, 20), [255, 255, 255], 'base untouched');
});

test('S20: opacity blends and a stroke does not darken where it overlaps itself', () => {
  const base = solidImage(64, 64, '#000000');
  const out = { ...base, data: new Uint8Array(base.data) };
  paintStroke(out, base, stroke({ color: '#ffffff', opacity: 0.5, points: [10, 30, 50, 30, 10, 30, 50, 30] }));
  const v = px(out, 30, 30)[0];
  assert.ok(Math.abs(v - 128) <= 1, `half-opaque white on black is ~128, got ${v}`);
});

test('S20: the eraser restores the base under earlier strokes', () => {
  const base = solidImage(40, 40, '#0000ff');
  const c = new CanvasComposer();
  const painted = c.compose(base, [stroke({ points: [0, 20, 40, 20] })]);
  assert.deepEqual(px(painted, 20, 20), [255, 0, 0]);
  const erased = c.compose(base, [stroke({ points: [0, 20, 40, 20] }), stroke({ tool: 'eraser', size: 30, points: [20, 20] })]);
  assert.deepEqual(px(erased, 20, 20), [0, 0, 255]);
});

test('S20: incremental composition equals composing from scratch', () => {
  const base = solidImage(80, 60, '#808080');
  const strokes = Array.from({ length: 6 }, (_, i) => stroke({ id: `s${i}`, color: i % 2 ? '#00ff00' : '#ff00ff', opacity: 0.6, size: 3 + i * 2, points: [5 + i * 10, 5, 70 - i * 5, 55, 40, 30 + i] }));
  const inc = new CanvasComposer();
  for (let n = 1; n <= strokes.length; n++) inc.compose(base, strokes.slice(0, n));
  const last = inc.compose(base, strokes);
  const fresh = new CanvasComposer().compose(base, strokes);
  assert.deepEqual(last.data, fresh.data);
  // Live drawing: the last stroke is replaced by a longer version of itself, several times.
  let live = strokes.slice();
  for (let k = 1; k <= 3; k++) {
    const grown = { ...live[live.length - 1], points: [...live[live.length - 1].points, 10 * k, 50 - 5 * k] };
    live = [...live.slice(0, -1), grown];
    assert.deepEqual(inc.compose(base, live).data, new CanvasComposer().compose(base, live).data, `live step ${k}`);
  }
  // A stroke removed from the middle forces a full repaint that is still right.
  const removed = [...live.slice(0, 2), ...live.slice(3)];
  assert.deepEqual(inc.compose(base, removed).data, new CanvasComposer().compose(base, removed).data);
  assert.deepEqual(parseHexColor('#0a0B0c'), [10, 11, 12]);
});

test('S20: strokes partly or fully outside the canvas are clipped', () => {
  const base = solidImage(16, 16, '#ffffff');
  const out = { ...base, data: new Uint8Array(base.data) };
  paintStroke(out, base, stroke({ points: [-100, -100, -50, -50] }));
  assert.deepEqual(out.data, base.data);
  paintStroke(out, base, stroke({ points: [-10, 8, 30, 8] }));
  assert.deepEqual(px(out, 0, 8), [255, 0, 0]);
});

test('S24: the paint cost is the sum of the segments\' capsule boxes clipped to the canvas', () => {
  // One segment from (10,20) to (50,20), size 10: box x 4..56, y 14..26 → 53 × 13.
  assert.equal(strokePaintCost(stroke({}), 100, 100), 53 * 13);
  assert.equal(strokePaintCost(stroke({}), 30, 100), 26 * 13, 'clipped to the canvas: x 4..29');
  assert.equal(strokePaintCost(stroke({ points: [-100, -100, -50, -50] }), 100, 100), 0, 'outside costs nothing');
  assert.equal(strokePaintCost(stroke({ opacity: 0 }), 100, 100), 0, 'invisible costs nothing');
  assert.equal(strokePaintCost(stroke({}), 200, 200, 2), 103 * 23, 'scaled ×2: (20,40)-(100,40), radius 10: box x 9..111, y 29..51');
  assert.ok(strokePaintCost(stroke({ points: zig(10_000, 100, 100), size: 512 }), 100, 100, 1, 1e5) > 1e5, 'counting stops past the cap');
});

function zig(n: number, w: number, h: number): number[] {
  const p: number[] = [];
  for (let i = 0; i < n; i++) p.push(i % 2 ? 0 : w - 1, i % 2 ? 0 : h - 1);
  return p;
}

test('S24: a growing stroke\'s cost counted point by point (PaintCostCounter) equals costing it whole: prefix + suffix = whole, cap included, seeded', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let checked = 0;
  for (let trial = 0; trial < 200; trial++) {
    const size = 0.5 + rnd() * (trial % 5 === 0 ? 200 : 20);
    const scale = [1, 0.5, 2, 0.37][trial % 4];
    const [w, h] = [20 + Math.floor(rnd() * 200), 20 + Math.floor(rnd() * 200)];
    const cap = trial % 3 === 0 ? 2000 + rnd() * 20_000 : Infinity;
    // A random walk with steps from 0 (points the thinning drops) to large (off the canvas too).
    const pts: number[] = [];
    let x = rnd() * w, y = rnd() * h;
    const n = 1 + Math.floor(rnd() * 80);
    for (let i = 0; i < n; i++) {
      const step = rnd() < 0.3 ? rnd() * 0.5 : rnd() * 30;
      x += (rnd() - 0.5) * step * 2;
      y += (rnd() - 0.5) * step * 2;
      pts.push(Math.round(x * 8) / 8, Math.round(y * 8) / 8);
    }
    const s = stroke({ points: pts, size, opacity: trial % 17 === 0 ? 0 : 1 });
    const counter = new PaintCostCounter(s, w, h, scale, cap);
    for (let k = 0; k < pts.length; ) {
      const next = Math.min(pts.length, k + 2 * (1 + Math.floor(rnd() * 4))); // 1 to 4 points at a time
      counter.add(pts.slice(0, next), k);
      k = next;
      assert.equal(counter.cost, strokePaintCost({ ...s, points: pts.slice(0, k) }, w, h, scale, cap), `trial ${trial}, ${k / 2} points`);
      checked++;
    }
    assert.equal(counter.points, pts.length / 2);
  }
  assert.ok(checked > 1000, `${checked} prefixes checked`);
});

test('S24: incremental repaints (several editors growing interleaved strokes) equal a full repaint, seeded', async () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = solidImage(96, 64, '#204060');
  const inc = new CanvasComposer();
  let strokes: Stroke[] = [];
  for (let step = 0; step < 120; step++) {
    const r = rnd();
    if (r < 0.25 || strokes.length === 0) {
      strokes = [...strokes, stroke({ id: `s${step}`, tool: rnd() < 0.2 ? 'eraser' : 'brush', color: rnd() < 0.5 ? '#ff0000' : '#00ff00', size: 1 + rnd() * 12, opacity: 0.3 + rnd() * 0.7, points: [rnd() * 96, rnd() * 64] })];
    } else if (r < 0.9) {
      // Grow a random stroke (not only the last one: another editor may have added strokes since).
      const i = Math.floor(rnd() * strokes.length);
      const s = strokes[i];
      strokes = strokes.map((x, j) => (j === i ? { ...s, points: [...s.points, rnd() * 110 - 7, rnd() * 78 - 7] } : x));
    } else {
      strokes = strokes.filter((_, j) => j !== Math.floor(rnd() * strokes.length));
    }
    const got = step % 2 ? inc.compose(base, strokes) : await inc.composeSliced(base, strokes);
    assert.deepEqual(got!.data, new CanvasComposer().compose(base, strokes).data, `step ${step}`);
  }
  // A grown stroke repaints only the box of its new segment, not the canvas.
  const one = [stroke({ id: 'g', size: 4, points: [10, 10, 20, 10] })];
  inc.compose(base, one);
  inc.compose(base, [{ ...one[0], points: [10, 10, 20, 10, 24, 12] }]);
  assert.ok(inc.lastCost > 0 && inc.lastCost < 200, `repainted ${inc.lastCost} pixels for one new segment`);
});

test('S24: sliced composition yields to the event loop and can be cancelled', async () => {
  const base = solidImage(512, 512, '#ffffff');
  const heavy = Array.from({ length: 40 }, (_, i) => stroke({ id: `h${i}`, size: 200, points: zig(40, 512, 512) }));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const out = await new CanvasComposer().composeSliced(base, heavy);
  clearInterval(timer);
  assert.ok(out && ticks > 2, `timers ran ${ticks} times while it painted`);
  let n = 0;
  assert.equal(await new CanvasComposer().composeSliced(base, heavy, 1, () => ++n > 1), null);
});
