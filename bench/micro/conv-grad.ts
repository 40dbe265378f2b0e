/**
 * Micro-benchmark (not a test): forward and input-gradient time of single convolutions and pools
 * with tfjs's builtin gradients vs the gradients of conv.ts and pool.ts.
 *
 *   node --import tsx bench/micro/conv-grad.ts [--backend wasm|cpu|webgpu|tensorflow] [--repeat 3]
 *
 * Prints one line per case: forward ms, forward+backward ms for builtin and custom (median of the
 * repeats after one warm-up). "n/a" means the backend has no kernel for tfjs's gradient (wasm has
 * no DepthwiseConv2dNativeBackpropInput).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../server/engine/platform/backend.ts';
import type { BackendName } from '../../server/engine/api.ts';
import { Conv2D, DepthwiseConv2D, type ConvSpec } from '../../server/engine/ops/conv.ts';
import { arg, timeBuiltinAndCustom, timeMs } from './timing.ts';
import { pool2d, type PoolKind } from '../../server/engine/ops/pool.ts';

interface Case {
  name: string;
  input: [number, number, number, number];
  kernel: [number, number, number, number];
  strides: number;
  padding: 'same' | 'valid';
  depthwise?: boolean;
}

const CASES: Case[] = [
  { name: 'vgg-like 3x3 64->64 @128', input: [1, 128, 128, 64], kernel: [3, 3, 64, 64], strides: 1, padding: 'same' },
  { name: 'first conv 3x3 3->32 s2 @256', input: [1, 256, 256, 3], kernel: [3, 3, 3, 32], strides: 2, padding: 'same' },
  { name: '3x3 64->128 s2 @128', input: [1, 128, 128, 64], kernel: [3, 3, 64, 128], strides: 2, padding: 'same' },
  { name: '1x1 96->24 @64', input: [1, 64, 64, 96], kernel: [1, 1, 96, 24], strides: 1, padding: 'valid' },
  { name: 'inception 1x7 128->128 @32', input: [1, 32, 32, 128], kernel: [1, 7, 128, 128], strides: 1, padding: 'same' },
  { name: 'depthwise 3x3 x96 @128', input: [1, 128, 128, 96], kernel: [3, 3, 96, 1], strides: 1, padding: 'same', depthwise: true },
  { name: 'depthwise 3x3 x144 s2 @64', input: [1, 64, 64, 144], kernel: [3, 3, 144, 1], strides: 2, padding: 'same', depthwise: true },
];

const backend = await initBackend(arg('backend', 'wasm') as BackendName);
const repeat = Number(arg('repeat', '3'));
console.log(`backend ${backend}, median of ${repeat} after 1 warm-up; ms`);
console.log(['case', 'GFLOP fwd', 'fwd', 'fwd+bwd builtin', 'fwd+bwd custom', 'speed-up'].join('\t'));
for (const c of CASES) {
  const x = tf.randomUniform(c.input) as tf.Tensor4D;
  const spec: ConvSpec = {
    kernel: tf.randomNormal(c.kernel, 0, 0.1) as tf.Tensor4D,
    bias: tf.zeros([c.depthwise ? c.kernel[2] * c.kernel[3] : c.kernel[3]]) as tf.Tensor1D,
    strides: c.strides,
    padding: c.padding,
    activation: 'relu',
  };
  const layer = c.depthwise ? new DepthwiseConv2D(spec) : new Conv2D(spec);
  const y = layer.apply(x);
  const macsPerOutput = c.kernel[0] * c.kernel[1] * (c.depthwise ? 1 : c.kernel[2]);
  const gflop = (2 * y.size * macsPerOutput) / 1e9;
  y.dispose();
  const forward = await timeMs(() => layer.apply(x), repeat);
  const withGrad = () => tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t as tf.Tensor4D)))(x);
  const { builtin, custom } = await timeBuiltinAndCustom(withGrad, repeat);
  const fmt = (v: number | null) => (v == null ? 'n/a' : v.toFixed(1));
  console.log([c.name, gflop.toFixed(2), fmt(forward), fmt(builtin), fmt(custom), builtin == null ? '-' : (builtin / custom).toFixed(1) + 'x'].join('\t'));
  x.dispose();
  layer.dispose();
}

const POOLS: { name: string; input: [number, number, number, number]; size: number; strides: number; padding: 'same' | 'valid'; kind: PoolKind }[] = [
  { name: 'max 2x2/2 x64 @256 (vgg)', input: [1, 256, 256, 64], size: 2, strides: 2, padding: 'valid', kind: 'max' },
  { name: 'avg 2x2/2 x64 @256 (vgg avg)', input: [1, 256, 256, 64], size: 2, strides: 2, padding: 'valid', kind: 'avg' },
  { name: 'avg 3x3/1 same x192 @32 (inception)', input: [1, 32, 32, 192], size: 3, strides: 1, padding: 'same', kind: 'avg' },
];
for (const p of POOLS) {
  const x = tf.randomUniform(p.input) as tf.Tensor4D;
  const forward = await timeMs(() => pool2d(x, p.size, p.strides, p.padding, p.kind), repeat);
  const withGrad = () => tf.grad((t: tf.Tensor) => tf.sum(pool2d(t as tf.Tensor4D, p.size, p.strides, p.padding, p.kind)))(x);
  const { builtin, custom } = await timeBuiltinAndCustom(withGrad, repeat);
  console.log([p.name, '-', forward.toFixed(1), builtin?.toFixed(1) ?? 'n/a', custom.toFixed(1), builtin == null ? '-' : (builtin / custom).toFixed(1) + 'x'].join('\t'));
  x.dispose();
}
