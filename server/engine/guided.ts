/**
 * Guided style losses for painted regions (Gatys, Ecker, Bethge, Hertzmann & Shechtman,
 * "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017): each part of the image
 * (the unpainted area with the global blend, then one per painted region) has its own Gram targets
 * and palette, and its mask T weights which feature positions and pixels count. SPEC E34–E37.
 *
 * Cost (bench/regions.ts, docs/BENCHMARKS.md): the parts of an image together cover about one
 * image, so each part gathers only the feature rows its mask covers (E34). On mobilenet_v2 the
 * deep style layers have far fewer positions than channels (8×6 positions × 960 channels at
 * 256 px), where a C×C Gram and the passes over it cost more than the products themselves; there
 * the loss is computed from the k×k row Gram instead ({@link rowStyleLoss}), never forming C×C.
 */
import * as tf from '@tensorflow/tfjs-core';
import { accurateSum, COV_RIDGE, gramOfRows, rowStyleLoss, styleLayerLoss, type LayerLossKind, type ObjectiveRegions, type PaletteTarget } from './losses.ts';
import type { LayerMask, PixelWeights } from './regions.ts';
import { paletteCells, slicedPaletteLossOfCells, type SlicedPaletteTarget } from './sliced-palette.ts';

/** One part's targets: Grams per style layer with their energies Σ A², and its palette. */
export interface PartTargets {
  grams: ReadonlyMap<string, tf.Tensor2D>;
  energy: ReadonlyMap<string, tf.Scalar>;
  palette: PaletteTarget | null;
}

/** Palette targets of several parts: means [P, 3], covariance roots [P, 3, 3], weights [P]. */
export interface PaletteStack {
  mean: tf.Tensor2D;
  covSqrt: tf.Tensor3D;
  /** Part p's weight: its area fraction, 0 for a part without palette target. */
  weights: tf.Tensor1D;
}

/**
 * Rows `rows` of `x` ([n, C]) with the gradient written out as a scatter back to those rows:
 * tfjs' own gradient of `gather` is `UnsortedSegmentSum`, which the wasm backend lacks.
 */
function gatherRows(x: tf.Tensor2D, rows: tf.Tensor1D, rows2d: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor2D;
    return {
      value: tf.gather(input, rows, 0),
      gradFunc: (dy: tf.Tensor) => tf.scatterND(rows2d, dy, input.shape),
    };
  });
  return op(x) as tf.Tensor2D;
}

/** U = the rows of `features` ([1, H, W, C]) a mask covers, times √T there: [n, C]. */
function maskedRows(features: tf.Tensor4D, mask: LayerMask): tf.Tensor2D {
  const [, h, w, c] = features.shape;
  const flat = tf.reshape(features, [h * w, c]) as tf.Tensor2D;
  const used = mask.rows ? gatherRows(flat, mask.rows, mask.rows2d!) : flat;
  return tf.mul(used, mask.sqrt) as tf.Tensor2D;
}

/**
 * E34: guided Gram matrix of `[1, H, W, C]` features under a region's mask T at this layer:
 * Σₚ Tₚ fₚ fₚᵀ / Σₚ Tₚ, i.e. UᵀU / Σ T with U = F ⊙ √T, normalised by the mask's area instead of
 * H·W. Only the positions the mask covers are gathered (they are all the products see), so the
 * parts of a painted image together cost about one Gram. Features where T = 0 take no part, in
 * value or gradient; a mask of ones over the whole layer is exactly `gramMatrix`.
 */
export function guidedGramMatrix(features: tf.Tensor4D, mask: LayerMask): tf.Tensor2D {
  return tf.tidy(() => {
    const g = gramOfRows(maskedRows(features, mask)) as tf.Tensor2D;
    return mask.count === mask.sum ? g : (tf.mul(g, mask.count / mask.sum) as tf.Tensor2D);
  });
}

/** One part's loss at one layer: through the row Gram where the part has fewer rows than channels. */
function partLayerLoss(features: tf.Tensor4D, mask: LayerMask, target: tf.Tensor2D, energy: tf.Scalar, kind: LayerLossKind): tf.Scalar {
  const c = features.shape[3];
  if (mask.count < c) return rowStyleLoss(maskedRows(features, mask), 1 / mask.sum, target, energy, kind);
  return styleLayerLoss(guidedGramMatrix(features, mask), target, kind, energy);
}

/** {@link sqrtmSpd} (losses.ts) of each matrix of a batch `[P, n, n]`, in one batch of the same iterations. */
export function sqrtmSpdBatch(a: tf.Tensor3D, iterations = 15): tf.Tensor3D {
  return tf.tidy(() => {
    const [p, n] = a.shape;
    const eye = tf.tile(tf.reshape(tf.eye(n), [1, n, n]), [p, 1, 1]) as tf.Tensor3D;
    const ridged = tf.add(a, tf.mul(eye, COV_RIDGE));
    const norm = tf.sqrt(tf.sum(tf.square(ridged), [1, 2], true));
    let y = tf.div(ridged, norm) as tf.Tensor3D;
    let z = eye;
    for (let i = 0; i < iterations; i++) {
      const t = tf.mul(tf.sub(tf.mul(eye, 3), tf.matMul(z, y)), 0.5) as tf.Tensor3D;
      y = tf.matMul(y, t);
      z = tf.matMul(t, z);
    }
    return tf.mul(y, tf.sqrt(norm)) as tf.Tensor3D;
  });
}

/**
 * E37: the palette term over the parts, all at once: Σₚ aₚ · (|μₚ − μ̂ₚ|² + ‖Σₚ^½ − Σ̂ₚ^½‖²_F),
 * with μₚ, Σₚ the colour moments of the pixels weighted by part p's mask and aₚ its area fraction
 * (0 for a part without target). One batch whatever the number of parts: per part, the palette
 * term is some 150 small kernels (the matrix square root), which cost more than its Grams did.
 */
export function guidedPaletteLoss(image: tf.Tensor4D, pixels: PixelWeights, palettes: PaletteStack): tf.Scalar {
  const [, h, w] = image.shape;
  const x = tf.reshape(image, [h * w, 3]) as tf.Tensor2D;
  const outer = tf.reshape(tf.mul(tf.reshape(x, [h * w, 3, 1]), tf.reshape(x, [h * w, 1, 3])), [h * w, 9]) as tf.Tensor2D;
  const mean = tf.div(tf.matMul(pixels.weightsT, x), pixels.sums) as tf.Tensor2D;
  const parts = mean.shape[0];
  const second = tf.reshape(tf.div(tf.matMul(pixels.weightsT, outer), pixels.sums), [parts, 3, 3]) as tf.Tensor3D;
  const cov = tf.sub(second, tf.mul(tf.reshape(mean, [parts, 3, 1]), tf.reshape(mean, [parts, 1, 3]))) as tf.Tensor3D;
  const meanTerm = tf.sum(tf.square(tf.sub(mean, palettes.mean)), 1);
  const covTerm = tf.sum(tf.square(tf.sub(sqrtmSpdBatch(cov), palettes.covSqrt)), [1, 2]);
  return tf.sum(tf.mul(tf.add(meanTerm, covTerm), palettes.weights)) as tf.Scalar;
}

/** The sliced palette term's parts (E37): per part with cells, the cells it owns and its sorted target. */
export interface SlicedParts {
  parts: {
    /** Its cells' indices ([n], and [n, 1] for the gradient), or null for every cell. */
    rows: tf.Tensor1D | null;
    rows2d: tf.Tensor2D | null;
    /** Its share of the cells: its weight in the term. */
    fraction: number;
    target: SlicedPaletteTarget;
  }[];
}

/**
 * E37 with the sliced palette distance (E26): Σₚ aₚ · SW(cells part p owns, part p's target), each
 * cell owned by the part weighing most over it, aₚ the part's share of the cells. A part owning
 * every cell is exactly the global term.
 */
export function guidedSlicedPaletteLoss(image: tf.Tensor4D, sliced: SlicedParts): tf.Scalar {
  const cells = paletteCells(image);
  let sum: tf.Scalar = tf.scalar(0);
  for (const p of sliced.parts) {
    const own = p.rows ? gatherRows(cells, p.rows, p.rows2d!) : cells;
    const term = slicedPaletteLossOfCells(own, p.target);
    sum = tf.add(sum, p.fraction === 1 ? term : tf.mul(term, p.fraction));
  }
  return sum;
}

/**
 * The objective's view of a painted image (losses.ts {@link ObjectiveRegions}). `parts[0]` is the
 * unpainted area (null without a global style), then one entry per region; `masksAt` gives every
 * part's mask at a feature size for the shift the network sees this step (E36).
 */
export function regionObjective(
  parts: readonly (PartTargets | null)[],
  masksAt: (h: number, w: number) => readonly (LayerMask | null)[],
  pixels: PixelWeights,
  palettes: PaletteStack | null,
  kind: LayerLossKind,
  sliced: SlicedParts | null = null,
): ObjectiveRegions {
  return {
    hasStyle: parts.some((p) => p !== null),
    // E34: Σₚ aₚ · E(Gₚ, Aₚ), aₚ the part's area fraction at this layer (the weights add up to 1,
    // as the single global term's does); empty parts and parts without targets are left out.
    styleLayerLoss(features, layer) {
      const [, h, w] = features.shape;
      const masks = masksAt(h, w);
      let sum: tf.Scalar = tf.scalar(0);
      masks.forEach((m, p) => {
        const part = parts[p];
        const target = part?.grams.get(layer);
        if (!m || !target) return;
        sum = tf.add(sum, tf.mul(partLayerLoss(features, m, target, part!.energy.get(layer)!, kind), m.fraction));
      });
      return sum;
    },
    paletteLoss: (image) => (sliced ? guidedSlicedPaletteLoss(image, sliced) : palettes ? guidedPaletteLoss(image, pixels, palettes) : tf.scalar(0)),
  };
}
