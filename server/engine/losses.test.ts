import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { accurateSum, contentLayerLoss, featureStyleLoss, gramMatrix, softmaxFeatures, styleLayerLoss, targetEnergy, totalVariation } from './losses.ts';
import { useCpuBackend } from './testing/helpers.ts';

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

describe('loss building blocks', () => {
  before(useCpuBackend);

  test('E6: the Gram matrix is F^T F / (H W), as the TF tutorial computes it', () => {
    // H=1, W=2, C=2: positions (1, 2) and (3, 4).
    const f = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]);
    const g = gramMatrix(f);
    // F^T F = [[1+9, 2+12], [2+12, 4+16]] = [[10, 14], [14, 20]]; / 2
    assert.deepEqual(Array.from(g.dataSync()), [5, 7, 7, 10]);
    tf.dispose([f, g]);
  });

  test('E6: the Gram gradient equals the gradient of the plain transposed matMul, also for a non-symmetric upstream gradient', () => {
    const f = tf.randomNormal([1, 3, 4, 5], 0, 1, 'float32', 7) as tf.Tensor4D;
    const w = tf.randomNormal([5, 5], 0, 1, 'float32', 8); // not symmetric
    const viaGram = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gramMatrix(x as tf.Tensor4D), w)))(f);
    const viaMatMul = tf.grad((x: tf.Tensor) => {
      const flat = tf.reshape(x, [12, 5]) as tf.Tensor2D;
      return tf.sum(tf.mul(tf.div(tf.matMul(flat, flat, true, false), 12), w));
    })(f);
    const a = viaGram.dataSync();
    const b = viaMatMul.dataSync();
    for (let i = 0; i < b.length; i++) close(a[i], b[i], 1e-5);
    tf.dispose([f, w, viaGram, viaMatMul]);
  });

  test('E6: total variation sums absolute neighbour differences in both directions over all channels', () => {
    // 2x2 image, one channel per pixel repeated in 3 channels with different scales.
    const values: number[] = [];
    const px = [
      [0, 1],
      [3, 7],
    ];
    for (const row of px) for (const v of row) values.push(v, 2 * v, 0);
    const x = tf.tensor4d(values, [1, 2, 2, 3]);
    // vertical: |3-0| + |7-1| = 9; horizontal: |1-0| + |7-3| = 5; per-channel scale 1 + 2 + 0.
    const tv = totalVariation(x);
    close(tv.dataSync()[0], (9 + 5) * 3);
    tf.dispose([x, tv]);
  });

  test('E6: the total-variation gradient is 0 at exactly equal neighbours (sign, not tfjs abs)', () => {
    const x = tf.tensor4d([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [1, 2, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => totalVariation(t as tf.Tensor4D))(x);
    assert.deepEqual(Array.from(g.dataSync()), new Array(12).fill(0));
    const y = tf.tensor4d([0, 1], [1, 1, 2, 1]);
    const gy = tf.grad((t: tf.Tensor) => totalVariation(t as tf.Tensor4D))(y);
    assert.deepEqual(Array.from(gy.dataSync()), [-1, 1]);
    tf.dispose([x, g, y, gy]);
  });

  test('E6: content losses follow each convention (mean, half sum, relative)', () => {
    const f = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]);
    const p = tf.tensor4d([1, 0, 3, 1], [1, 1, 2, 2]);
    // squared errors 0, 4, 0, 9 -> sum 13; sum P^2 = 1 + 0 + 9 + 1 = 11
    close(contentLayerLoss(f, p, 'mse').dataSync()[0], 13 / 4);
    close(contentLayerLoss(f, p, 'gatys').dataSync()[0], 13 / 2);
    close(contentLayerLoss(f, p, 'relative').dataSync()[0], 13 / 11);
    tf.dispose([f, p]);
  });

  test('E6: style losses follow each convention; gatys equals 1/(4 N^2 M^2) sum of unnormalised Gram errors', () => {
    const fx = tf.tensor4d([1, 2, 3, 4, 0, 1], [1, 1, 3, 2]); // M = 3 positions, N = 2 channels
    const fs = tf.tensor4d([2, 0, 1, 1, 1, 3], [1, 1, 3, 2]);
    const g = gramMatrix(fx);
    const a = gramMatrix(fs);
    const raw = (t: number[]) => [
      t[0] * t[0] + t[2] * t[2] + t[4] * t[4],
      t[0] * t[1] + t[2] * t[3] + t[4] * t[5],
      t[0] * t[1] + t[2] * t[3] + t[4] * t[5],
      t[1] * t[1] + t[3] * t[3] + t[5] * t[5],
    ];
    const G = raw([1, 2, 3, 4, 0, 1]);
    const A = raw([2, 0, 1, 1, 1, 3]);
    const sse = G.reduce((s, v, i) => s + (v - A[i]) ** 2, 0);
    const N = 2;
    const M = 3;
    close(styleLayerLoss(g, a, 'gatys').dataSync()[0], sse / (4 * N * N * M * M));
    close(styleLayerLoss(g, a, 'mse').dataSync()[0], sse / (M * M) / 4);
    const sumA2 = A.reduce((s, v) => s + (v / M) ** 2, 0);
    close(styleLayerLoss(g, a, 'relative').dataSync()[0], sse / (M * M) / sumA2);
    tf.dispose([fx, fs, g, a]);
  });

  test('E6: a layer with fewer positions than channels gets the same style loss and gradient through its row Gram as through the C×C Gram', () => {
    // 2×3 positions, 10 channels: featureStyleLoss takes the row-Gram path; styleLayerLoss(gramMatrix) is the definition.
    const f = tf.randomNormal([1, 2, 3, 10], 0, 1, 'float32', 11) as tf.Tensor4D;
    const a = tf.tidy(() => gramMatrix(tf.randomNormal([1, 4, 5, 10], 0.5, 1, 'float32', 12) as tf.Tensor4D));
    const energy = targetEnergy(a);
    for (const kind of ['relative', 'mse', 'gatys'] as const) {
      const viaGram = (x: tf.Tensor) => styleLayerLoss(gramMatrix(x as tf.Tensor4D), a, kind);
      const viaRows = (x: tf.Tensor) => featureStyleLoss(x as tf.Tensor4D, a, kind, energy);
      close(viaRows(f).dataSync()[0], viaGram(f).dataSync()[0], 1e-5);
      const [g1, g2] = [tf.grad(viaGram)(f), tf.grad(viaRows)(f)];
      const mag = tf.max(tf.abs(g1)).dataSync()[0];
      const err = tf.max(tf.abs(tf.sub(g1, g2))).dataSync()[0];
      assert.ok(mag > 0 && err <= 1e-5 * mag, `${kind}: gradients differ by ${err} (max ${mag})`);
      tf.dispose([g1, g2]);
    }
    tf.dispose([f, a, energy]);
  });

  test('E6: blocked sums equal the float64 sum of their elements and have gradient one', () => {
    const n = 256 * 256 + 77; // two levels of blocks plus a ragged tail
    const values = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 997);
    const x = tf.tensor1d(values);
    const exact = values.reduce((a, b) => a + b, 0);
    close(accurateSum(x).dataSync()[0], exact, 1e-6);
    const g = tf.grad((t: tf.Tensor) => accurateSum(t))(x);
    assert.ok(g.dataSync().every((v) => v === 1));
    tf.dispose([x, g]);
  });

  test('E19: softmax features are a distribution over the whole layer, scaled by its size', () => {
    const f = tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 1, 3, 2]);
    const s = softmaxFeatures(f);
    const v = Array.from(s.dataSync());
    close(v.reduce((a, b) => a + b, 0), 6);
    const z = [0, 1, 2, 3, 4, 5].reduce((acc, k) => acc + Math.exp(k), 0);
    close(v[5], (6 * Math.exp(5)) / z);
    tf.dispose([f, s]);
  });
});
