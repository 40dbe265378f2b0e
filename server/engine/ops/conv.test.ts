import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../platform/backend.ts';
import { Conv2D, DepthwiseConv2D, setConvGradientMode, getConvGradientMode, type ConvActivation, type ConvPadding } from './conv.ts';

/** Deterministic pseudo-random tensor (tf.randomNormal with a seed is fine too, but this is obvious). */
function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

function applyActivation(x: tf.Tensor4D, activation: ConvActivation): tf.Tensor4D {
  if (activation === 'relu') return tf.relu(x);
  if (activation === 'relu6') return tf.relu6(x);
  return x;
}

interface Case {
  name: string;
  input: [number, number, number, number];
  kernel: [number, number, number, number];
  strides: number | [number, number];
  padding: ConvPadding;
  activation: ConvActivation;
  depthwise?: boolean;
}

const cases: Case[] = [
  { name: '3x3 same stride 1 relu', input: [1, 9, 8, 3], kernel: [3, 3, 3, 5], strides: 1, padding: 'same', activation: 'relu' },
  { name: '3x3 same stride 2 even size', input: [1, 8, 10, 4], kernel: [3, 3, 4, 6], strides: 2, padding: 'same', activation: 'linear' },
  { name: '3x3 same stride 2 odd size relu6', input: [1, 9, 7, 3], kernel: [3, 3, 3, 4], strides: 2, padding: 'same', activation: 'relu6' },
  { name: '3x3 valid stride 2', input: [1, 11, 10, 2], kernel: [3, 3, 2, 3], strides: 2, padding: 'valid', activation: 'relu' },
  { name: '1x1 valid stride 1', input: [2, 5, 6, 7], kernel: [1, 1, 7, 4], strides: 1, padding: 'valid', activation: 'relu' },
  { name: '1x1 valid stride 2 drops rows', input: [1, 6, 7, 3], kernel: [1, 1, 3, 2], strides: 2, padding: 'valid', activation: 'linear' },
  { name: '5x5 explicit padding', input: [1, 7, 7, 2], kernel: [5, 5, 2, 3], strides: 1, padding: [[2, 1], [0, 2]], activation: 'relu' },
  { name: '7x7 same stride 2', input: [1, 13, 12, 3], kernel: [7, 7, 3, 4], strides: 2, padding: 'same', activation: 'relu' },
  { name: '1x7 and asymmetric strides', input: [1, 9, 12, 3], kernel: [1, 7, 3, 2], strides: [2, 1], padding: 'same', activation: 'relu' },
  { name: '7x1 valid', input: [1, 10, 6, 3], kernel: [7, 1, 3, 2], strides: 1, padding: 'valid', activation: 'linear' },
  { name: 'depthwise 3x3 same stride 1 relu6', input: [1, 8, 9, 4], kernel: [3, 3, 4, 1], strides: 1, padding: 'same', activation: 'relu6', depthwise: true },
  { name: 'depthwise 3x3 valid stride 2 after explicit pad', input: [1, 9, 10, 3], kernel: [3, 3, 3, 1], strides: 2, padding: [[0, 1], [0, 1]], activation: 'relu6', depthwise: true },
  { name: 'depthwise 3x3 same stride 2', input: [1, 10, 10, 5], kernel: [3, 3, 5, 1], strides: 2, padding: 'same', activation: 'linear', depthwise: true },
  { name: 'depthwise channel multiplier 2', input: [1, 7, 8, 3], kernel: [3, 3, 3, 2], strides: 1, padding: 'same', activation: 'relu', depthwise: true },
];

/** Plain tfjs ops with tfjs's own gradients: the reference. */
function reference(c: Case, x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  let input = x;
  let pad: 'same' | 'valid' = c.padding === 'same' ? 'same' : 'valid';
  if (Array.isArray(c.padding)) {
    input = tf.pad(x, [[0, 0], c.padding[0], c.padding[1], [0, 0]]);
    pad = 'valid';
  }
  const conv = c.depthwise ? tf.depthwiseConv2d(input, kernel, c.strides, pad) : tf.conv2d(input, kernel, c.strides, pad);
  return applyActivation(tf.add(conv, bias), c.activation);
}

describe('custom conv input gradients', () => {
  before(async () => {
    await initBackend('cpu');
  });

  for (const [i, c] of cases.entries()) {
    test(`O1: ${c.name}: forward and input gradient equal tfjs's builtin ones`, () => {
      const x = rand(c.input, 10 + i) as tf.Tensor4D;
      const kernel = rand(c.kernel, 100 + i) as tf.Tensor4D;
      const outChannels = c.depthwise ? c.kernel[2] * c.kernel[3] : c.kernel[3];
      const bias = tf.mul(rand([outChannels], 200 + i), 0.5) as tf.Tensor1D;
      const layer = c.depthwise
        ? new DepthwiseConv2D({ kernel: tf.clone(kernel), bias: tf.clone(bias), strides: c.strides, padding: c.padding, activation: c.activation })
        : new Conv2D({ kernel: tf.clone(kernel), bias: tf.clone(bias), strides: c.strides, padding: c.padding, activation: c.activation });
      const expectedY = reference(c, x, kernel, bias);
      const r = rand(expectedY.shape, 300 + i);
      const lossOf = (f: (t: tf.Tensor4D) => tf.Tensor4D) => (t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), r));
      const y = layer.apply(x);
      assert.deepEqual(y.shape, expectedY.shape);
      assert.ok(maxAbsDiff(y, expectedY) < 1e-4, `forward differs by ${maxAbsDiff(y, expectedY)}`);

      const expectedDx = tf.grad(lossOf((t) => reference(c, t, kernel, bias)))(x);
      const dx = tf.grad(lossOf((t) => layer.apply(t)))(x);
      assert.deepEqual(dx.shape, x.shape);
      const scale = Math.max(1, maxAbs(expectedDx));
      assert.ok(maxAbs(expectedDx) > 0, 'reference gradient is all zeros: the case tests nothing');
      assert.ok(maxAbsDiff(dx, expectedDx) / scale < 1e-4, `input gradient differs by ${maxAbsDiff(dx, expectedDx)}`);
      tf.dispose([x, kernel, bias, expectedY, r, y, expectedDx, dx]);
      layer.dispose();
    });
  }

  test('O1: builtin mode gives the same gradient as custom mode', () => {
    const x = rand([1, 9, 9, 3], 1) as tf.Tensor4D;
    const layer = new Conv2D({ kernel: rand([3, 3, 3, 4], 2) as tf.Tensor4D, bias: rand([4], 3) as tf.Tensor1D, strides: 2, padding: 'same', activation: 'relu' });
    const loss = (t: tf.Tensor) => tf.sum(tf.square(layer.apply(t as tf.Tensor4D)));
    const custom = tf.grad(loss)(x);
    assert.equal(getConvGradientMode(), 'custom');
    setConvGradientMode('builtin');
    try {
      const builtin = tf.grad(loss)(x);
      assert.ok(maxAbsDiff(custom, builtin) / Math.max(1, maxAbs(builtin)) < 1e-4);
      builtin.dispose();
    } finally {
      setConvGradientMode('custom');
    }
    tf.dispose([x, custom]);
    layer.dispose();
  });

  test('O1: gradient computation leaks no tensors beyond its result', () => {
    const x = rand([1, 8, 8, 3], 4) as tf.Tensor4D;
    const layer = new DepthwiseConv2D({ kernel: rand([3, 3, 3, 1], 5) as tf.Tensor4D, strides: 2, padding: 'same', activation: 'relu6' });
    // the first call builds the cached backward kernel, which belongs to the layer
    tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t as tf.Tensor4D)))(x).dispose();
    const before = tf.memory().numTensors;
    const dx = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t as tf.Tensor4D)))(x);
    assert.equal(tf.memory().numTensors, before + 1);
    dx.dispose();
    const beforeDispose = tf.memory().numTensors;
    layer.dispose();
    assert.equal(tf.memory().numTensors, beforeDispose - 2, 'dispose frees the kernel and the backward kernel');
    x.dispose();
  });

  test('O1: on the wasm backend the custom gradient equals the cpu builtin gradient for every case', async () => {
    const expected: { y: Float32Array; dx: Float32Array }[] = [];
    const run = (c: Case, i: number, useReference: boolean) =>
      tf.tidy(() => {
        const x = rand(c.input, 10 + i) as tf.Tensor4D;
        const kernel = rand(c.kernel, 100 + i) as tf.Tensor4D;
        const outChannels = c.depthwise ? c.kernel[2] * c.kernel[3] : c.kernel[3];
        const bias = tf.mul(rand([outChannels], 200 + i), 0.5) as tf.Tensor1D;
        const spec = { kernel: tf.clone(kernel), bias: tf.clone(bias), strides: c.strides, padding: c.padding, activation: c.activation };
        const layer = c.depthwise ? new DepthwiseConv2D(spec) : new Conv2D(spec);
        const f = (t: tf.Tensor4D) => (useReference ? reference(c, t, kernel, bias) : layer.apply(t));
        const y = f(x);
        const r = rand(y.shape, 300 + i);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), r)))(x);
        return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
      });
    for (const [i, c] of cases.entries()) expected.push(run(c, i, true));
    await initBackend('wasm');
    try {
      for (const [i, c] of cases.entries()) {
        const got = run(c, i, false);
        const diff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j])), 0);
        const scale = Math.max(1, ...expected[i].dx.map(Math.abs));
        assert.ok(diff(got.y, expected[i].y) < 1e-3, `${c.name}: wasm forward differs by ${diff(got.y, expected[i].y)}`);
        assert.ok(diff(got.dx, expected[i].dx) / scale < 1e-4, `${c.name}: wasm gradient differs by ${diff(got.dx, expected[i].dx)}`);
      }
    } finally {
      await initBackend('cpu');
    }
  });

  test('O3: bad specs are rejected with a clear error', () => {
    const k = tf.zeros([3, 3, 2, 4]) as tf.Tensor4D;
    assert.throws(() => new Conv2D({ kernel: k, bias: tf.zeros([3]) as tf.Tensor1D }), /bias has 3 values for 4 output channels/);
    assert.throws(() => new Conv2D({ kernel: k, padding: [[-1, 0], [0, 0]] }), /non-negative/);
    assert.throws(() => setConvGradientMode('fast' as never), /unknown conv gradient mode/);
    k.dispose();
  });
});
