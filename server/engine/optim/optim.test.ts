import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { KerasAdam, kerasAlpha } from './adam.ts';
import { Lbfgs } from './lbfgs.ts';
import { useCpuBackend } from '../testing/helpers.ts';

describe('Adam (Keras epsilon-hat form)', () => {
  before(useCpuBackend);

  test('E8: two steps on f(x) = x^2 match the hand-computed Keras update, not the bias-corrected form', async () => {
    // lr 0.1, beta1 0.9, beta2 0.999, epsilon 0.1, x0 = 1, g = 2x. By hand:
    // t=1: m = 0.2, v = 0.004, lr_t = 0.1*sqrt(0.001)/0.1 = 0.0316228, x = 1 - lr_t*0.2/(sqrt(0.004)+0.1) = 0.9612574
    // t=2: g = 1.9225148, m = 0.3722515, v = 0.0076921, lr_t = 0.0235317, x = 0.9145899
    // (bias-corrected v would give 0.9047619 after the first step.)
    const adam = new KerasAdam({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 0.1 });
    const x = tf.variable(tf.tensor1d([1]));
    const expected = [0.9612574113277207, 0.9145898873324785];
    for (const want of expected) {
      const g = tf.mul(x, 2);
      const r = tf.tensor1d([0]);
      await adam.step(x, g, r);
      tf.dispose([g, r]);
      assert.ok(Math.abs(x.dataSync()[0] - want) < 2e-6, `x = ${x.dataSync()[0]}, want ${want}`);
    }
    assert.equal(adam.iterations, 2);
    assert.ok(Math.abs(adam.moments.m!.dataSync()[0] - 0.37225148226554405) < 1e-6);
    assert.ok(Math.abs(adam.moments.v!.dataSync()[0] - 0.00769206324332989) < 1e-8);
    adam.dispose();
    x.dispose();
  });

  test('E8: lr_t is computed in float32 as Keras does', () => {
    const a = kerasAlpha(0.02, 0.99, 0.999, 1);
    assert.equal(a, Math.fround(a));
    // float32(0.999) = 0.99900001287, so 1 - beta2 is 0.0010000467 in float32: a relative 2.3e-5 off float64.
    const f64 = (0.02 * Math.sqrt(1 - 0.999)) / (1 - 0.99);
    assert.notEqual(a, f64);
    assert.ok(Math.abs(a - f64) / f64 < 1e-4, `${a} vs ${f64}`);
  });

  test('E10: resizing resamples the moments to the new image size and keeps the step count', async () => {
    const adam = new KerasAdam({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const x = tf.variable(tf.ones([1, 4, 4, 3]));
    const g = tf.onesLike(x);
    const r = tf.zeros([1]);
    await adam.step(x, g, r);
    adam.resize([1, 8, 8, 3]);
    assert.deepEqual(adam.moments.m!.shape, [1, 8, 8, 3]);
    assert.deepEqual(adam.moments.v!.shape, [1, 8, 8, 3]);
    assert.equal(adam.iterations, 1);
    adam.dispose();
    tf.dispose([x, g, r]);
  });

  test('E2: invalid learning rates are rejected', () => {
    assert.throws(() => new KerasAdam({ learningRate: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }), /learning rate/);
  });
});

describe('L-BFGS (torch port, no line search)', () => {
  before(useCpuBackend);

  test('E8: minimizes a convex quadratic to 1e-6 in a few dozen iterations without leaking', async () => {
    const n = 10;
    // A = tridiagonal SPD (diag 1..10, off-diagonal 0.3), b = 1..10.
    const A: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? i + 1 : Math.abs(i - j) === 1 ? 0.3 : 0)));
    const b = Array.from({ length: n }, (_, i) => i + 1);
    const At = tf.tensor2d(A);
    const bt = tf.tensor1d(b);
    const f = (x: tf.Tensor) => tf.tidy(() => tf.sub(tf.mul(0.5, tf.sum(tf.mul(x, tf.squeeze(tf.matMul(At, tf.reshape(x, [n, 1])))))), tf.sum(tf.mul(bt, x))));
    // Reference minimum from the normal equations on the host (Gauss-Seidel converges for SPD).
    const xs = new Array(n).fill(0);
    for (let it = 0; it < 2000; it++) for (let i = 0; i < n; i++) xs[i] = (b[i] - A[i].reduce((s, a, j) => (j === i ? s : s + a * xs[j]), 0)) / A[i][i];
    const fStar = 0.5 * xs.reduce((s, xi, i) => s + xi * A[i].reduce((t, a, j) => t + a * xs[j], 0), 0) - b.reduce((s, bi, i) => s + bi * xs[i], 0);

    const opt = new Lbfgs({ historySize: 5 });
    const x = tf.variable(tf.zeros([n]));
    const before = tf.memory().numTensors;
    let loss = Infinity;
    let iters = 0;
    for (; iters < 40; iters++) {
      const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, [x]);
      const report = tf.reshape(value, [1]);
      loss = (await opt.step(x, grads[x.name], report))[0];
      tf.dispose([value, grads[x.name], report]);
      if (loss - fStar < 1e-6 && iters > 2) break;
    }
    const finalT = f(x);
    const final = finalT.dataSync()[0];
    finalT.dispose();
    assert.ok(final - fStar < 1e-5, `f = ${final}, f* = ${fStar}`);
    assert.ok(iters < 40, `took ${iters} iterations`);
    const err = Math.max(...Array.from(x.dataSync()).map((v, i) => Math.abs(v - xs[i])));
    assert.ok(err < 1e-3, `|x - x*| = ${err}`);
    assert.ok(opt.historyLength <= 5);
    const held = tf.memory().numTensors - before;
    assert.ok(held <= 2 * 5 + 2, `optimizer holds ${held} tensors`);
    opt.dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, At, bt]);
  });

  test('E8: follows torch.optim.LBFGS step for step (history 4, lr 1, max_iter 1 per step)', async () => {
    // f(x) = 1/2 x^T A x - b^T x + 0.1 sum x^4, A tridiagonal (1..6 / 0.3), b = 1..6, x0 = 0.5.
    // Trajectory from torch 1.13 (float64): opt = LBFGS([x], lr=1, max_iter=1, history_size=4);
    // opt.step(closure) fifteen times. Listed: x after steps 1, 2, 3, 6, 10.
    const torch: Record<number, number[]> = {
      1: [0.534482759, 0.574712644, 0.632183908, 0.689655172, 0.747126437, 0.82183908],
      2: [0.584377308, 0.664302332, 0.760285562, 0.826599059, 0.863134798, 0.921693402],
      3: [0.61087204, 0.694699465, 0.78224814, 0.828689949, 0.852126294, 0.911624693],
      6: [0.669881755, 0.710653843, 0.782446236, 0.82098991, 0.846546398, 0.909821118],
      10: [0.667719248, 0.71065827, 0.782756958, 0.822158551, 0.847503528, 0.907758657],
    };
    const n = 6;
    const A = tf.tensor2d(Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? i + 1 : Math.abs(i - j) === 1 ? 0.3 : 0))));
    const b = tf.range(1, n + 1);
    const x = tf.variable(tf.fill([n], 0.5));
    const opt = new Lbfgs({ historySize: 4 });
    const f = () =>
      tf.tidy(() =>
        tf.add(
          tf.sub(tf.mul(0.5, tf.sum(tf.mul(x, tf.squeeze(tf.matMul(A, tf.reshape(x, [n, 1])))))), tf.sum(tf.mul(b, x))),
          tf.mul(0.1, tf.sum(tf.pow(x, 4))),
        ),
      ) as tf.Scalar;
    for (let step = 1; step <= 10; step++) {
      const { value, grads } = tf.variableGrads(f, [x]);
      const report = tf.reshape(value, [1]);
      await opt.step(x, grads[x.name], report);
      tf.dispose([value, grads[x.name], report]);
      if (torch[step]) {
        const got = Array.from(x.dataSync());
        const err = Math.max(...got.map((v, k) => Math.abs(v - torch[step][k])));
        assert.ok(err < 1e-5, `step ${step}: ${got} vs torch ${torch[step]} (max error ${err})`);
      }
    }
    assert.equal(opt.historyLength, 4);
    opt.dispose();
    tf.dispose([A, b, x]);
  });

  test('E17: reset makes the next step a first iteration with an empty history', async () => {
    const opt = new Lbfgs();
    const x = tf.variable(tf.tensor1d([3, -2]));
    for (let i = 0; i < 3; i++) {
      const g = tf.mul(x, 2);
      const r = tf.zeros([1]);
      await opt.step(x, g, r);
      tf.dispose([g, r]);
    }
    assert.ok(opt.historyLength > 0);
    opt.objectiveChanged();
    assert.equal(opt.historyLength, 0);
    assert.equal(opt.iterations, 0);
    opt.dispose();
    x.dispose();
  });
});

describe('Adam forgetting (content write-in)', () => {
  before(useCpuBackend);

  test('E24: forget() makes masked coordinates take a fresh first step, others keep their state', async () => {
    const opts = { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const adam = new KerasAdam(opts);
    const fresh = new KerasAdam(opts);
    const x = tf.variable(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]));
    const g = tf.tensor4d([0.5, -1, 2, 0.25], [1, 2, 2, 1]);
    for (let i = 0; i < 5; i++) adam.apply(x, g);
    const twin = tf.variable(tf.clone(x));
    const ref = new KerasAdam(opts);
    for (let i = 0; i < 5; i++) ref.apply(tf.variable(tf.zeros([1, 2, 2, 1])), g);
    // forget the first two coordinates entirely
    adam.forget(tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]));
    const before = Array.from(x.dataSync());
    adam.apply(x, g);
    const moved = Array.from(x.dataSync()).map((v, i) => v - before[i]);
    // a fresh Adam's first step on the same gradient
    const y = tf.variable(tf.zeros([1, 2, 2, 1]));
    fresh.apply(y, g);
    const firstStep = Array.from(y.dataSync());
    // an Adam that never forgot, sixth step
    ref.apply(twin, g);
    const sixth = Array.from(twin.dataSync()).map((v, i) => v - before[i]);
    for (const i of [0, 1]) assert.ok(Math.abs(moved[i] - firstStep[i]) < 1e-6, `coordinate ${i}: ${moved[i]} vs fresh ${firstStep[i]}`);
    for (const i of [2, 3]) assert.ok(Math.abs(moved[i] - sixth[i]) < 1e-6, `coordinate ${i}: ${moved[i]} vs kept ${sixth[i]}`);
    adam.dispose();
    fresh.dispose();
    ref.dispose();
    tf.dispose([x, g, twin, y]);
  });
});
