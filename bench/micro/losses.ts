/**
 * Micro-benchmark (not a test): the loss building blocks as the engine computes them now vs the
 * straightforward tfjs formulations they replaced, interleaved in one process so that machine
 * load hits both alike. Also checks that both give the same values and gradients.
 *
 *   node --import tsx bench/micro/losses.ts [--backend wasm|cpu|webgpu] [--threads 1] [--rounds 8]
 *
 * - Gram matrix F^T F / n with its gradient: `tf.matMul(F, F, true, false)` + tape gradient
 *   (wasm sends transposed matMuls to a naive loop) vs losses.ts' explicit transpose + custom
 *   gradient, at MobileNetV2's style-layer shapes for 256 px.
 * - Total variation with its gradient at 256²: slices + tfjs abs vs losses.ts' depthwise [−1, 1]
 *   convolutions with a written-out adjoint.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../server/engine/platform/backend.ts';
import type { BackendName } from '../../server/engine/api.ts';
import { accurateSum, gramMatrix, totalVariation } from '../../server/engine/losses.ts';
import { arg } from './timing.ts';

const backend = await initBackend(arg('backend', 'wasm') as BackendName, { wasmThreads: Number(arg('threads', '1')) });
const rounds = Number(arg('rounds', '8'));

/** The formulation before: sign-gradient |x| on slice differences. */
const absSignGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return { value: tf.abs(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sign(saved[0])) };
});
function slicesTotalVariation(x: tf.Tensor4D): tf.Scalar {
  const [, h, w] = x.shape;
  const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1]));
  const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1]));
  return tf.add(accurateSum(absSignGrad(dy) as tf.Tensor), accurateSum(absSignGrad(dx) as tf.Tensor)) as tf.Scalar;
}
function matMulGram(f: tf.Tensor4D): tf.Tensor2D {
  const [, h, w, c] = f.shape;
  const flat = tf.reshape(f, [h * w, c]) as tf.Tensor2D;
  return tf.div(tf.matMul(flat, flat, true, false), h * w) as tf.Tensor2D;
}

/** Loss value and gradient of `loss(x)`, read back; returns [ms per call (median over rounds), gradient]. */
function gradOf(loss: (x: tf.Tensor4D) => tf.Scalar, x: tf.Tensor4D): tf.Tensor {
  return tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D))(x);
}

function compare(name: string, x: tf.Tensor4D, before: (x: tf.Tensor4D) => tf.Scalar, after: (x: tf.Tensor4D) => tf.Scalar): void {
  const times = { before: [] as number[], after: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const side of ['before', 'after'] as const) {
      const f = side === 'before' ? before : after;
      tf.tidy(() => void gradOf(f, x).dataSync()); // warm
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) tf.tidy(() => void gradOf(f, x).dataSync());
      times[side].push((performance.now() - t0) / 5);
    }
  }
  const diff = tf.tidy(() => {
    const a = gradOf(before, x);
    const b = gradOf(after, x);
    return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(tf.max(tf.abs(a)).dataSync()[0], 1e-30);
  });
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const [b, a] = [med(times.before), med(times.after)];
  console.log(`${name.padEnd(34)} before ${b.toFixed(1).padStart(7)} ms  after ${a.toFixed(1).padStart(7)} ms  ${(b / a).toFixed(2)}×  (gradient max rel diff ${diff.toExponential(1)})`);
}

console.log(`backend ${backend}; fwd+bwd per call, median of ${rounds} interleaved rounds`);
for (const [hw, c] of [[64, 144], [32, 192], [16, 384], [16, 576], [8, 960]]) {
  const f = tf.randomNormal([1, hw, hw, c], 0, 1, 'float32', c) as tf.Tensor4D;
  const w = tf.randomNormal([c, c], 0, 1, 'float32', 1);
  compare(`Gram ${hw}×${hw}×${c}`, f, (x) => tf.sum(tf.mul(matMulGram(x), w)), (x) => tf.sum(tf.mul(gramMatrix(x), w)));
}
const image = tf.randomUniform([1, 256, 256, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
compare('total variation 256×256×3', image, slicesTotalVariation, totalVariation);
