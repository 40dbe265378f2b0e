/**
 * The differentiable pieces of the style-transfer objective: Gram matrices, per-layer content and
 * style losses under each preset's convention, total variation, and {@link transferLoss}, which
 * assembles the weighted total for one image.
 *
 * Gram targets are always stored normalised by the number of positions, G = F^T F / (H W)
 * (the TF tutorial's `gram_matrix`). That makes Grams of a style image and of the optimized image
 * comparable even when they have different sizes (style scale), and every preset's own
 * normalisation is expressed on top of it (see {@link styleLayerLoss}).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNetwork, FeatureTransformName, LayerWeight, Pooling } from './api.ts';
import './ops/gradients.ts';
import { pool2d } from './ops/pool.ts';
import { applyColorTransform, RGB_TO_YIQ } from './color.ts';
import { concatAlong, mirroredStrip, sliceAlong } from './ops/mirror-pad.ts';
import { slicedPaletteLoss, type SlicedPaletteTarget } from './sliced-palette.ts';

/** Elements summed per level by {@link accurateSum}. */
const SUM_BLOCK = 256;

/**
 * Sum of all elements as a tree of blocks of {@link SUM_BLOCK}: tfjs' wasm `Sum` accumulates
 * sequentially in float32, which is off by 1e-6..1e-5 relative over 1e4..1e6 elements (enough
 * to miss the TF tutorial's losses by 1e-4); blocked it stays near 1e-8. Differentiable.
 */
export function accurateSum(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    let t: tf.Tensor = tf.reshape(x, [-1]);
    while (t.size > SUM_BLOCK) {
      const blocks = Math.ceil(t.size / SUM_BLOCK);
      const padded = blocks * SUM_BLOCK === t.size ? t : tf.pad(t, [[0, blocks * SUM_BLOCK - t.size]]);
      t = tf.sum(tf.reshape(padded, [blocks, SUM_BLOCK]), 1);
    }
    return tf.sum(t) as tf.Scalar;
  });
}

/** Mean of all elements via {@link accurateSum}. */
export function accurateMean(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(accurateSum(x), x.size) as tf.Scalar);
}

/**
 * `F^T F / n` for `F` = `[n, C]`, with the gradient `F (dG + dG^T) / n`.
 *
 * Why not `tf.matMul(F, F, true, false)` and its tape gradient: tfjs-backend-wasm sends any
 * matMul with a transpose flag to a naive loop, ~10× slower than XNNPACK's path for plain
 * matMuls, and the tape gradient of a matMul is two transposed matMuls. With an explicit transpose
 * of F (a cheap copy) both directions are plain matMuls. On MobileNetV2 at 256 px the Gram
 * matrices took ~75% of a step before this.
 */
export const gramOfRows = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const flat = args[0] as tf.Tensor2D;
  (args[1] as tf.GradSaveFunc)([flat]);
  const n = flat.shape[0];
  return {
    value: tf.div(tf.matMul(tf.transpose(flat), flat), n),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.div(tf.matMul(saved[0] as tf.Tensor2D, tf.add(dy, tf.transpose(dy)) as tf.Tensor2D), n),
  };
});

/** Gram matrix of `[1, H, W, C]` features: `[C, C]` = F^T F / (H W). */
export function gramMatrix(features: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [, h, w, c] = features.shape;
    return gramOfRows(tf.reshape(features, [h * w, c])) as tf.Tensor2D;
  });
}

/**
 * Per-channel neighbour difference `x[i+1] − x[i]` along H (`[2,1,C,1]`) or W (`[1,2,C,1]`);
 * `sign` −1 gives the flipped kernel of the adjoint. Made per call (a few numbers): a cache would
 * outlive the transfers that own every other tensor.
 */
function differenceKernel(axis: 'h' | 'w', channels: number, sign: 1 | -1): tf.Tensor4D {
  const taps = [Array<number>(channels).fill(-sign), Array<number>(channels).fill(sign)];
  return tf.reshape(tf.tensor2d(taps), axis === 'h' ? [2, 1, channels, 1] : [1, 2, channels, 1]);
}

/**
 * Total variation with its gradient written out: the neighbour differences are depthwise
 * convolutions with `[−1, 1]` kernels, |d| has the subgradient sign(d) (0 at 0, as TensorFlow's
 * `abs`; tfjs' own gives −1 there, which matters for flat 8-bit regions), and the adjoint of a
 * difference is a convolution of the zero-padded signs with the flipped kernel.
 *
 * Why not slices and tfjs' tape: on wasm `Slice` and its gradient (`Pad`) are generic loops; the
 * slice formulation took 21.5 ms fwd+bwd at 256² against 11.5 ms here (bench/micro/losses.ts).
 */
const totalVariationOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D;
  const save = args[1] as tf.GradSaveFunc;
  const [, h, w, c] = x.shape;
  const terms: tf.Scalar[] = [];
  const axes: ('h' | 'w')[] = [];
  const signs: tf.Tensor4D[] = [];
  for (const axis of ['h', 'w'] as const) {
    if ((axis === 'h' ? h : w) < 2) continue;
    const kernel = differenceKernel(axis, c, 1);
    const d = tf.depthwiseConv2d(x, kernel, 1, 'valid');
    terms.push(accurateSum(tf.abs(d)));
    axes.push(axis);
    signs.push(tf.sign(d));
  }
  save(signs); // intermediate tensors of the forward pass are freed unless saved
  const value = terms.length ? terms.reduce((a, b) => tf.add(a, b) as tf.Scalar) : tf.scalar(0);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      let g: tf.Tensor = tf.zerosLike(x);
      for (const [i, axis] of axes.entries()) {
        const s = saved[i] as tf.Tensor4D;
        const pad: [[number, number], [number, number], [number, number], [number, number]] =
          axis === 'h' ? [[0, 0], [1, 1], [0, 0], [0, 0]] : [[0, 0], [0, 0], [1, 1], [0, 0]];
        g = tf.add(g, tf.depthwiseConv2d(s, differenceKernel(axis, c, -1), 1, pad));
      }
      return tf.mul(g, dy);
    },
  };
});

/**
 * Sum of absolute differences of vertically and horizontally neighbouring pixel values, over all
 * channels: `tf.image.total_variation` for a batch of one.
 */
export function totalVariation(x: tf.Tensor4D): tf.Scalar {
  return totalVariationOp(x) as tf.Scalar;
}

/**
 * Per-layer loss conventions:
 * - `mse`: mean of squared differences (TF tutorial: `reduce_mean((G - A)**2)` / `(F - P)**2`);
 * - `gatys`: the paper, content 1/2 sum (F - P)^2, style E_l = 1/(4 N^2 M^2) sum (G' - A')^2 with
 *   unnormalised G' = M G, which equals mean((G - A)^2) / 4 with our G = G'/M (N = C, M = H W);
 * - `relative`: squared error relative to the target's energy, sum (G - A)^2 / sum A^2 — scale
 *   free, so the same weights work for networks whose activations differ by orders of magnitude.
 */
export type LayerLossKind = 'mse' | 'gatys' | 'relative';

/** How per-layer weights combine: divided by the layer count (tutorial), used as given, or normalised. */
export type LayerAveraging = 'count' | 'none' | 'weight-sum';

/** How total variation is normalised: the plain sum (tutorial) or the mean per image value. */
export type TvKind = 'sum' | 'mean';

/** Optional transform of feature maps before the Gram matrix and the content comparison. */
export type FeatureTransform = FeatureTransformName;

export const RELATIVE_EPSILON = 1e-8;

/**
 * Style loss of one layer between the current Gram `g` and the target `a` (both F^T F / (H W)).
 * `energy` = Σ a², when the caller keeps it with the target (it is a constant of the target).
 */
export function styleLayerLoss(g: tf.Tensor2D, a: tf.Tensor2D, kind: LayerLossKind, energy?: tf.Scalar): tf.Scalar {
  return tf.tidy(() => {
    const se = tf.square(tf.sub(g, a));
    if (kind === 'mse') return accurateMean(se);
    if (kind === 'gatys') return tf.div(accurateMean(se), 4) as tf.Scalar;
    return tf.div(accurateSum(se), tf.add(energy ?? targetEnergy(a), RELATIVE_EPSILON)) as tf.Scalar;
  });
}

/** What a layer's squared Gram error is divided by under each loss convention (losses.ts styleLayerLoss). */
function divisor(kind: LayerLossKind, channels: number, energy: tf.Scalar): tf.Scalar | number {
  if (kind === 'mse') return channels * channels;
  if (kind === 'gatys') return 4 * channels * channels;
  return tf.add(energy, RELATIVE_EPSILON) as tf.Scalar;
}

/**
 * E34: ‖s·UᵀU − A‖²_F ÷ divisor, for U = [k, C] with k < C, without the C×C Gram:
 * ‖s·UᵀU − A‖² = s²‖UUᵀ‖² − 2s·Σ(UA ⊙ U) + ‖A‖² (A symmetric), whose gradient is
 * 4s·(s·UUᵀU − UA) ÷ divisor: a k×C·C×C product and k×k ones, no C×C pass. On mobilenet_v2's
 * block_16 (k = 48, C = 960) a C×C Gram, its loss and its gradient took some 60 ms per part on
 * wasm; this takes a few. Same value as the Gram form up to float32 rounding.
 * Used by painted regions (guided.ts) and by {@link featureStyleLoss} for whole layers.
 */
export function rowStyleLoss(u: tf.Tensor2D, scale: number, target: tf.Tensor2D, energy: tf.Scalar, kind: LayerLossKind): tf.Scalar {
  const c = u.shape[1];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const rows = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const ua = tf.matMul(rows, target);
    const k = tf.matMul(rows, tf.transpose(rows));
    const d = divisor(kind, c, energy);
    const num = tf.add(tf.sub(tf.mul(accurateSum(tf.square(k)), scale * scale), tf.mul(accurateSum(tf.mul(ua, rows)), 2 * scale)), energy);
    // The energy is saved with the rest: a caller may have made it in a scope that ends before the backward pass.
    save([rows, ua, k, energy]);
    return {
      value: tf.div(num, d) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [r, uaS, kS, e] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Scalar];
        const g = tf.mul(tf.sub(tf.mul(tf.matMul(kS, r), scale), uaS), 4 * scale);
        return tf.mul(tf.div(g, divisor(kind, c, e)), dy);
      },
    };
  });
  return op(u) as tf.Scalar;
}

/** How a layer's style loss is formed (presets.ts `styleGram`, E6). */
export type StyleGramForm = 'gram' | 'fastest';

/**
 * Style loss of one layer from its (transformed) features `f` `[1, H, W, C]` and the target Gram
 * `a`, with `energy` = Σ a² kept with the target. Where the layer has fewer positions than
 * channels (mobilenet_v2's block_13..16 at 256 px: 160 × 576, 40 × 960) the loss goes through the
 * H W × H W row Gram ({@link rowStyleLoss}) and never forms the C×C Gram, its transpose and the
 * C×C passes of the error: one n×C·C×C product instead of three, 114 → 86–88 ms a step of the old
 * pixel default (`npm run bench:stylization`). Elsewhere, or with `form` 'gram' (presets that reproduce a
 * reference, E6), it is the Gram form, {@link styleLayerLoss}.
 */
export function featureStyleLoss(f: tf.Tensor4D, a: tf.Tensor2D, kind: LayerLossKind, energy?: tf.Scalar, form: StyleGramForm = 'fastest'): tf.Scalar {
  const [, h, w, c] = f.shape;
  if (form === 'gram' || h * w >= c) return styleLayerLoss(gramMatrix(f), a, kind, energy);
  return tf.tidy(() => rowStyleLoss(tf.reshape(f, [h * w, c]) as tf.Tensor2D, 1 / (h * w), a, energy ?? targetEnergy(a), kind));
}

/** Σ a² of a Gram target: the denominator of the `relative` style loss. */
export function targetEnergy(a: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => accurateSum(tf.square(a)));
}

/** Content loss of one layer between features `f` and target features `p`. */
export function contentLayerLoss(f: tf.Tensor4D, p: tf.Tensor4D, kind: LayerLossKind): tf.Scalar {
  return tf.tidy(() => {
    const se = tf.square(tf.sub(f, p));
    if (kind === 'mse') return accurateMean(se);
    if (kind === 'gatys') return tf.mul(accurateSum(se), 0.5) as tf.Scalar;
    return tf.div(accurateSum(se), tf.add(accurateSum(tf.square(p)), RELATIVE_EPSILON)) as tf.Scalar;
  });
}

/**
 * Softmax over all H W C activations of a layer (Wang, Li & Vasconcelos, CVPR 2021, "SWAG"),
 * multiplied by H W C so the values average 1 whatever the resolution.
 */
export function softmaxFeatures(f: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const n = f.size;
    return tf.reshape(tf.mul(tf.softmax(tf.reshape(f, [1, n])), n), f.shape) as tf.Tensor4D;
  });
}

export function transformFeatures(f: tf.Tensor4D, transform: FeatureTransform): tf.Tensor4D {
  return transform === 'softmax' ? softmaxFeatures(f) : f;
}

/** The factor each layer's weight is divided by under `averaging`. */
export function layerNormaliser(layers: readonly LayerWeight[], averaging: LayerAveraging): number {
  if (averaging === 'count') return Math.max(layers.length, 1);
  if (averaging === 'none') return 1;
  const sum = layers.reduce((s, l) => s + l.weight, 0);
  return sum > 0 ? sum : 1;
}

/** Everything {@link transferLoss} needs besides the image: targets, layers, conventions, weights. */
export interface Objective {
  network: FeatureNetwork;
  pooling: Pooling;
  transform: FeatureTransform;
  contentLayers: readonly LayerWeight[];
  styleLayers: readonly LayerWeight[];
  /** Target features per content layer (already transformed); absent = no content term. */
  contentTargets: ReadonlyMap<string, tf.Tensor4D> | null;
  /** Target Grams per style layer (blended over styles); absent = no style term. */
  styleTargets: ReadonlyMap<string, tf.Tensor2D> | null;
  /** Σ A² of each target Gram, kept with the targets; absent = computed per call. */
  styleEnergies?: ReadonlyMap<string, tf.Scalar> | null;
  /** The preset's {@link featureStyleLoss} form (E6); absent = fastest. */
  styleGram?: StyleGramForm;
  contentLoss: LayerLossKind;
  styleLoss: LayerLossKind;
  averaging: LayerAveraging;
  tv: TvKind;
  /** Final multipliers: preset base weight x user weight (0 switches a term off). */
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  /** Maps the optimized image to what the network sees (e.g. luminance in luminance mode). */
  networkView?: (x: tf.Tensor4D) => tf.Tensor4D;
  /**
   * Total variation on YIQ channels weighted (Y, I, Q) instead of on RGB: paintings vary their
   * chroma far less from pixel to pixel than their luminance, so chroma can be smoothed harder
   * without blurring strokes. Absent = RGB.
   */
  tvColorWeights?: readonly [number, number, number];
  /** Colour statistics of the styles (blended); absent = no palette term. */
  paletteTarget?: PaletteTarget | null;
  /** Final multiplier of the palette term (0 or absent switches it off). */
  paletteWeight?: number;
  /** Sorted colour targets of the sliced palette term; when given it replaces `paletteTarget`'s Gaussian term. */
  slicedPalette?: SlicedPaletteTarget | null;
  /** The content's coarse luminance layout ({@link layoutOf}); absent = no layout term. */
  layoutTarget?: tf.Tensor4D | null;
  /** Final multiplier of the layout term (0 or absent switches it off). */
  layoutWeight?: number;
  /**
   * Painted regions (E34–E37); absent = `styleTargets` and `paletteTarget` everywhere. Present, the
   * style and palette terms are sums over parts (0: the unpainted area with the global blend's
   * targets, then one per region with its own), each weighted by its area fraction.
   */
  regions?: ObjectiveRegions | null;
}

/**
 * The style and palette terms of a painted image (E34–E37, built by guided.ts): sums over its
 * parts (the unpainted area with the global blend, then one per region), each weighted by its
 * area fraction.
 */
export interface ObjectiveRegions {
  /** Whether any part has Gram targets. */
  readonly hasStyle: boolean;
  /** One style layer's loss over the parts, from its (transformed) features. */
  styleLayerLoss(features: tf.Tensor4D, layer: string): tf.Scalar;
  /** The palette term over the parts (before `paletteWeight`). */
  paletteLoss(image: tf.Tensor4D): tf.Scalar;
}

export interface LossTerms {
  total: tf.Scalar;
  /** Feature content loss plus the layout term, both weighted. */
  content: tf.Scalar;
  /** Feature (Gram) style loss plus the palette term, both weighted. */
  style: tf.Scalar;
  tv: tf.Scalar;
}

/**
 * The weighted loss terms of image `x` ([1, H, W, 3]); `total` = content + style + tv. The TV term
 * is always part of the graph (even with weight 0) so `total` always depends on `x`. The network
 * sees `x`; the pixel-space terms (TV, palette, layout) are taken on `image`, which differs from
 * `x` when the network is shown a shifted copy (E25).
 */
export function transferLoss(x: tf.Tensor4D, o: Objective, image: tf.Tensor4D = x): LossTerms {
  const useContent = o.contentWeight !== 0 && o.contentTargets != null && o.contentLayers.length > 0;
  const useStyle = o.styleWeight !== 0 && (o.regions ? o.regions.hasStyle : o.styleTargets != null) && o.styleLayers.length > 0;
  const wanted = new Set<string>();
  if (useContent) for (const l of o.contentLayers) wanted.add(l.layer);
  if (useStyle) for (const l of o.styleLayers) wanted.add(l.layer);
  const order = o.network.layers.filter((l) => wanted.has(l));

  let content = tf.scalar(0);
  let style = tf.scalar(0);
  if (order.length > 0) {
    const seen = o.networkView ? o.networkView(x) : x;
    const feats = o.network.features(seen, order, { pooling: o.pooling });
    if (useContent) {
      const norm = layerNormaliser(o.contentLayers, o.averaging);
      for (const { layer, weight } of o.contentLayers) {
        if (weight === 0) continue;
        const f = transformFeatures(feats.get(layer)!, o.transform);
        const term = tf.mul(contentLayerLoss(f, o.contentTargets!.get(layer)!, o.contentLoss), weight / norm);
        content = tf.add(content, term);
      }
      content = tf.mul(content, o.contentWeight);
    }
    if (useStyle) {
      const norm = layerNormaliser(o.styleLayers, o.averaging);
      for (const { layer, weight } of o.styleLayers) {
        if (weight === 0) continue;
        const f = transformFeatures(feats.get(layer)!, o.transform);
        const term = o.regions
          ? o.regions.styleLayerLoss(f, layer)
          : featureStyleLoss(f, o.styleTargets!.get(layer)!, o.styleLoss, o.styleEnergies?.get(layer), o.styleGram);
        style = tf.add(style, tf.mul(term, weight / norm));
      }
      style = tf.mul(style, o.styleWeight);
    }
  }
  if (o.paletteWeight && o.regions) {
    // E37: painted regions have a palette target per part (in the preset's palette distance).
    style = tf.add(style, tf.mul(o.regions.paletteLoss(image), o.paletteWeight));
  } else if (o.paletteWeight && (o.slicedPalette || o.paletteTarget)) {
    const palette = o.slicedPalette ? slicedPaletteLoss(image, o.slicedPalette) : paletteLoss(image, o.paletteTarget!);
    style = tf.add(style, tf.mul(palette, o.paletteWeight));
  }
  if (o.layoutTarget && o.layoutWeight) {
    content = tf.add(content, tf.mul(layoutLoss(image, o.layoutTarget), o.layoutWeight));
  }
  const tvRaw = totalVariation(o.tvColorWeights ? weightedYiq(image, o.tvColorWeights) : image);
  const tv = tf.mul(o.tv === 'mean' ? tf.div(tvRaw, image.size) : tvRaw, o.tvWeight) as tf.Scalar;
  const total = tf.add(tf.add(content, style), tv) as tf.Scalar;
  return { total, content: content as tf.Scalar, style: style as tf.Scalar, tv };
}

/** Feature targets of `image` for `layers` (transformed), in a map the caller owns and disposes. */
export function contentTargetsOf(
  network: FeatureNetwork,
  image: tf.Tensor4D,
  layers: readonly LayerWeight[],
  pooling: Pooling,
  transform: FeatureTransform,
): Map<string, tf.Tensor4D> {
  const names = network.layers.filter((l) => layers.some((w) => w.layer === l));
  const tensors = tf.tidy(() => {
    const feats = network.features(image, names, { pooling });
    return names.map((n) => transformFeatures(feats.get(n)!, transform));
  });
  return new Map(names.map((n, i) => [n, tensors[i]]));
}

/** Gram targets of `image` for `layers`, in a map the caller owns and disposes. */
export function gramTargetsOf(
  network: FeatureNetwork,
  image: tf.Tensor4D,
  layers: readonly LayerWeight[],
  pooling: Pooling,
  transform: FeatureTransform,
): Map<string, tf.Tensor2D> {
  const names = network.layers.filter((l) => layers.some((w) => w.layer === l));
  const tensors = tf.tidy(() => {
    const feats = network.features(image, names, { pooling });
    return names.map((n) => gramMatrix(transformFeatures(feats.get(n)!, transform)));
  });
  return new Map(names.map((n, i) => [n, tensors[i]]));
}

/** Disposes every tensor of a map (null-safe). */
export function disposeMap(m: ReadonlyMap<string, tf.Tensor> | null | undefined): void {
  if (m) for (const t of m.values()) t.dispose();
}

/** YIQ channels of `x` scaled by `weights` (TV of the result = Σ wᵢ TV(channelᵢ)). */
function weightedYiq(x: tf.Tensor4D, weights: readonly [number, number, number]): tf.Tensor4D {
  return applyColorTransform(x, RGB_TO_YIQ.map((row, i) => row.map((v) => v * weights[i])), [0, 0, 0]);
}

// ---- palette ------------------------------------------------------------------------------

/** RGB colour statistics of a style, as the palette term compares them. */
export interface PaletteTarget {
  /** Mean colour, [3]. */
  mean: tf.Tensor1D;
  /** Principal square root of the colour covariance, [3, 3]. */
  covSqrt: tf.Tensor2D;
}

/** First and second raw moments of the pixels of `x` ([1, H, W, 3]): mean [3] and E[x xᵀ] [3, 3]. */
export function colorMoments(x: tf.Tensor4D): { mean: tf.Tensor1D; second: tf.Tensor2D } {
  return tf.tidy(() => {
    const flat = tf.reshape(x, [-1, 3]) as tf.Tensor2D;
    const n = flat.shape[0];
    return { mean: tf.div(tf.sum(flat, 0), n) as tf.Tensor1D, second: tf.div(tf.matMul(tf.transpose(flat), flat), n) as tf.Tensor2D };
  });
}

/** Covariance from raw moments: E[x xᵀ] − μ μᵀ. */
export function covarianceOf(mean: tf.Tensor1D, second: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sub(second, tf.outerProduct(mean, mean)) as tf.Tensor2D);
}

/** Ridge added to colour covariances before their square root (flat images have singular ones). */
export const COV_RIDGE = 1e-5;

/**
 * Principal square root of a small symmetric positive (semi)definite matrix by the coupled
 * Newton–Schulz iteration (Higham 2008, eq. 6.35): only matMuls, so it is differentiable on every
 * backend (tfjs has no eigendecomposition with a gradient). Converges for ‖I − A/‖A‖_F‖ < 1,
 * which holds for A + ridge·I; 15 iterations reach float32 precision on 3×3 colour covariances.
 */
export function sqrtmSpd(a: tf.Tensor2D, iterations = 15): tf.Tensor2D {
  return tf.tidy(() => {
    const n = a.shape[0];
    const eye = tf.eye(n);
    const ridged = tf.add(a, tf.mul(eye, COV_RIDGE));
    const norm = tf.sqrt(tf.sum(tf.square(ridged)));
    let y: tf.Tensor2D = tf.div(ridged, norm) as tf.Tensor2D;
    let z: tf.Tensor2D = eye as tf.Tensor2D;
    for (let i = 0; i < iterations; i++) {
      const t = tf.mul(tf.sub(tf.mul(eye, 3), tf.matMul(z, y)), 0.5) as tf.Tensor2D;
      y = tf.matMul(y, t);
      z = tf.matMul(t, z);
    }
    return tf.mul(y, tf.sqrt(norm)) as tf.Tensor2D;
  });
}

/** The palette target of a set of images with weights: moments of their mixture. */
export function paletteTargetOf(moments: { mean: tf.Tensor1D; second: tf.Tensor2D; weight: number }[]): PaletteTarget {
  return tf.tidy(() => {
    const total = moments.reduce((s, m) => s + m.weight, 0);
    let mean: tf.Tensor = tf.zeros([3]);
    let second: tf.Tensor = tf.zeros([3, 3]);
    for (const m of moments) {
      mean = tf.add(mean, tf.mul(m.mean, m.weight / total));
      second = tf.add(second, tf.mul(m.second, m.weight / total));
    }
    return { mean: mean as tf.Tensor1D, covSqrt: sqrtmSpd(covarianceOf(mean as tf.Tensor1D, second as tf.Tensor2D)) };
  });
}

/**
 * Palette loss: the 2-Wasserstein distance between Gaussians fitted to the RGB pixels of `x` and
 * of the styles, in the commuting form |μx − μs|² + ‖Σx^½ − Σs^½‖²_F (exact when the covariances
 * commute, an upper bound otherwise). Both parts are in squared pixel values, so mean colour and
 * colour spread count alike. Why a pixel term at all: Gram matrices of the embedded networks'
 * features barely move the mean colour within a live budget (docs/STYLIZATION.md).
 */
export function paletteLoss(x: tf.Tensor4D, target: PaletteTarget): tf.Scalar {
  return tf.tidy(() => {
    const { mean, second } = colorMoments(x);
    const covSqrt = sqrtmSpd(covarianceOf(mean, second));
    return tf.add(tf.sum(tf.square(tf.sub(mean, target.mean))), tf.sum(tf.square(tf.sub(covSqrt, target.covSqrt)))) as tf.Scalar;
  });
}

// ---- layout --------------------------------------------------------------------------------

/** Side in pixels of the cells the layout term averages luminance over. */
export const LAYOUT_CELL = 8;

/**
 * The composition of an image: its luminance averaged over {@link LAYOUT_CELL}-pixel cells,
 * standardised (mean 0, variance 1), `[1, h, w, 1]`. Standardised, so a darker or more contrasted
 * palette is not a change of layout.
 */
export function layoutOf(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const y = tf.reshape(tf.matMul(tf.reshape(x, [h * w, 3]), tf.tensor2d(RGB_TO_YIQ[0], [3, 1])), [1, h, w, 1]) as tf.Tensor4D;
    const cell = Math.max(1, Math.min(LAYOUT_CELL, h, w));
    const cells = pool2d(y, cell, cell, 'valid', 'avg'); // its gradient: tfjs-wasm's AvgPoolGrad took 1.2 ms here
    const { mean, variance } = tf.moments(cells);
    return tf.div(tf.sub(cells, mean), tf.sqrt(tf.add(variance, 1e-8))) as tf.Tensor4D;
  });
}

/**
 * Layout term: mean squared difference of the standardised coarse luminance of `x` and of the
 * content, which is 2 (1 − r) with r their correlation. The feature content loss barely sees
 * low-frequency luminance (ReLU features of one deep layer), so under a strong palette term the
 * pyramid's coarse levels could repaint the composition; this keeps it (docs/STYLIZATION.md).
 */
export function layoutLoss(x: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(layoutOf(x), target))) as tf.Scalar);
}

// ---- transformation robustness ------------------------------------------------------------

/**
 * `x` shifted by (dy, dx) pixels with mirrored borders (the image content moves down/right for
 * positive values), same size. Differentiable (ops/mirror-pad.ts: tfjs' own MirrorPad gradient is wrong).
 */
export function shiftImage(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  if (dy === 0 && dx === 0) return x;
  return tf.tidy(() => shiftAxis(shiftAxis(x, 1, dy), 2, dx));
}

/**
 * `x` moved by `d` along `axis` (1 = H, 2 = W), the uncovered side filled by reflection: one
 * mirrored strip and the kept part, concatenated. The same values as mirror-padding both sides
 * and cropping, with a third of the ops (the shift cost 18 ms of a 205 ms step that way).
 */
function shiftAxis(x: tf.Tensor4D, axis: 1 | 2, d: number): tf.Tensor4D {
  const n = x.shape[axis];
  const p = Math.min(Math.abs(d), n - 1);
  if (p === 0) return x;
  return d > 0
    ? concatAlong([mirroredStrip(x, axis, 1, p), sliceAlong(x, axis, 0, n - p)], axis)
    : concatAlong([sliceAlong(x, axis, p, n - p), mirroredStrip(x, axis, n - 1 - p, p)], axis);
}
