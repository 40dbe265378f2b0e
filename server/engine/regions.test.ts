import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { featherMask, partition, RegionMasks, resampleMask, shiftMask, type HostMask } from './regions.ts';
import { gramOfRows, rowStyleLoss, shiftImage, sqrtmSpd, styleLayerLoss, targetEnergy } from './losses.ts';
import { guidedGramMatrix, guidedPaletteLoss, guidedSlicedPaletteLoss, sqrtmSpdBatch } from './guided.ts';
import { paletteDirections, PALETTE_DIRECTIONS } from './sliced-palette.ts';
import { createStyleTransfer } from './transfer.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';
import { mulberry32 } from '../../shared/random.ts';
import type { FeatureNetwork, MaskImage, TransferInputs } from './api.ts';

const content = syntheticImage(40, 30, 1);
const styleA = syntheticImage(32, 32, 2);
const styleB = syntheticImage(24, 36, 3);

/** A mask of `width`×`height` that is 255 where `inside(x, y)`. */
function mask(width: number, height: number, inside: (x: number, y: number) => boolean): MaskImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = inside(x, y) ? 255 : 0;
  return { width, height, data };
}

const randomHost = (w: number, h: number, seed: number): HostMask => {
  const r = mulberry32(seed);
  return { width: w, height: h, data: Float32Array.from({ length: w * h }, () => r()) };
};

const value = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

/** features = the image itself: a region's influence on pixels can be read off directly. */
function identityNet(): FeatureNetwork & { defaultContentLayers: { layer: string; weight: number }[]; defaultStyleLayers: { layer: string; weight: number }[] } {
  return {
    name: 'identity',
    layers: ['px'],
    supportsPooling: false,
    features: (image, layers) => new Map(layers.map((l) => [l, image])),
    dispose() {},
    defaultContentLayers: [{ layer: 'px', weight: 1 }],
    defaultStyleLayers: [{ layer: 'px', weight: 1 }],
  };
}

describe('painted regions: guided Gram matrices', () => {
  before(useCpuBackend);

  test('E35: area resampling keeps the mean, feathering keeps a constant mask constant, parts add up to 1', () => {
    const m = randomHost(37, 23, 1);
    const mean = (h: HostMask) => h.data.reduce((s, v) => s + v, 0) / h.data.length;
    for (const [w, h] of [[9, 6], [5, 3], [74, 46]]) {
      assert.ok(Math.abs(mean(resampleMask(m, w, h)) - mean(m)) < 1e-5, `${w}x${h}`);
    }
    const flat = { width: 20, height: 10, data: new Float32Array(200).fill(0.7) };
    for (const v of featherMask(flat, 3).data) assert.ok(Math.abs(v - 0.7) < 1e-6);
    // a hard edge becomes a ramp, monotone across it
    const edge = featherMask({ width: 20, height: 1, data: Float32Array.from({ length: 20 }, (_, i) => (i < 10 ? 1 : 0)) }, 2);
    for (let i = 1; i < 20; i++) assert.ok(edge.data[i] <= edge.data[i - 1] + 1e-7);
    assert.ok(edge.data[9] > 0.3 && edge.data[9] < 0.7 && edge.data[0] === 1 && edge.data[19] === 0);
    // overlapping regions share their pixels; the rest is the unpainted part
    const parts = partition([randomHost(8, 8, 2), randomHost(8, 8, 3), randomHost(8, 8, 4)], 8, 8);
    for (let i = 0; i < 64; i++) {
      const s = parts.reduce((a, p) => a + p.data[i], 0);
      assert.ok(Math.abs(s - 1) < 1e-6, `pixel ${i}: ${s}`);
      assert.ok(parts.every((p) => p.data[i] >= 0));
    }
  });

  test('E36: a mask is shifted exactly as the image the network sees (mirrored borders)', () => {
    const m = randomHost(13, 9, 5);
    const t = tf.tensor4d(m.data, [1, 9, 13, 1]);
    for (const [dy, dx] of [[0, 3], [-4, 2], [5, -6], [-8, -12], [8, 12]]) {
      const a = shiftMask(m, dy, dx).data;
      const b = shiftImage(t, dy, dx).dataSync();
      assert.deepEqual(Array.from(a), Array.from(b), `shift ${dy},${dx}`);
    }
    t.dispose();
  });

  test("E34: a region's Gram loss ignores the features outside it; its gradient reaches only features where the mask is non-zero", () => {
    const masks = new RegionMasks('t', [mask(16, 12, (x) => x < 7)], 16, 12);
    const m = masks.atLayer(0, 0, 12, 16)[1]!;
    const maskValues = new Float32Array(12 * 16);
    const rows = m.rows ? Array.from(m.rows.dataSync()) : Array.from(maskValues.keys());
    const roots = m.sqrt.dataSync();
    rows.forEach((r, i) => (maskValues[r] = roots[i] ** 2));
    const f = tf.randomNormal([1, 12, 16, 5], 0, 1, 'float32', 7) as tf.Tensor4D;
    const target = tf.tidy(() => tf.add(tf.eye(5), 0.1) as tf.Tensor2D);
    const loss = (x: tf.Tensor4D) => styleLayerLoss(guidedGramMatrix(x, m), target, 'relative');
    // change every feature where the mask is 0: the loss does not move
    const outside = tf.tidy(() => tf.reshape(tf.tensor1d(Float32Array.from(maskValues, (v) => (v === 0 ? 1 : 0))), [1, 12, 16, 1]));
    const changed = tf.tidy(() => tf.add(f, tf.mul(outside, tf.randomNormal(f.shape, 0, 3, 'float32', 8))) as tf.Tensor4D);
    assert.ok(value(tf.max(tf.abs(tf.sub(changed, f)))) > 1, 'the change is real');
    assert.equal(value(loss(changed)), value(loss(f)));
    const g = tf.grad((x: tf.Tensor) => loss(x as tf.Tensor4D))(f);
    const gv = g.dataSync();
    let inside = 0;
    for (let p = 0; p < 12 * 16; p++) {
      const mag = Math.max(...[0, 1, 2, 3, 4].map((c) => Math.abs(gv[p * 5 + c])));
      if (maskValues[p] === 0) assert.equal(mag, 0, `feature cell ${p} outside the mask got gradient ${mag}`);
      else if (mag > 0) inside++;
    }
    const nonZero = maskValues.filter((v) => v > 0).length;
    assert.ok(nonZero > 12 * 6 && nonZero < 12 * 16, `mask covers ${nonZero} cells (feathered)`);
    assert.equal(inside, nonZero, 'every cell under the mask gets gradient');
    tf.dispose([f, target, outside, changed, g]);
    masks.dispose();
  });

  test('E34: with fewer rows than channels the loss through the row Gram equals the C×C Gram form, value and gradient, every convention', () => {
    const u = tf.randomNormal([6, 20], 0, 1, 'float32', 3) as tf.Tensor2D;
    const a = tf.tidy(() => tf.div(gramOfRows(tf.randomNormal([30, 20], 0, 1, 'float32', 4) as tf.Tensor2D), 1.3) as tf.Tensor2D);
    const energy = targetEnergy(a);
    const scale = 1 / 4.5; // Σ T of a soft mask over 6 rows
    for (const kind of ['relative', 'mse', 'gatys'] as const) {
      const viaGram = (x: tf.Tensor) => styleLayerLoss(tf.mul(gramOfRows(x as tf.Tensor2D), 6 * scale) as tf.Tensor2D, a, kind, energy);
      const viaRows = (x: tf.Tensor) => rowStyleLoss(x as tf.Tensor2D, scale, a, energy, kind);
      const [v1, v2] = [value(viaGram(u)), value(viaRows(u))];
      assert.ok(Math.abs(v1 - v2) <= 1e-5 * Math.abs(v1), `${kind}: ${v1} vs ${v2}`);
      const [g1, g2] = [tf.grad(viaGram)(u), tf.grad(viaRows)(u)];
      const err = value(tf.max(tf.abs(tf.sub(g1, g2))));
      const mag = value(tf.max(tf.abs(g1)));
      assert.ok(err <= 1e-5 * mag, `${kind}: gradient differs by ${err} (max ${mag})`);
      tf.dispose([g1, g2]);
    }
    // and the batched matrix root of the palette term is the single one, matrix by matrix
    const covs = tf.tidy(() => tf.stack([0.02, 0.05].map((s, i) => tf.add(tf.mul(tf.eye(3), s), tf.mul(tf.ones([3, 3]), 0.004 * (i + 1))))) as tf.Tensor3D);
    const batch = sqrtmSpdBatch(covs);
    for (let i = 0; i < 2; i++) {
      const one = tf.tidy(() => sqrtmSpd(tf.squeeze(tf.slice(covs, [i, 0, 0], [1, 3, 3]), [0]) as tf.Tensor2D));
      assert.ok(value(tf.max(tf.abs(tf.sub(one, tf.squeeze(tf.slice(batch, [i, 0, 0], [1, 3, 3]), [0]))))) < 1e-6);
      one.dispose();
    }
    tf.dispose([u, a, energy, covs, batch]);
  });

  test("E34: one region whose mask is the whole image is today's global style, to float32 precision (Grams and palette, every preset, both Gram paths)", () => {
    // the wide net's conv3 has 64 channels on 8×6 positions: its part takes the row-Gram path
    for (const net of [createRandomNet({ seed: 4 }), createRandomNet({ seed: 5, channels: [8, 12, 64] })]) {
      const full = mask(40, 30, () => true);
      for (const preset of ['default', 'tf-tutorial', 'gatys2015']) {
        const params = testParams({ preset, init: 'noise', seed: 3 });
        const global = createStyleTransfer(net, { content, styles: [{ image: styleA, weight: 1, scale: 1 }], params });
        const painted = createStyleTransfer(net, { content, styles: [{ image: styleB, weight: 1, scale: 1 }], regions: [{ image: styleA, scale: 1, mask: full }], params });
        const [a, b] = [global.lossFunction(), painted.lossFunction()];
        const x = global.snapshot();
        const [la, lb] = tf.tidy(() => [a(x), b(x)].map((t) => tf.stack([t.total, t.style, t.content, t.tv]).dataSync()));
        for (let i = 0; i < 4; i++) assert.ok(Math.abs(la[i] - lb[i]) <= 1e-5 * Math.abs(la[i]) + 1e-9, `${preset} term ${i}: ${la[i]} vs ${lb[i]}`);
        assert.ok(la[1] > 0);
        x.dispose();
        global.dispose();
        painted.dispose();
      }
      net.dispose();
    }
  });

  test("E34, E36, E37: on the default preset's own image (decorrelated pyramid, random shifts, palette) a whole-image region steps exactly as the global style", async () => {
    // The default preset optimizes a colour-decorrelated pyramid seen through ±J px shifts (E23,
    // E25) with the palette term (E26): a region must follow the image through all of it.
    const net = createRandomNet({ seed: 6 });
    const params = testParams({ preset: 'default', parameterization: 'pyramid-decorrelated', jitter: 5, seed: 4, learningRate: 0.05 });
    const global = createStyleTransfer(net, { content, styles: [{ image: styleA, weight: 1, scale: 1 }], params });
    const painted = createStyleTransfer(net, { content, styles: [{ image: styleB, weight: 1, scale: 1 }], regions: [{ image: styleA, scale: 1, mask: mask(40, 30, () => true) }], params });
    for (let i = 0; i < 4; i++) {
      const [a, b] = [await global.step(), await painted.step()];
      assert.ok(Math.abs(a.losses.total - b.losses.total) <= 1e-4 * Math.abs(a.losses.total), `step ${i}: loss ${a.losses.total} vs ${b.losses.total}`);
    }
    const [x, y] = [global.snapshot(), painted.snapshot()];
    const diff = value(tf.max(tf.abs(tf.sub(x, y))));
    assert.ok(diff < 1e-4, `images differ by ${diff} after 4 steps`);
    tf.dispose([x, y]);
    global.dispose();
    painted.dispose();
    net.dispose();
  });

  test("E37: a region's palette term reads only the pixels under its mask, and its gradient reaches only them", () => {
    const W = 16, H = 12;
    const masks = new RegionMasks('p', [mask(W, H, (x) => x < 6)], W, H);
    const pixels = masks.atPixels();
    // part 0 (unpainted) has no palette target: weight 0; part 1 wants a flat orange
    const palettes = tf.tidy(() => ({
      mean: tf.tensor2d([[0, 0, 0], [0.9, 0.5, 0.1]]),
      covSqrt: tf.stack([tf.eye(3), tf.mul(tf.eye(3), 0.05)]) as tf.Tensor3D,
      weights: tf.tensor1d([0, pixels.fractions[1]]),
    }));
    const weight = Array.from(pixels.weightsT.dataSync().slice(W * H, 2 * W * H));
    const img = tf.randomUniform([1, H, W, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const outside = tf.tidy(() => tf.reshape(tf.tensor1d(weight.map((v) => (v === 0 ? 1 : 0))), [1, H, W, 1]));
    const changed = tf.tidy(() => tf.clipByValue(tf.add(img, tf.mul(outside, tf.randomUniform(img.shape, -0.5, 0.5, 'float32', 10))), 0, 1) as tf.Tensor4D);
    const loss = (x: tf.Tensor) => guidedPaletteLoss(x as tf.Tensor4D, pixels, palettes);
    assert.ok(value(loss(img)) > 0);
    assert.ok(Math.abs(value(loss(changed)) - value(loss(img))) < 1e-6, 'pixels outside the region do not change its palette term');
    const g = tf.grad(loss)(img).dataSync();
    for (let p = 0; p < W * H; p++) {
      const mag = Math.max(Math.abs(g[p * 3]), Math.abs(g[p * 3 + 1]), Math.abs(g[p * 3 + 2]));
      if (weight[p] === 0) assert.equal(mag, 0, `pixel ${p} outside the region got gradient ${mag}`);
      else assert.ok(mag > 0, `pixel ${p} inside the region got no gradient`);
    }
    tf.dispose([img, outside, changed, palettes.mean, palettes.covSqrt, palettes.weights]);
    masks.dispose();
  });

  test("E37: with the sliced palette distance each cell belongs to the part weighing most over it, and a part's term moves only its cells", () => {
    const W = 16, H = 12;
    const masks = new RegionMasks('s', [mask(W, H, (x) => x < 6)], W, H);
    const { cells, parts } = masks.atCells(4);
    assert.equal(cells, 12);
    // columns of cells 0 (x 0-3) is the region's, 2-3 (x 8-15) the rest's; column 1 (x 4-7) is
    // feathered across the edge at x = 6 and goes to whichever part weighs more there
    const owned = parts.map((r) => Array.from(r ?? []));
    assert.deepEqual([...owned[0], ...owned[1]].sort((a, b) => a - b), [...Array(12).keys()], 'every cell has one owner');
    for (const c of [0, 4, 8]) assert.ok(owned[1].includes(c), `cell ${c} is the region's`);
    for (const c of [2, 3, 6, 7, 10, 11]) assert.ok(owned[0].includes(c), `cell ${c} is the rest's`);
    const rows = Int32Array.from(owned[1]);
    const directions = tf.tensor2d(paletteDirections(), [3, PALETTE_DIRECTIONS]);
    // a target spread from 1 down to −1 along every direction (descending, as the term sorts)
    const sorted = tf.tidy(() => tf.tile(tf.reshape(tf.linspace(1, -1, rows.length), [1, rows.length]), [PALETTE_DIRECTIONS, 1]) as tf.Tensor2D);
    const sliced = { parts: [{ rows: tf.tensor1d(rows, 'int32'), rows2d: tf.tensor2d(rows, [rows.length, 1], 'int32'), fraction: rows.length / 12, target: { directions, sorted } }] };
    const img = tf.randomUniform([1, H, W, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const g = tf.grad((x) => guidedSlicedPaletteLoss(x as tf.Tensor4D, sliced))(img).dataSync();
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const cell = Math.floor(y / 4) * 4 + Math.floor(x / 4);
        const mag = Math.max(...[0, 1, 2].map((c) => Math.abs(g[(y * W + x) * 3 + c])));
        if (rows.includes(cell)) assert.ok(mag > 0, `pixel ${x},${y} of the region's cell ${cell} got no gradient`);
        else assert.equal(mag, 0, `pixel ${x},${y} outside the region's cells got gradient ${mag}`);
      }
    }
    tf.dispose([img, directions, sorted, sliced.parts[0].rows, sliced.parts[0].rows2d]);
    masks.dispose();
  });

  test('E34, E36: under random shifts a step moves only the pixels a region covers (its style is the only style)', async () => {
    const J = 6;
    // the seed whose first shift is the largest sideways one (same schedule as transfer.ts shiftFor)
    const firstShift = (seed: number) => {
      const r = mulberry32((seed * 7919) | 0);
      return [0, 0].map(() => Math.floor(r() * (2 * J + 1)) - J);
    };
    const seed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].sort((a, b) => Math.abs(firstShift(b)[1]) - Math.abs(firstShift(a)[1]))[0];
    const [dy, dx] = firstShift(seed);
    assert.ok(Math.abs(dx) >= 4);
    const W = 32, H = 24;
    // pixels the shifted view shows at all (the shift crops one side and mirrors the other)
    const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
    const seenRows = new Set(Array.from({ length: H }, (_, y) => reflect(y - dy, H)));
    const seenCols = new Set(Array.from({ length: W }, (_, x) => reflect(x - dx, W)));
    const left = mask(W, H, (x) => x < W / 2);
    const t = createStyleTransfer(identityNet(), {
      content: syntheticImage(W, H, 1),
      styles: [],
      regions: [{ image: styleA, scale: 1, mask: left }],
      // Grams only: the palette term is taken on the unshifted image and would move the region anyway.
      params: testParams({ resolution: W, contentWeight: 0, tvWeight: 0, paletteWeight: 0, jitter: J, seed, learningRate: 0.05 }),
    });
    const before = t.snapshot();
    await t.step();
    const after = t.snapshot();
    const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(after, before)), [0, 3]).arraySync() as number[][]);
    // feather radius at 32 px: 1 px, two passes → the mask reaches 2 px past its edge. Unshifted
    // masks would leak |dx| px past it (dx < 0) or leave |dx| columns inside unmoved (dx > 0).
    const reach = W / 2 + 2;
    let inside = 0;
    let movedInside = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (x >= reach) assert.equal(moved[y][x], 0, `pixel ${x},${y} outside the region moved by ${moved[y][x]} (shift ${dy},${dx})`);
        else if (x < W / 2 - 2 && seenRows.has(y) && seenCols.has(x)) {
          inside++;
          if (moved[y][x] > 1e-4) movedInside++;
        }
      }
    }
    assert.ok(inside > H * 8);
    assert.equal(movedInside, inside, `of ${inside} pixels inside the region that the shifted view shows, ${movedInside} moved (shift ${dy},${dx})`);
    tf.dispose([before, after]);
    t.dispose();
  });

  test('E38: a new mask recomputes masks only; a new region style computes its Grams once; steady state allocates nothing', async () => {
    const net = createRandomNet({ seed: 2 });
    const base: TransferInputs = {
      content,
      styles: [{ image: styleA, weight: 1, scale: 1 }],
      regions: [{ image: styleB, scale: 1, mask: mask(40, 30, (x) => x < 20) }],
      params: testParams({ jitter: 2 }),
    };
    const t = createStyleTransfer(net, base);
    await t.step();
    assert.deepEqual([t.counters.styleGrams, t.counters.regionMasks], [2, 1]);
    t.update({ regions: [{ image: styleB, scale: 1, mask: mask(40, 30, (x) => x < 25) }] });
    await t.step();
    assert.deepEqual([t.counters.styleGrams, t.counters.regionMasks], [2, 2], 'a repainted region costs a mask set, no Gram');
    t.update({ regions: [{ image: styleB, scale: 1, mask: mask(40, 30, (x) => x < 25) }, { image: styleA, scale: 1, mask: mask(40, 30, (x) => x > 30) }] });
    await t.step();
    assert.deepEqual([t.counters.styleGrams, t.counters.regionMasks], [2, 3], 'a region with a style already in use adds no Gram');
    t.update({ regions: [{ image: syntheticImage(20, 20, 9), scale: 1, mask: mask(40, 30, (x) => x > 30) }] });
    await t.step();
    assert.equal(t.counters.styleGrams, 3, 'a new region style: one Gram set');
    for (let i = 0; i < 16; i++) await t.step(); // every shift of the schedule seen: caches full
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 6; i++) await t.step();
    assert.equal(tf.memory().numTensors, tensors, 'E16: flat over steps with regions');
    t.update({ regions: [] });
    await t.step();
    t.dispose();
    net.dispose();
  });

  test('E2: a malformed region is refused with an error naming it', () => {
    const net = createRandomNet({ seed: 1 });
    const bad = (regions: unknown) => () => createStyleTransfer(net, { content, styles: [], regions: regions as TransferInputs['regions'], params: testParams() });
    assert.throws(bad([{ image: styleA, scale: 1, mask: { width: 4, height: 4, data: new Uint8Array(15) } }]), /regions\[0\]\.mask: data has 15 bytes/);
    assert.throws(bad([{ image: styleA, scale: 0, mask: mask(4, 4, () => true) }]), /regions\[0\]\.scale/);
    assert.throws(bad('x'), /regions must be an array/);
    const t = createStyleTransfer(net, { content, styles: [], params: testParams() });
    assert.throws(() => t.update({ regions: [{ image: styleA, scale: 1, mask: { width: 0, height: 4, data: new Uint8Array(0) } }] }), /regions\[0\]\.mask/);
    t.dispose();
    net.dispose();
  });
});
