/**
 * Image parameterizations: how the optimized image is made of the variables the optimizer moves
 * (Mordvintsev et al., "Differentiable Image Parameterizations", Distill 2018).
 *
 * - `pixels`: one variable, the image itself (Gatys et al.; the TF tutorial).
 * - `pyramid`: a Laplacian-style pyramid of `levels` variables at full, 1/2, 1/4 … resolution;
 *   the image is L0 + up(L1 + up(L2 + …)) with 2× bilinear upsampling (nested, so a coarse level
 *   reaches the image through a smooth B-spline-like kernel rather than one big bilinear tent).
 *   The upsampling ({@link upsample2x}) is tf.image.resizeBilinear with a gradient of our own:
 *   tfjs 4.22's ResizeBilinearGrad ignores half-pixel centres and, on cpu, swaps height and width
 *   of its result, so the built-in gradient of a resize is wrong or fails.
 *   The image is the same function of fewer, coarser numbers for low frequencies, and Adam
 *   normalises each level's step separately, so low frequencies (palette, large strokes) move as
 *   fast per step as fine detail does — pixel-space Adam moves them 4^k times slower. On the
 *   embedded networks that is the difference between "photo with grain" and a painting within a
 *   live budget (docs/STYLIZATION.md).
 *
 * - `pyramid-decorrelated`: the same pyramid in a decorrelated colour basis (ImageNet's colour
 *   covariance square root, as Mordvintsev et al. do): a step of the same size moves luminance
 *   4–8× more than chroma, as natural images and paintings vary, instead of moving R, G and B
 *   independently (which is colour speckle).
 *
 * Whatever the parameterization, the image is a *linear* function of the variables, so writing
 * into it is exact: {@link ImageParameterization.add} adds a pixel-space delta to the finest
 * level, and {@link ImageParameterization.assign} puts a whole image there and zeroes the
 * coarser levels. That is what the engine's content write-in, restart and [0, 1] projection use
 * (SPEC E23–E25).
 */
import * as tf from '@tensorflow/tfjs-core';
import { resizeImage } from './tensor-image.ts';
import { sliceAlong } from './ops/mirror-pad.ts';
import { invert3, transpose3 } from './color.ts';
import { PARAMETERIZATION_NAMES, type ParameterizationName } from '../../shared/names.ts';

export { PARAMETERIZATION_NAMES, type ParameterizationName } from '../../shared/names.ts';

export interface ImageParameterization {
  readonly name: ParameterizationName;
  /** What the optimizer updates, finest first. */
  readonly variables: readonly tf.Variable[];
  readonly height: number;
  readonly width: number;
  /** The image `[1, H, W, 3]`, differentiable w.r.t. {@link variables}. Use inside a tidy/tape. */
  render(): tf.Tensor4D;
  /**
   * The adjoint of {@link render} (render is linear): the gradient of each variable, finest first,
   * from the gradient `dImage` of the image (`[1, H, W, 3]`, not disposed). Lets a caller
   * differentiate w.r.t. an image it already has instead of rendering it again under the tape.
   */
  pullback(dImage: tf.Tensor4D): tf.Tensor4D[];
  /** Makes the image exactly `image` (`[1, H, W, 3]`, not disposed). */
  assign(image: tf.Tensor4D): void;
  /** Adds `delta` (`[1, H, W, 3]`, not disposed) to the image, exactly. */
  add(delta: tf.Tensor4D): void;
  /**
   * Which values of each variable {@link add} overwrote when it wrote into the pixels of `mask`
   * (`[1, H, W, 1]` in [0, 1], not disposed): one mask per variable, shaped like it (channels
   * broadcast), or null for a variable `add` does not touch. The caller disposes them. Used to
   * forget optimizer state where the image was overwritten (E24).
   */
  variableMasks(mask: tf.Tensor4D): (tf.Tensor4D | null)[];
  /** Resamples every variable to a new image size (bilinear, half-pixel centres). */
  resize(height: number, width: number): void;
  dispose(): void;
}

/** Taps of 2× bilinear upsampling with half-pixel centres, seen from the source pixel. */
const UP_TAPS = [0.25, 0.75, 0.75, 0.25];

/**
 * Bilinear 2× upsampling with half-pixel centres and clamped edges,
 * `tf.image.resizeBilinear(x, [2h, 2w], false, true)`, cropped to `height`×`width` (2h or
 * 2h − 1): out[2j] = ¾x[j] + ¼x[j−1], out[2j+1] = ¾x[j] + ¼x[j+1].
 *
 * The forward pass is the backend's resize kernel; the gradient is written here
 * ({@link upsample2xAdjoint}) because tfjs 4.22's ResizeBilinearGrad ignores half-pixel centres
 * and, on cpu, swaps height and width of its result. Both are tested: the forward against the
 * formula above, the gradient as the exact adjoint (⟨up(x), g⟩ = ⟨x, upᵀ(g)⟩). This replaced a
 * padded dense 3→3 transposed convolution plus crops, which cost ~35 ms of a 256 px step on wasm.
 */
export function upsample2x(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (height > 2 * h || width > 2 * w) throw new Error(`upsample2x: ${h}x${w} cannot become ${height}x${width}`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const full = tf.image.resizeBilinear(args[0] as tf.Tensor4D, [2 * h, 2 * w], false, true);
    const value = height === 2 * h && width === 2 * w ? full : sliceAlong(sliceAlong(full, 1, 0, height), 2, 0, width);
    return { value, gradFunc: (dy: tf.Tensor) => upsample2xAdjoint(dy as tf.Tensor4D, h, w) };
  });
  return op(x) as tf.Tensor4D;
}

/**
 * The transpose of {@link upsample2x}: each source pixel gathers its four taps from the gradient
 * image. A cropped-off last row/column contributed nothing (zero pad to 2h×2w), the clamped edge
 * sends its ¼ back to the edge pixel (1-pixel edge replication), and the gather is a stride-2
 * depthwise convolution with the taps' outer product.
 */
export function upsample2xAdjoint(dy: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width, c] = dy.shape;
    const even = height === 2 * h && width === 2 * w ? dy : tf.pad(dy, [[0, 0], [0, 2 * h - height], [0, 2 * w - width], [0, 0]]);
    const edged = tf.mirrorPad(even, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric');
    const filter = tf.buffer([4, 4, c, 1]);
    for (let ky = 0; ky < 4; ky++) for (let kx = 0; kx < 4; kx++) for (let ch = 0; ch < c; ch++) filter.set(UP_TAPS[ky] * UP_TAPS[kx], ky, kx, ch, 0);
    return tf.depthwiseConv2d(edged, filter.toTensor() as tf.Tensor4D, 2, 'valid');
  });
}

/** Sizes of the pyramid's levels: each is the previous one halved, rounded up. */
export function pyramidSizes(height: number, width: number, levels: number): { height: number; width: number }[] {
  const out = [{ height, width }];
  for (let k = 1; k < levels; k++) {
    const prev = out[k - 1];
    out.push({ height: Math.ceil(prev.height / 2), width: Math.ceil(prev.width / 2) });
  }
  return out;
}

class PixelImage implements ImageParameterization {
  readonly name = 'pixels' as const;
  private x: tf.Variable<tf.Rank.R4>;

  constructor(image: tf.Tensor4D) {
    this.x = tf.variable(image, true);
  }
  get variables(): readonly tf.Variable[] {
    return [this.x];
  }
  get height(): number {
    return this.x.shape[1];
  }
  get width(): number {
    return this.x.shape[2];
  }
  render(): tf.Tensor4D {
    // A copy, not the variable: callers may dispose what they get, and tidy must own it.
    return tf.clone(this.x);
  }
  pullback(dImage: tf.Tensor4D): tf.Tensor4D[] {
    return [tf.clone(dImage)];
  }
  assign(image: tf.Tensor4D): void {
    this.x.assign(image);
  }
  add(delta: tf.Tensor4D): void {
    tf.tidy(() => this.x.assign(tf.add(this.x, delta)));
  }
  variableMasks(mask: tf.Tensor4D): (tf.Tensor4D | null)[] {
    return [tf.clone(mask)];
  }
  resize(height: number, width: number): void {
    const next = resizeImage(this.x, height, width);
    this.x.dispose();
    this.x = tf.variable(next, true);
    next.dispose();
  }
  dispose(): void {
    this.x.dispose();
  }
}

/**
 * Square root of ImageNet's colour covariance (Mordvintsev et al., lucid's
 * `color_correlation_svd_sqrt`), columns: a luminance-like axis and two chroma axes. Divided by
 * its largest column norm below, so the luminance axis keeps unit scale and the chroma axes get
 * 0.27 and 0.13 of it.
 */
const COLOR_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];

/** rgb = z · Mᵀ with M the normalised matrix above; also Mᵀ's inverse for writing pixels in. */
function colorBasis(): { toRgb: number[][]; fromRgb: number[][] } {
  const norm = Math.max(...[0, 1, 2].map((j) => Math.hypot(COLOR_SQRT[0][j], COLOR_SQRT[1][j], COLOR_SQRT[2][j])));
  const m = COLOR_SQRT.map((row) => row.map((v) => v / norm));
  const mt = transpose3(m);
  return { toRgb: mt, fromRgb: invert3(mt) };
}

/** `[1, H, W, 3]` times a 3×3 matrix on the colour axis (differentiable, rank ≤ 4). */
function mixColors(x: tf.Tensor4D, matrix: number[][]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    return tf.reshape(tf.matMul(tf.reshape(x, [h * w, 3]), tf.tensor2d(matrix)), [1, h, w, 3]) as tf.Tensor4D;
  });
}

class PyramidImage implements ImageParameterization {
  readonly name: 'pyramid' | 'pyramid-decorrelated';
  private levels: tf.Variable<tf.Rank.R4>[];
  /** Colour basis of the variables (decorrelated variant), else null (RGB). */
  private readonly basis: { toRgb: number[][]; fromRgb: number[][] } | null;

  constructor(image: tf.Tensor4D, count: number, decorrelated: boolean) {
    if (!Number.isInteger(count) || count < 1 || count > 8) throw new Error(`pyramid levels must be an integer in [1, 8] (got ${count})`);
    this.name = decorrelated ? 'pyramid-decorrelated' : 'pyramid';
    this.basis = decorrelated ? colorBasis() : null;
    const [, h, w] = image.shape;
    this.levels = pyramidSizes(h, w, count).map((s, k) =>
      k === 0 ? tf.variable(this.fromRgb(image), true) : tf.variable(tf.zeros([1, s.height, s.width, 3]), true),
    );
  }

  private fromRgb(x: tf.Tensor4D): tf.Tensor4D {
    return this.basis ? mixColors(x, this.basis.fromRgb) : tf.clone(x);
  }
  get variables(): readonly tf.Variable[] {
    return this.levels;
  }
  get height(): number {
    return this.levels[0].shape[1];
  }
  get width(): number {
    return this.levels[0].shape[2];
  }
  render(): tf.Tensor4D {
    return tf.tidy(() => {
      let acc: tf.Tensor4D = this.levels[this.levels.length - 1];
      for (let k = this.levels.length - 2; k >= 0; k--) {
        const [, h, w] = this.levels[k].shape;
        acc = tf.add(this.levels[k], upsample2x(acc, h, w));
      }
      if (this.basis) return mixColors(acc, this.basis.toRgb);
      return this.levels.length === 1 ? tf.clone(acc) : acc;
    });
  }
  pullback(dImage: tf.Tensor4D): tf.Tensor4D[] {
    return tf.tidy(() => {
      // rgb = acc₀·M, acc_k = L_k + up(acc_k+1): dL₀ = d acc₀ = d rgb·Mᵀ, dL_k+1 = upᵀ(dL_k).
      let g = this.basis ? mixColors(dImage, transpose3(this.basis.toRgb)) : tf.clone(dImage);
      const out = [g];
      for (let k = 1; k < this.levels.length; k++) {
        const [, h, w] = this.levels[k].shape;
        g = upsample2xAdjoint(g, h, w);
        out.push(g);
      }
      return out;
    });
  }
  assign(image: tf.Tensor4D): void {
    tf.tidy(() => {
      this.levels[0].assign(this.fromRgb(image));
      for (let k = 1; k < this.levels.length; k++) this.levels[k].assign(tf.zerosLike(this.levels[k]));
    });
  }
  add(delta: tf.Tensor4D): void {
    tf.tidy(() => this.levels[0].assign(tf.add(this.levels[0], this.fromRgb(delta))));
  }
  variableMasks(mask: tf.Tensor4D): (tf.Tensor4D | null)[] {
    // add() writes into L0 only: the coarser levels still hold the low frequencies of the painting
    // around and under the change, and keep their state (forgetting them too made the first steps
    // after a stroke move every level by a full learning rate: a visible blotch).
    return this.levels.map((_, k) => (k === 0 ? tf.clone(mask) : null));
  }
  resize(height: number, width: number): void {
    const sizes = pyramidSizes(height, width, this.levels.length);
    this.levels = this.levels.map((v, k) => {
      const next = resizeImage(v, sizes[k].height, sizes[k].width);
      v.dispose();
      const nv = tf.variable(next, true);
      next.dispose();
      return nv;
    });
  }
  dispose(): void {
    for (const v of this.levels) v.dispose();
  }
}

export interface ParameterizationOptions {
  /** Pyramid levels (finest included); default 4. */
  levels?: number;
}

/** A parameterization of `name` holding `image` (`[1, H, W, 3]`, not disposed). */
export function createParameterization(
  name: ParameterizationName,
  image: tf.Tensor4D,
  options: ParameterizationOptions = {},
): ImageParameterization {
  if (name === 'pixels') return new PixelImage(image);
  if (name === 'pyramid' || name === 'pyramid-decorrelated') return new PyramidImage(image, options.levels ?? 4, name === 'pyramid-decorrelated');
  throw new Error(`unknown parameterization '${String(name)}' (expected one of ${PARAMETERIZATION_NAMES.join(', ')})`);
}
