import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../platform/backend.ts';
import { pool2d, type PoolKind } from './pool.ts';

interface Case {
  kind: PoolKind;
  input: [number, number, number, number];
  size: number;
  strides: number;
  padding: 'same' | 'valid';
}

const cases: Case[] = [
  { kind: 'max', input: [1, 8, 10, 3], size: 2, strides: 2, padding: 'valid' },
  { kind: 'max', input: [1, 9, 7, 2], size: 2, strides: 2, padding: 'valid' },
  { kind: 'max', input: [1, 11, 12, 3], size: 3, strides: 2, padding: 'valid' },
  { kind: 'max', input: [2, 9, 9, 2], size: 3, strides: 1, padding: 'valid' },
  { kind: 'max', input: [1, 8, 8, 2], size: 3, strides: 2, padding: 'same' },
  { kind: 'avg', input: [1, 8, 10, 3], size: 2, strides: 2, padding: 'valid' },
  { kind: 'avg', input: [1, 11, 12, 3], size: 3, strides: 2, padding: 'valid' },
  { kind: 'avg', input: [1, 9, 8, 4], size: 3, strides: 1, padding: 'same' },
  { kind: 'avg', input: [1, 10, 10, 2], size: 5, strides: 1, padding: 'same' },
  { kind: 'avg', input: [1, 9, 9, 2], size: 3, strides: 2, padding: 'same' },
];

/**
 * 'same' stride-1 average pooling as plain differentiable ops (box sum / in-bounds count). The
 * reference for those cases, because tfjs's own AvgPoolGrad divides by the full window size even
 * where the forward pass divided by the smaller in-bounds count (wrong at the borders; the test
 * below checks that against finite differences).
 */
function boxAverage(t: tf.Tensor4D, size: number): tf.Tensor4D {
  const c = t.shape[3];
  const sum = tf.depthwiseConv2d(t, tf.ones([size, size, c, 1]) as tf.Tensor4D, 1, 'same');
  const count = tf.conv2d(tf.ones([1, t.shape[1], t.shape[2], 1]) as tf.Tensor4D, tf.ones([size, size, 1, 1]) as tf.Tensor4D, 1, 'same');
  return tf.div(sum, count);
}

describe('pooling with fast input gradients', () => {
  before(async () => {
    await initBackend('cpu');
  });

  for (const [n, c] of cases.entries()) {
    test(`O2: ${c.kind} ${c.size}x${c.size} stride ${c.strides} ${c.padding} on [${c.input}]: forward and gradient equal tfjs's`, () => {
      tf.tidy(() => {
        // random normal values: no ties inside a window
        const x = tf.randomNormal(c.input, 0, 1, 'float32', 40 + n) as tf.Tensor4D;
        const reference = (t: tf.Tensor4D) =>
          c.kind === 'max'
            ? tf.maxPool(t, c.size, c.strides, c.padding)
            : c.padding === 'same' && c.strides === 1
              ? boxAverage(t, c.size)
              : tf.avgPool(t, c.size, c.strides, c.padding);
        const y = pool2d(x, c.size, c.strides, c.padding, c.kind);
        const want = reference(x);
        assert.deepEqual(y.shape, want.shape);
        assert.ok(tf.max(tf.abs(tf.sub(y, want))).dataSync()[0] < 1e-6);
        const r = tf.randomNormal(want.shape, 0, 1, 'float32', 80 + n);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool2d(t as tf.Tensor4D, c.size, c.strides, c.padding, c.kind), r)))(x);
        const dxWant = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t as tf.Tensor4D), r)))(x);
        assert.ok(tf.max(tf.abs(dxWant)).dataSync()[0] > 0);
        assert.ok(tf.max(tf.abs(tf.sub(dx, dxWant))).dataSync()[0] < 1e-5, `gradient differs by ${tf.max(tf.abs(tf.sub(dx, dxWant))).dataSync()[0]}`);
      });
    });
  }

  test("O2: 'same' average pooling's gradient matches finite differences at the borders", () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 5, 5, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      const f = (t: tf.Tensor) => tf.sum(tf.square(pool2d(t as tf.Tensor4D, 3, 1, 'same', 'avg')));
      const dx = tf.grad(f)(x).dataSync();
      const xs = x.dataSync();
      const eps = 1e-2;
      for (const i of [0, 1, 6, 12]) {
        const plus = Float32Array.from(xs);
        plus[i] += eps;
        const minus = Float32Array.from(xs);
        minus[i] -= eps;
        const fd = (f(tf.tensor4d(plus, x.shape)).dataSync()[0] - f(tf.tensor4d(minus, x.shape)).dataSync()[0]) / (2 * eps);
        assert.ok(Math.abs(fd - dx[i]) < 1e-3, `element ${i}: finite difference ${fd}, gradient ${dx[i]}`);
      }
    });
  });

  test('O2: max-pool ties after a ReLU give the same image gradient as tfjs', () => {
    tf.tidy(() => {
      // half the inputs are negative, so many 2x2 windows are all-zero after the ReLU
      const x = tf.sub(tf.randomUniform([1, 8, 8, 2], 0, 1, 'float32', 5), 0.7) as tf.Tensor4D;
      const f = (pool: (t: tf.Tensor4D) => tf.Tensor4D) => (t: tf.Tensor) => tf.sum(tf.square(pool(tf.relu(t as tf.Tensor4D))));
      const dx = tf.grad(f((t) => pool2d(t, 2, 2, 'valid', 'max')))(x);
      const dxWant = tf.grad(f((t) => tf.maxPool(t, 2, 2, 'valid')))(x);
      assert.ok(tf.max(tf.abs(tf.sub(dx, dxWant))).dataSync()[0] < 1e-6);
    });
  });

  test('O2: on the wasm backend the pooling gradients equal the cpu ones', async () => {
    const run = () =>
      tf.tidy(() =>
        cases.map((c, n) => {
          // positive inputs, as after the ReLUs our pools follow: tfjs-backend-wasm 4.22's own
          // MaxPoolGrad (used for overlapping windows) drops windows whose maximum is negative
          const x = tf.abs(tf.randomNormal(c.input, 0, 1, 'float32', 40 + n)) as tf.Tensor4D;
          return Array.from(tf.grad((t: tf.Tensor) => tf.sum(tf.square(pool2d(t as tf.Tensor4D, c.size, c.strides, c.padding, c.kind))))(x).dataSync());
        }),
      );
    const onCpu = run();
    await initBackend('wasm');
    try {
      const onWasm = run();
      onCpu.forEach((want, n) => assert.ok(want.every((v, i) => Math.abs(v - onWasm[n][i]) < 1e-5), `case ${n}`));
    } finally {
      await initBackend('cpu');
    }
  });
});
