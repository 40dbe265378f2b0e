/**
 * Max and average pooling whose input gradient avoids tfjs's MaxPoolGrad/AvgPoolGrad kernels.
 *
 * Why: on the wasm backend those gradient kernels are naive loops — a 2×2 max pool over
 * 256×256×64 takes ~5 ms forward and ~600 ms backward — and VGG19 has five pools at full
 * channel width. Here the gradient is built from strided slices, comparisons and zero-dilation
 * (all fast kernels on wasm):
 *
 *  - non-overlapping 'valid' pooling (window = stride, VGG19 and tiny): dx = up(dy) ⊙ [x = up(y)]
 *    for max, up(dy) / window for avg, where up is nearest-neighbour upsampling;
 *  - 'same' average pooling with stride 1 (Inception's branch pools): the window sum is
 *    symmetric, so dx = count ⊙ avgPool(dy ⊘ count), count = in-bounds inputs per window.
 *
 * This is also *more correct* than tfjs 4.22: its AvgPoolGrad divides by the full window size
 * even at borders where the forward pass divided by the in-bounds count.
 *
 * Max-pool ties: every input equal to its window's maximum receives the gradient (tfjs gives it
 * to one of them). In our networks pools follow ReLUs, where the only realistic ties are all-zero
 * windows, whose gradient the ReLU zeroes anyway. Other configurations ('same' max pooling,
 * strided 'same' average pooling, overlapping windows such as Inception's 3×3/2 max pools) use
 * tfjs's gradient (note: wasm's MaxPoolGrad drops windows whose maximum is negative; harmless
 * after a ReLU): a strided-slice formulation was tried and is slower on wasm (its StridedSlice
 * and Slice kernels are generic loops). `ENGINE_CONV_GRAD=builtin` (see conv.ts)
 * switches these off too.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.ts';
import { getConvGradientMode } from './conv.ts';

export type PoolKind = 'max' | 'avg';

/**
 * Nearest-neighbour upsampling by the pooling stride, zero-padded to the input size (rows/cols a
 * 'valid' pool dropped). A broadcast multiply: on wasm ~30× faster than tile, depthToSpace or
 * batchToSpace, which take slow generic paths.
 *
 * Only ever pad with 0 here: tfjs-backend-wasm 4.22 caches its XNNPACK pad operator without the
 * pad value, so after one pad with NaN every later constant pad in the process fills NaN.
 */
function upsample(t: tf.Tensor4D, sh: number, sw: number, H: number, W: number): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  // Rows, then columns, each a rank-4 broadcast (webgpu kernels handle at most 4 dimensions).
  const rows = tf.reshape(tf.mul(tf.reshape(t, [n * h, 1, w, c]), tf.ones([1, sh, 1, 1])), [n, h * sh, w, c]);
  const up = tf.reshape(tf.mul(tf.reshape(rows, [n * h * sh, w, 1, c]), tf.ones([1, 1, sw, 1])), [n, h * sh, w * sw, c]) as tf.Tensor4D;
  if (h * sh === H && w * sw === W) return up;
  return tf.pad(up, [[0, 0], [0, H - h * sh], [0, W - w * sw], [0, 0]]);
}

/**
 * Gradient of non-overlapping 'valid' pooling (window = stride). Max: dy goes to the inputs equal
 * to their window's maximum (inputs in dropped rows/cols may "match" the zero padding, but their
 * upsampled dy is zero). Avg: dy / window size to every input.
 */
function tiledPoolGrad(
  dy: tf.Tensor4D,
  inShape: [number, number, number, number],
  x: tf.Tensor4D | undefined,
  y: tf.Tensor4D | undefined,
  kind: PoolKind,
  [kh, kw]: [number, number],
): tf.Tensor4D {
  const [, H, W] = inShape;
  if (kind === 'avg') return upsample(tf.div(dy, kh * kw), kh, kw, H, W);
  const isMax = tf.cast(tf.equal(x!, upsample(y!, kh, kw, H, W)), 'float32');
  return tf.mul(upsample(dy, kh, kw, H, W), isMax);
}

function sameAvgPoolGrad(dy: tf.Tensor4D, inShape: [number, number, number, number], size: [number, number]): tf.Tensor4D {
  const [, H, W] = inShape;
  // in-bounds inputs per window: the box sum of ones with zero padding
  const ones = tf.ones([1, H, W, 1]) as tf.Tensor4D;
  const counts = tf.conv2d(ones, tf.ones([size[0], size[1], 1, 1]) as tf.Tensor4D, 1, 'same');
  return tf.mul(tf.avgPool(tf.div(dy, counts) as tf.Tensor4D, size, 1, 'same'), counts);
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * Max or average pooling (NHWC), differentiable w.r.t. `x` with the fast gradients above where
 * they apply.
 */
export function pool2d(
  x: tf.Tensor4D,
  size: number | [number, number],
  strides: number | [number, number],
  padding: 'same' | 'valid',
  kind: PoolKind,
): tf.Tensor4D {
  const k = pair(size);
  const s = pair(strides);
  const forward = (t: tf.Tensor4D) => (kind === 'max' ? tf.maxPool(t, k, s, padding) : tf.avgPool(t, k, s, padding));
  const customValid = padding === 'valid' && k[0] === s[0] && k[1] === s[1];
  const customSame = padding === 'same' && kind === 'avg' && s[0] === 1 && s[1] === 1 && k[0] % 2 === 1 && k[1] % 2 === 1;
  if (getConvGradientMode() === 'builtin' || !(customValid || customSame)) return forward(x);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const y = forward(input);
    save(kind === 'max' ? [input, y] : []);
    const inShape = input.shape;
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() =>
          customValid
            ? tiledPoolGrad(dy as tf.Tensor4D, inShape, saved[0] as tf.Tensor4D | undefined, saved[1] as tf.Tensor4D | undefined, kind, k)
            : sameAvgPoolGrad(dy as tf.Tensor4D, inShape, k),
        ),
    };
  });
  return op(x) as tf.Tensor4D;
}
