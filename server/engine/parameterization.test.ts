import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createParameterization, pyramidSizes, upsample2x, upsample2xAdjoint, PARAMETERIZATION_NAMES } from './parameterization.ts';
import { createStyleTransfer } from './transfer.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';
import { rgbToTensor } from './tensor-image.ts';
import { mirrorPad2d } from './ops/mirror-pad.ts';

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('image parameterizations', () => {
  before(useCpuBackend);

  test('E23: pyramid levels halve the size, rounding up', () => {
    assert.deepEqual(pyramidSizes(17, 10, 4), [
      { height: 17, width: 10 },
      { height: 9, width: 5 },
      { height: 5, width: 3 },
      { height: 3, width: 2 },
    ]);
  });

  test('E23: upsample2x is half-pixel bilinear upsampling with clamped edges', () => {
    for (const [h, w, H, W] of [
      [5, 6, 10, 12],
      [5, 6, 9, 11],
      [1, 3, 2, 5],
    ]) {
      const x = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', h * 7 + w);
      const ours = upsample2x(x as tf.Tensor4D, H, W);
      const full = tf.image.resizeBilinear(x as tf.Tensor4D, [2 * h, 2 * w], false, true);
      const ref = tf.slice(full, [0, 0, 0, 0], [1, H, W, 3]);
      assert.deepEqual(ours.shape, [1, H, W, 3]);
      assert.ok(maxAbsDiff(ours, ref) < 1e-6, `${h}x${w} -> ${H}x${W}`);
      tf.dispose([x, ours, full, ref]);
    }
  });

  test("E23: upsample2x's gradient is its exact adjoint, at even and cropped sizes", () => {
    for (const [h, w, H, W] of [
      [5, 6, 10, 12],
      [5, 6, 9, 11],
      [1, 3, 2, 5],
      [4, 4, 7, 8],
    ]) {
      const x = tf.randomUniform([1, h, w, 3], -1, 1, 'float32', h * 5 + w);
      const g = tf.randomUniform([1, H, W, 3], -1, 1, 'float32', H * 3 + W);
      // ⟨up(x), g⟩ = ⟨x, upᵀ(g)⟩ for random x and g holds only for the true transpose
      const lhs = tf.sum(tf.mul(upsample2x(x as tf.Tensor4D, H, W), g)).dataSync()[0];
      const adj = upsample2xAdjoint(g as tf.Tensor4D, h, w);
      const rhs = tf.sum(tf.mul(x, adj)).dataSync()[0];
      assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${h}x${w} -> ${H}x${W}: ${lhs} vs ${rhs}`);
      // and it is what autodiff gets through upsample2x
      const viaGrad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsample2x(t as tf.Tensor4D, H, W), g)))(x);
      assert.ok(maxAbsDiff(viaGrad, adj) < 1e-6);
      tf.dispose([x, g, adj, viaGrad]);
    }
  });

  for (const name of PARAMETERIZATION_NAMES) {
    test(`E23: ${name}: the image is exactly what was assigned, and add() adds exactly`, () => {
      const a = rgbToTensor(syntheticImage(13, 9, 1));
      const b = rgbToTensor(syntheticImage(13, 9, 2));
      const p = createParameterization(name, a, { levels: 3 });
      // let the coarse levels hold something, as they do after optimizing
      for (const v of p.variables.slice(1)) v.assign(tf.randomUniform(v.shape, -0.1, 0.1, 'float32', 3));
      p.assign(b);
      const r1 = p.render();
      // exact in RGB; within float32 rounding through the decorrelated colour basis and back
      assert.ok(maxAbsDiff(r1, b) <= (name === 'pyramid-decorrelated' ? 1e-6 : 0));
      const delta = tf.sub(a, b);
      p.add(delta as tf.Tensor4D);
      const r2 = p.render();
      assert.ok(maxAbsDiff(r2, a) < 1e-6);
      // add() writes into the finest variable only: its state is what a write-in must forget
      const masks = p.variableMasks(tf.ones([1, 9, 13, 1]));
      assert.deepEqual(masks[0]!.shape, [1, 9, 13, 1]);
      assert.ok(masks.slice(1).every((m) => m === null));
      tf.dispose([a, b, r1, r2, delta, masks[0]!]);
      p.dispose();
    });
  }

  test('E23: the pyramid image is a linear function of its levels, with exact gradients', () => {
    const img = rgbToTensor(syntheticImage(12, 10, 3));
    const p = createParameterization('pyramid', img, { levels: 3 });
    const weights = tf.randomUniform([1, 10, 12, 3], -1, 1, 'float32', 7);
    const f = () => tf.sum(tf.mul(tf.square(p.render()), weights)) as tf.Scalar;
    const { grads } = tf.variableGrads(f, p.variables as tf.Variable[]);
    const h = 1e-2;
    for (const [k, v] of p.variables.entries()) {
      const g = grads[v.name].dataSync();
      const base = v.dataSync().slice();
      for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
        const at = (d: number) => {
          const vals = Float32Array.from(base);
          vals[i] += d;
          v.assign(tf.tensor(vals, v.shape));
          const r = f();
          const out = r.dataSync()[0];
          r.dispose();
          return out;
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(base, v.shape));
        assert.ok(Math.abs(numeric - g[i]) < 2e-2 * Math.max(1, Math.abs(numeric)), `level ${k}[${i}]: ${g[i]} vs ${numeric}`);
      }
    }
    tf.dispose([img, weights, ...Object.values(grads)]);
    p.dispose();
  });

  test('E23: pullback is the adjoint of render: the gradient of the variables from the gradient of the image, every parameterization', () => {
    const img = rgbToTensor(syntheticImage(12, 11, 5));
    for (const name of PARAMETERIZATION_NAMES) {
      const p = createParameterization(name, img, { levels: 3 });
      const dImage = tf.randomUniform([1, 11, 12, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(p.render(), dImage)) as tf.Scalar, p.variables as tf.Variable[]);
      const pulled = p.pullback(dImage);
      assert.equal(pulled.length, p.variables.length, name);
      for (const [k, v] of p.variables.entries()) {
        assert.deepEqual(pulled[k].shape, v.shape, `${name} level ${k}`);
        const scale = tf.tidy(() => tf.max(tf.abs(grads[v.name])).dataSync()[0]);
        assert.ok(scale > 0 && maxAbsDiff(pulled[k], grads[v.name]) <= 1e-5 * scale, `${name} level ${k}`);
      }
      tf.dispose([dImage, ...pulled, ...Object.values(grads)]);
      p.dispose();
    }
    img.dispose();
  });

  test('E23: a transfer runs on each parameterization and keeps the image in [0, 1]; L-BFGS optimizes pixels', async () => {
    const net = createRandomNet();
    const content = syntheticImage(24, 18, 1);
    const style = syntheticImage(20, 20, 2);
    for (const parameterization of PARAMETERIZATION_NAMES) {
      const st = createStyleTransfer(net, {
        content,
        styles: [{ image: style, weight: 1, scale: 1 }],
        params: testParams({ parameterization, learningRate: 0.3, styleWeight: 50 }),
      });
      assert.equal(st.parameterization.name, parameterization);
      for (let i = 0; i < 4; i++) await st.step();
      const x = st.snapshot();
      const [lo, hi] = tf.tidy(() => [tf.min(x).dataSync()[0], tf.max(x).dataSync()[0]]);
      assert.ok(lo >= -1e-6 && hi <= 1 + 1e-6, `${parameterization}: [${lo}, ${hi}]`);
      x.dispose();
      st.update({ params: testParams({ parameterization, optimizer: 'lbfgs', preset: 'gatys2015' }) });
      assert.equal(st.parameterization.name, 'pixels');
      await st.step();
      st.dispose();
    }
    net.dispose();
  });

  test('E23: switching the parameterization restarts from the start image', async () => {
    const net = createRandomNet();
    const content = syntheticImage(24, 18, 1);
    const st = createStyleTransfer(net, {
      content,
      styles: [{ image: syntheticImage(20, 20, 2), weight: 1, scale: 1 }],
      params: testParams({ parameterization: 'pixels', learningRate: 0.2, resolution: 24 }),
    });
    for (let i = 0; i < 3; i++) await st.step();
    st.update({ params: testParams({ parameterization: 'pyramid', learningRate: 0.2, resolution: 24 }) });
    assert.equal(st.parameterization.name, 'pyramid');
    assert.equal(st.iter, 0);
    const x = st.snapshot();
    const c = rgbToTensor(content);
    assert.equal(maxAbsDiff(x, c), 0);
    tf.dispose([x, c]);
    st.dispose();
    net.dispose();
  });
});

describe('mirror padding', () => {
  before(useCpuBackend);

  test('E25: mirrorPad2d matches tf.mirrorPad and its gradient folds the mirrored copies back', () => {
    for (const mode of ['reflect', 'symmetric'] as const) {
      const x = tf.randomUniform([1, 5, 6, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
      const ours = mirrorPad2d(x, 2, 3, mode);
      const ref = tf.mirrorPad(x, [[0, 0], [2, 2], [3, 3], [0, 0]], mode);
      assert.equal(maxAbsDiff(ours, ref), 0);
      // d/dx sum(w * pad(x)): every input value collects the weights of all its copies
      const w = tf.randomUniform(ours.shape, -1, 1, 'float32', 5);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(mirrorPad2d(t as tf.Tensor4D, 2, 3, mode), w)))(x);
      const wv = w.arraySync() as number[][][][];
      const expected = tf.buffer(x.shape);
      const src = (i: number, n: number, p: number) => {
        const j = i - p;
        if (j < 0) return mode === 'reflect' ? -j : -j - 1;
        if (j >= n) return mode === 'reflect' ? 2 * n - 2 - j : 2 * n - 1 - j;
        return j;
      };
      for (let i = 0; i < 9; i++) for (let j = 0; j < 12; j++) for (let c = 0; c < 2; c++) {
        const [a, b] = [src(i, 5, 2), src(j, 6, 3)];
        expected.set(expected.get(0, a, b, c) + wv[0][i][j][c], 0, a, b, c);
      }
      assert.ok(maxAbsDiff(g, expected.toTensor()) < 1e-5, mode);
      tf.dispose([x, ours, ref, w, g]);
    }
  });
});
