/**
 * Colour control after Gatys, Ecker, Bethge, Hertzmann & Shechtman (2016), "Controlling
 * Perceptual Factors in Neural Style Transfer", section 5:
 *
 * - luminance-only transfer: content and style are reduced to their luminance (YIQ Y, the style's
 *   luminance first matched to the content's mean and standard deviation), the network sees only
 *   the luminance of the optimized image, and the output takes its Y from the result and its I/Q
 *   chroma from the content;
 * - colour histogram matching: the style image's pixels are mapped by the affine transform
 *   x' = A (x - mu_S) + mu_C with A = Sigma_C^(1/2) Sigma_S^(-1/2), so the style's colour mean and
 *   covariance equal the content's before any style feature is taken (the paper's linear method).
 *
 * Statistics are computed on the CPU from the 8-bit images (no tensor readbacks); transforms run
 * as tensor ops. All values are in [0, 1] units.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbImage } from './api.ts';

export type Mat3 = number[][];
type Vec3 = [number, number, number];

/** NTSC RGB -> YIQ (rows: Y, I, Q), as used by the paper. */
export const RGB_TO_YIQ: Mat3 = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];

/** Exact inverse of {@link RGB_TO_YIQ}, so RGB -> YIQ -> RGB is the identity up to float error. */
export const YIQ_TO_RGB: Mat3 = invert3(RGB_TO_YIQ);

export function invert3(m: Mat3): Mat3 {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new Error('invert3: singular matrix');
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

function mul3(a: Mat3, b: Mat3): Mat3 {
  return a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
}

export function transpose3(m: Mat3): Mat3 {
  return [0, 1, 2].map((i) => [m[0][i], m[1][i], m[2][i]]);
}

/** Eigen-decomposition of a symmetric 3x3 matrix by cyclic Jacobi rotations: m = V diag(values) V^T. */
export function symmetricEigen3(m: Mat3): { values: Vec3; vectors: Mat3 } {
  const a = m.map((r) => [...r]);
  const v: Mat3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      if (Math.abs(a[p][q]) < 1e-300) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2]], vectors: v };
}

/** f applied to the eigenvalues of a symmetric matrix: V diag(f(lambda)) V^T. */
function symmetricFunction(m: Mat3, f: (x: number) => number): Mat3 {
  const { values, vectors } = symmetricEigen3(m);
  const scaled = vectors.map((row) => row.map((x, j) => x * f(values[j])));
  return mul3(scaled, transpose3(vectors));
}

/** Colour mean and covariance of an image's pixels, in [0, 1] units. */
export interface ColorStats {
  mean: Vec3;
  cov: Mat3;
}

/** Per-channel mean and 3x3 covariance of the pixels (population covariance). */
export function colorStats(img: RgbImage): ColorStats {
  const n = img.width * img.height;
  const sum = [0, 0, 0];
  const sq = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] / 255;
    const g = d[i + 1] / 255;
    const b = d[i + 2] / 255;
    sum[0] += r;
    sum[1] += g;
    sum[2] += b;
    sq[0][0] += r * r;
    sq[0][1] += r * g;
    sq[0][2] += r * b;
    sq[1][1] += g * g;
    sq[1][2] += g * b;
    sq[2][2] += b * b;
  }
  const mean: Vec3 = [sum[0] / n, sum[1] / n, sum[2] / n];
  const cov: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = i; j < 3; j++) {
      cov[i][j] = cov[j][i] = sq[i][j] / n - mean[i] * mean[j];
    }
  }
  return { mean, cov };
}

/** Regulariser added to the style covariance before its inverse square root (flat or grey styles). */
const COV_EPSILON = 1e-5;

/**
 * The affine map y = matrix * x + offset that gives pixels with statistics `from` the mean and
 * covariance of `to`: matrix = Sigma_to^(1/2) Sigma_from^(-1/2) (symmetric square roots by
 * eigen-decomposition), offset = mu_to - matrix * mu_from.
 */
export function colorTransferTransform(from: ColorStats, to: ColorStats): { matrix: Mat3; offset: Vec3 } {
  const sqrtTo = symmetricFunction(to.cov, (x) => Math.sqrt(Math.max(x, 0)));
  const invSqrtFrom = symmetricFunction(from.cov, (x) => 1 / Math.sqrt(Math.max(x, 0) + COV_EPSILON));
  const matrix = mul3(sqrtTo, invSqrtFrom);
  const offset = [0, 1, 2].map(
    (i) => to.mean[i] - (matrix[i][0] * from.mean[0] + matrix[i][1] * from.mean[1] + matrix[i][2] * from.mean[2]),
  ) as Vec3;
  return { matrix, offset };
}

/** y = matrix * x + offset per pixel of a `[1, H, W, 3]` tensor. */
export function applyColorTransform(x: tf.Tensor4D, matrix: Mat3, offset: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const flat = tf.reshape(x, [h * w, 3]);
    const out = tf.add(tf.matMul(flat, tf.tensor2d(matrix), false, true), tf.tensor1d([...offset]));
    return tf.reshape(out, [1, h, w, 3]);
  });
}

/**
 * Histogram-matched style (the paper's linear colour transfer): `style` ([1, H, W, 3]) with its
 * colour mean/covariance mapped to `contentStats`. Clipped to [0, 1] unless `clip` is false.
 */
export function matchColorHistogram(
  style: tf.Tensor4D,
  styleStats: ColorStats,
  contentStats: ColorStats,
  clip = true,
): tf.Tensor4D {
  const { matrix, offset } = colorTransferTransform(styleStats, contentStats);
  return tf.tidy(() => {
    const mapped = applyColorTransform(style, matrix, offset);
    return clip ? tf.clipByValue(mapped, 0, 1) : mapped;
  });
}

/** YIQ channels of a `[1, H, W, 3]` RGB tensor. */
export function rgbToYiq(x: tf.Tensor4D): tf.Tensor4D {
  return applyColorTransform(x, RGB_TO_YIQ, [0, 0, 0]);
}

export function yiqToRgb(x: tf.Tensor4D): tf.Tensor4D {
  return applyColorTransform(x, YIQ_TO_RGB, [0, 0, 0]);
}

/** `[1, H, W, 1]` luminance (YIQ Y). Differentiable; this is what the network sees in luminance mode. */
export function luminance(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const y = tf.matMul(tf.reshape(x, [h * w, 3]), tf.tensor2d([RGB_TO_YIQ[0]]), false, true);
    return tf.reshape(y, [1, h, w, 1]);
  });
}

/** Luminance replicated to three channels: a grey RGB image the network can take. */
export function luminanceAsRgb(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.tile(luminance(x), [1, 1, 1, 3]));
}

/** Mean and standard deviation of the luminance of an 8-bit image, in [0, 1] units. */
export function luminanceStats(img: RgbImage): { mean: number; std: number } {
  const { mean, cov } = colorStats(img);
  const wY = RGB_TO_YIQ[0];
  const m = wY[0] * mean[0] + wY[1] * mean[1] + wY[2] * mean[2];
  let v = 0;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += wY[i] * cov[i][j] * wY[j];
  return { mean: m, std: Math.sqrt(Math.max(v, 0)) };
}

/**
 * The paper's luminance matching: L' = sigma_C / sigma_S (L_S - mu_S) + mu_C, applied to the
 * style's luminance, returned as a grey RGB image (not clipped: the network takes any values).
 */
export function matchedLuminanceAsRgb(
  style: tf.Tensor4D,
  styleLuma: { mean: number; std: number },
  contentLuma: { mean: number; std: number },
): tf.Tensor4D {
  const gain = styleLuma.std > 1e-6 ? contentLuma.std / styleLuma.std : 1;
  return tf.tidy(() => {
    const y = luminance(style);
    const matched = tf.add(tf.mul(tf.sub(y, styleLuma.mean), gain), contentLuma.mean);
    return tf.tile(matched, [1, 1, 1, 3]) as tf.Tensor4D;
  });
}

/**
 * RGB image whose luminance comes from `lumaSource` and whose I/Q chroma comes from
 * `chromaSource` (same size): the output step of luminance-only transfer. Not clipped.
 */
export function combineLuminanceAndChroma(lumaSource: tf.Tensor4D, chromaSource: tf.Tensor4D): tf.Tensor4D {
  if (lumaSource.shape.join() !== chromaSource.shape.join()) {
    throw new Error(`combineLuminanceAndChroma: shapes differ ([${lumaSource.shape}] vs [${chromaSource.shape}])`);
  }
  return tf.tidy(() => {
    const y = luminance(lumaSource);
    const iq = tf.slice(rgbToYiq(chromaSource), [0, 0, 0, 1], [-1, -1, -1, 2]);
    return yiqToRgb(tf.concat([y, iq], 3) as tf.Tensor4D);
  });
}
