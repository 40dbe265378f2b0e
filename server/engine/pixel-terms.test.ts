import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { colorMoments, covarianceOf, layoutLoss, layoutOf, paletteLoss, paletteTargetOf, sqrtmSpd } from './losses.ts';
import { createStyleTransfer } from './transfer.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';
import { rgbToTensor } from './tensor-image.ts';
import {
  PALETTE_DIRECTIONS,
  PALETTE_PAIRING_STEPS,
  PalettePairing,
  paletteCells,
  paletteDirections,
  paletteSamplesOfSync,
  slicedPaletteLoss,
  slicedPaletteTarget,
} from './sliced-palette.ts';

const value = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

describe('pixel-space terms: palette and layout', () => {
  before(useCpuBackend);

  test('E26: sqrtmSpd is the principal square root of a covariance', () => {
    const a = tf.tensor2d([
      [0.04, 0.01, -0.005],
      [0.01, 0.03, 0.002],
      [-0.005, 0.002, 0.02],
    ]);
    const r = sqrtmSpd(a);
    const back = tf.matMul(r, r);
    const err = value(tf.max(tf.abs(tf.sub(back, a))));
    assert.ok(err < 2e-5, `sqrt(A)^2 - A = ${err}`);
    const asym = value(tf.max(tf.abs(tf.sub(r, tf.transpose(r)))));
    assert.ok(asym < 1e-6);
    tf.dispose([a, r, back]);
  });

  test('E26: the palette loss is ~0 for the style itself, grows with a colour cast, and its gradient is exact', () => {
    const style = rgbToTensor(syntheticImage(20, 16, 2));
    const moments = colorMoments(style);
    const target = paletteTargetOf([{ ...moments, weight: 1 }]);
    assert.ok(value(paletteLoss(style, target)) < 1e-5);
    const cast = tf.clipByValue(tf.add(style, tf.tensor1d([0.1, 0, -0.1])), 0, 1) as tf.Tensor4D;
    assert.ok(value(paletteLoss(cast, target)) > 0.005);
    const x = rgbToTensor(syntheticImage(6, 5, 4));
    const g = tf.grad((t: tf.Tensor) => paletteLoss(t as tf.Tensor4D, target))(x);
    const gv = g.dataSync();
    const base = x.dataSync();
    const h = 1e-2;
    for (const i of [0, 7, 44, 89]) {
      const at = (d: number) => {
        const v = Float32Array.from(base);
        v[i] += d;
        const t = tf.tensor4d(v, x.shape as [number, number, number, number]);
        const out = value(paletteLoss(t, target));
        t.dispose();
        return out;
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(numeric - gv[i]) < 2e-3 + 0.05 * Math.abs(numeric), `[${i}] ${gv[i]} vs ${numeric}`);
    }
    tf.dispose([style, moments.mean, moments.second, target.mean, target.covSqrt, cast, x, g]);
  });

  test('E26: the palette target of several styles is the moments of their mixture', () => {
    const a = tf.fill([1, 4, 4, 3], 0.2) as tf.Tensor4D;
    const b = tf.fill([1, 4, 4, 3], 0.8) as tf.Tensor4D;
    const [ma, mb] = [colorMoments(a), colorMoments(b)];
    const t = paletteTargetOf([
      { ...ma, weight: 1 },
      { ...mb, weight: 3 },
    ]);
    // mixture mean 0.65, variance 0.25·0.75·0.6² = 0.0675 per channel, fully correlated channels
    const mean = Array.from(t.mean.dataSync());
    for (const m of mean) assert.ok(Math.abs(m - 0.65) < 1e-6);
    const cov = covarianceOf(tf.div(tf.add(tf.mul(ma.mean, 1), tf.mul(mb.mean, 3)), 4) as tf.Tensor1D, tf.div(tf.add(ma.second, tf.mul(mb.second, 3)), 4) as tf.Tensor2D);
    const back = tf.matMul(t.covSqrt, t.covSqrt);
    assert.ok(value(tf.max(tf.abs(tf.sub(back, cov)))) < 1e-4);
    tf.dispose([a, b, ma.mean, ma.second, mb.mean, mb.second, t.mean, t.covSqrt, cov, back]);
  });

  test('E26: the sliced palette loss is 0 for the style itself, matches a two-colour painting that the Gaussian term blurs, and its gradient is exact', () => {
    const dirs = tf.tensor2d(paletteDirections(), [3, PALETTE_DIRECTIONS]);
    const style = rgbToTensor(syntheticImage(32, 24, 2));
    const cells = (8 * 6);
    const sorted = slicedPaletteTarget([{ samples: paletteSamplesOfSync(style), weight: 1 }], cells);
    const target = { directions: dirs, sorted };
    assert.ok(value(slicedPaletteLoss(style, target)) < 1e-10);
    // A painting of two colours (left beige, right blue) and the grey-blue image with the same
    // mean and covariance along one axis: the Gaussian term cannot tell them apart, the sliced one can.
    const beige = [0.9, 0.8, 0.6];
    const blue = [0.1, 0.2, 0.5];
    const twoColour = tf.concat([tf.mul(tf.ones([1, 8, 4, 3]), tf.tensor1d(beige)), tf.mul(tf.ones([1, 8, 4, 3]), tf.tensor1d(blue))], 2) as tf.Tensor4D;
    const twoTarget = { directions: dirs, sorted: slicedPaletteTarget([{ samples: paletteSamplesOfSync(twoColour), weight: 1 }], 4) };
    const permuted = tf.reverse(twoColour, 2) as tf.Tensor4D;
    assert.ok(value(slicedPaletteLoss(permuted, twoTarget)) < 1e-10, 'the same colours elsewhere are the same palette');
    const mid = tf.mul(tf.ones([1, 8, 8, 3]), tf.tensor1d(beige.map((v, i) => (v + blue[i]) / 2))) as tf.Tensor4D;
    assert.ok(value(slicedPaletteLoss(mid, twoTarget)) > 0.05, 'the mean colour alone is not the palette');

    // Noise, not a smooth picture: finite differences need cells whose projections are not
    // near ties (where the rank, and so the derivative, jumps).
    const x = tf.randomUniform([1, 24, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const g = tf.grad((t: tf.Tensor) => slicedPaletteLoss(t as tf.Tensor4D, target))(x);
    const gv = g.dataSync();
    const base = x.dataSync();
    const h = 4e-3; // float32 losses: smaller steps drown in rounding
    for (const i of [0, 7, 500, 1333, 2301]) {
      const at = (d: number) => {
        const v = Float32Array.from(base);
        v[i] += d;
        const t = tf.tensor4d(v, x.shape as [number, number, number, number]);
        const out = value(slicedPaletteLoss(t, target));
        t.dispose();
        return out;
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(numeric - gv[i]) < 5e-7 + 0.03 * Math.abs(numeric), `[${i}] ${gv[i]} vs ${numeric}`);
    }
    tf.dispose([dirs, style, sorted, twoColour, twoTarget.sorted, permuted, mid, x, g]);
  });

  test("E26: paletteCells' written-out gradient is average pooling's, remainder rows and columns included", () => {
    for (const [h, w] of [
      [24, 32],
      [13, 10],
    ]) {
      const x = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', h + w);
      const dy = tf.randomUniform([Math.floor(h / 4) * Math.floor(w / 4), 3], -1, 1, 'float32', 3);
      const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(paletteCells(t as tf.Tensor4D), dy)))(x);
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.avgPool(t as tf.Tensor4D, 4, 4, 'valid'), [-1, 3]), dy)))(x);
      assert.ok(value(tf.max(tf.abs(tf.sub(ours, ref)))) < 1e-7, `${h}x${w}`);
      tf.dispose([x, dy, ours, ref]);
    }
  });

  test('E26: a kept pairing reuses its assignment for a few completed steps, bounding the exact loss from above', () => {
    const dirs = tf.tensor2d(paletteDirections(), [3, PALETTE_DIRECTIONS]);
    const style = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const x0 = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
    const exact = { directions: dirs, sorted: slicedPaletteTarget([{ samples: paletteSamplesOfSync(style), weight: 1 }], 64) };
    const kept = { ...exact, pairing: new PalettePairing() };
    // a fresh pairing is the exact assignment
    assert.ok(Math.abs(value(slicedPaletteLoss(x0, kept)) - value(slicedPaletteLoss(x0, exact))) < 1e-7);
    // the image moves: until the refresh the kept assignment costs at least the optimal one
    const x1 = tf.add(x0, tf.randomUniform(x0.shape, -0.3, 0.3, 'float32', 13)) as tf.Tensor4D;
    const optimal = value(slicedPaletteLoss(x1, exact));
    for (let step = 1; step < PALETTE_PAIRING_STEPS; step++) {
      kept.pairing.advance();
      assert.ok(value(slicedPaletteLoss(x1, kept)) > optimal, `step ${step}: the stale assignment is not the optimal one here`);
      assert.ok(value(slicedPaletteLoss(x1, kept)) > optimal, `step ${step}: evaluating again does not age it`);
    }
    // after PALETTE_PAIRING_STEPS completed steps it sorts again and is exact
    kept.pairing.advance();
    const fresh = value(slicedPaletteLoss(x1, kept));
    assert.ok(Math.abs(fresh - value(slicedPaletteLoss(x1, exact))) < 1e-7, 're-sorted');
    kept.pairing.dispose();
    tf.dispose([dirs, style, x0, x1, exact.sorted]);
  });

  test('E26: the sliced target of several styles is the quantiles of their weighted mixture', () => {
    const a = tf.fill([1, 4, 4, 3], 0.2) as tf.Tensor4D;
    const b = tf.fill([1, 8, 8, 3], 0.8) as tf.Tensor4D;
    // weights 1 : 3 over 4 output cells: one cell of a's colour, three of b's, whatever their sizes
    const t = slicedPaletteTarget([{ samples: paletteSamplesOfSync(a), weight: 1 }, { samples: paletteSamplesOfSync(b), weight: 3 }], 4);
    const red = Array.from(t.dataSync().slice(0, 4)); // direction 0 is the red axis, descending
    assert.deepEqual(red.map((v) => Math.round(v * 10) / 10), [0.8, 0.8, 0.8, 0.2]);
    tf.dispose([a, b, t]);
  });

  test('E27: the layout loss is 2 (1 − r) of the coarse luminance and ignores a change of brightness or contrast', () => {
    const c = rgbToTensor(syntheticImage(64, 48, 1));
    const target = layoutOf(c);
    assert.deepEqual(target.shape, [1, 6, 8, 1]);
    assert.ok(value(layoutLoss(c, target)) < 1e-6);
    const toned = tf.add(tf.mul(c, 0.5), 0.2) as tf.Tensor4D;
    assert.ok(value(layoutLoss(toned, target)) < 1e-5);
    const other = rgbToTensor(syntheticImage(64, 48, 7));
    const a = Array.from(layoutOf(other).dataSync());
    const b = Array.from(target.dataSync());
    const r = a.reduce((s, v, i) => s + v * b[i], 0) / a.length;
    assert.ok(Math.abs(value(layoutLoss(other, target)) - 2 * (1 - r)) < 1e-4);
    tf.dispose([c, target, toned, other]);
  });

  test('E25: shifts are seeded: the same seed repeats a run exactly, content targets stay within the 16 shifts', async () => {
    const net = createRandomNet();
    const run = async (seed: number) => {
      const st = createStyleTransfer(net, {
        content: syntheticImage(32, 24, 1),
        styles: [{ image: syntheticImage(24, 24, 2), weight: 1, scale: 1 }],
        params: testParams({ parameterization: 'pyramid', jitter: 4, seed, learningRate: 0.05 }),
      });
      const losses: number[] = [];
      for (let i = 0; i < 20; i++) losses.push((await st.step()).losses.total);
      const targets = st.counters.contentTargets;
      st.dispose();
      return { losses, targets };
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    assert.deepEqual(a.losses, b.losses);
    assert.notDeepEqual(a.losses, c.losses);
    assert.ok(a.targets > 1 && a.targets <= 16, `${a.targets} content target sets`);
    net.dispose();
  });

  test('E25: L-BFGS sees no shifts (one content target set, whatever the jitter)', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, {
      content: syntheticImage(32, 24, 1),
      styles: [{ image: syntheticImage(24, 24, 2), weight: 1, scale: 1 }],
      params: testParams({ optimizer: 'lbfgs', jitter: 4 }),
    });
    for (let i = 0; i < 5; i++) await st.step();
    assert.equal(st.counters.contentTargets, 1);
    st.dispose();
    net.dispose();
  });
});
