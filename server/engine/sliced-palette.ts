/**
 * The sliced-Wasserstein palette term (E26): the squared 1-D Wasserstein distance between the
 * output's and the styles' colour distributions along fixed directions in RGB, averaged over the
 * directions (Rabin et al. 2011; Heitz et al., CVPR 2021, use the same on features).
 *
 * Why not only the Gaussian term (losses.ts paletteLoss): a Gaussian has one mode, so a painting
 * with two colour families (The Great Wave's beige and Prussian blue) is matched by a mixture of
 * the two, a greyish blue-beige; on giraffe x The Great Wave the Gaussian term left palette
 * distance 0.68 after 150 steps (docs/STYLIZATION.md).
 *
 * Both distributions are taken over 4×4-pixel averages: the palette is a property of areas, and
 * matching per-pixel spread would ask for the speckle the TV term removes. That also keeps the
 * sort small: 16 directions × 3 072 cells at 256×192 px.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../shared/random.ts';

/** Side of the cells whose mean colours form the distributions. */
export const PALETTE_CELL = 4;
/** Number of projection directions (fixed, seeded: a render stays reproducible). */
export const PALETTE_DIRECTIONS = 16;

/** Unit directions in RGB, [3, K]: the three axes, the grey axis, then seeded random ones. */
export function paletteDirections(k = PALETTE_DIRECTIONS): Float32Array {
  const rand = mulberry32(20211);
  const dirs: number[][] = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 1],
  ];
  while (dirs.length < k) {
    // Gaussian samples (Box–Muller) give directions uniform on the sphere.
    const g = [0, 1, 2].map(() => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
    dirs.push(g);
  }
  const out = new Float32Array(3 * k);
  dirs.slice(0, k).forEach((d, j) => {
    const n = Math.hypot(...d) || 1;
    for (let c = 0; c < 3; c++) out[c * k + j] = d[c] / n;
  });
  return out;
}

/**
 * Mean colours of the {@link PALETTE_CELL}-pixel cells of `x` ([1, H, W, 3]), as [cells, 3].
 * A remainder narrower than a cell at the right or bottom edge is left out.
 *
 * The gradient is written out (each pixel of a cell gets 1/cell² of the cell's gradient: a
 * nearest-neighbour upsampling, zero-padded over the remainder) because tfjs-wasm 4.22's
 * AvgPoolGrad took 6 ms at 256 px, 5 % of the default preset's step; the resize takes < 1 ms.
 */
export function paletteCells(x: tf.Tensor4D): tf.Tensor2D {
  const [, h, w] = x.shape;
  const cell = Math.min(PALETTE_CELL, h, w);
  const rows = Math.floor(h / cell), cols = Math.floor(w / cell);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.avgPool(args[0] as tf.Tensor4D, cell, cell, 'valid'),
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => {
        const spread = tf.image.resizeNearestNeighbor(tf.div(dy, cell * cell) as tf.Tensor4D, [rows * cell, cols * cell]);
        return rows * cell === h && cols * cell === w ? spread : tf.pad(spread, [[0, 0], [0, h - rows * cell], [0, w - cols * cell], [0, 0]]);
      }),
  }));
  return tf.tidy(() => tf.reshape(op(x), [-1, 3]) as tf.Tensor2D);
}

/** A style's cell colours on the host (the targets are quantiles of mixtures of them). */
export interface PaletteSamples {
  cells: Float32Array;
  count: number;
}

/** Cell colours ({@link paletteCells}) read back to the host without blocking. */
export async function readPaletteSamples(cells: tf.Tensor2D): Promise<PaletteSamples> {
  return { cells: (await cells.data()) as Float32Array, count: cells.shape[0] };
}

/** Cell colours read back synchronously: cpu/wasm only (webgpu has no synchronous read). */
export function readPaletteSamplesSync(cells: tf.Tensor2D): PaletteSamples {
  return { cells: cells.dataSync() as Float32Array, count: cells.shape[0] };
}

/** A style's cell colours read synchronously (cpu/wasm; tests and diagnostics). */
export function paletteSamplesOfSync(image: tf.Tensor4D): PaletteSamples {
  const cells = paletteCells(image);
  try {
    return readPaletteSamplesSync(cells);
  } finally {
    cells.dispose();
  }
}

/**
 * The sorted target of a weighted mixture of styles for an output of `n` cells: for each direction
 * k, the mixture's quantiles of the projection at levels (n − 1 − j + 0.5)/n, j = 0…n−1, i.e. in
 * descending order like tf.topk. [K, n].
 */
export function slicedPaletteTarget(styles: { samples: PaletteSamples; weight: number }[], n: number, dirs = paletteDirections()): tf.Tensor2D {
  const k = dirs.length / 3;
  const total = styles.reduce((s, x) => s + x.weight, 0);
  const m = styles.reduce((s, x) => s + x.samples.count, 0);
  const values = new Float32Array(m);
  const weights = new Float32Array(m);
  const order = new Uint32Array(m);
  const out = new Float32Array(k * n);
  for (let d = 0; d < k; d++) {
    let i = 0;
    for (const { samples, weight } of styles) {
      const w = weight / total / samples.count;
      for (let c = 0; c < samples.count; c++, i++) {
        const r = samples.cells[3 * c], g = samples.cells[3 * c + 1], b = samples.cells[3 * c + 2];
        values[i] = r * dirs[d] + g * dirs[k + d] + b * dirs[2 * k + d];
        weights[i] = w;
        order[i] = i;
      }
    }
    order.sort((a, b) => values[b] - values[a]);
    // Walk the descending values with their cumulative weight; output j takes the value whose
    // cumulative weight first passes level (j + 0.5) / n.
    let cum = 0;
    let at = 0;
    for (let j = 0; j < n; j++) {
      const level = (j + 0.5) / n;
      while (at < m - 1 && cum + weights[order[at]] < level) cum += weights[order[at++]];
      out[d * n + j] = values[order[at]];
    }
  }
  return tf.tensor2d(out, [k, n]);
}

/**
 * What the loss needs: the directions [3, K] and the sorted target [K, cells of the output]; with
 * a {@link PalettePairing}, the assignment of cells to target values is reused for a few steps.
 */
export interface SlicedPaletteTarget {
  directions: tf.Tensor2D;
  sorted: tf.Tensor2D;
  pairing?: PalettePairing;
}

/** How many optimizer steps one assignment of cells to target quantiles serves (E26). */
export const PALETTE_PAIRING_STEPS = 4;

/**
 * The sorting half of the sliced palette term, kept between steps (E26). Sliced Wasserstein pairs
 * each cell with the target value of its rank along each direction; finding the ranks (two
 * tf.topk over [16, n]) and gathering the values cost 17 ms of a ~150 ms step at 256 px on wasm
 * (5 + 5 + 7 ms, measured with tf.profile), while the ranks barely change from one Adam step to the
 * next (a step moves a cell by ~1/100 of the colour range). So the paired targets are computed
 * again once {@link PALETTE_PAIRING_STEPS} steps have completed ({@link advance}) and reused in
 * between: the loss is then the transport cost of a slightly stale assignment, an upper bound of
 * the exact one that becomes it again at each refresh, and its gradient is exact for that
 * assignment. The age counts completed steps, not evaluations, so an interrupted step (E21) or an
 * `evaluate()` leaves the next step exactly as it would have been.
 */
export class PalettePairing {
  private paired: tf.Tensor2D | null = null;
  private pairedFor: tf.Tensor2D | null = null;
  private age = 0;

  /** The target value of each cell's rank, [K, n], for projections `proj` [K, n]. */
  targetOf(proj: tf.Tensor2D, sorted: tf.Tensor2D): tf.Tensor2D {
    if (!this.paired || this.pairedFor !== sorted || this.age >= PALETTE_PAIRING_STEPS || this.paired.shape[1] !== proj.shape[1]) {
      this.paired?.dispose();
      this.paired = tf.keep(pairedTarget(proj, sorted));
      this.pairedFor = sorted;
      this.age = 0;
    }
    return this.paired;
  }

  /** One optimizer step completed with the current assignment. */
  advance(): void {
    this.age += 1;
  }

  dispose(): void {
    this.paired?.dispose();
    this.paired = null;
  }
}

/** Each cell's target value: `sorted[k, rank of proj[k, i] in descending order]`, [K, n]. */
function pairedTarget(proj: tf.Tensor2D, sorted: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [k, n] = proj.shape;
    const { indices } = tf.topk(proj, n);
    // The rank of each cell = position of its index in the descending order: a second sort of
    // the indices (ascending) is that inverse permutation.
    const rank = tf.topk(tf.neg(tf.cast(indices, 'float32')), n).indices;
    // Row-wise gather as one flat gather: tfjs-backend-wasm's GatherV2 with batchDims = 1
    // returns wrong rows (tfjs 4.22: the second row [5,4,3,2,1] gathered by [4,3,2,1,0] gave [2,5,4,1,2]).
    const flat = tf.add(rank, tf.reshape(tf.range(0, k * n, n, 'int32'), [k, 1]));
    return tf.reshape(tf.gather(tf.reshape(sorted, [-1]), flat), [k, n]) as tf.Tensor2D;
  });
}

/**
 * 3 · mean over directions and cells of (sorted projection − sorted target)²: the factor 3 makes
 * it equal the Gaussian term's squared W2 for isotropic colour clouds, so one base weight fits
 * both. The gradient is the usual one of sliced Wasserstein (each cell pulled toward the target
 * value of its rank); tf.topk has no gradient, so it is written by hand.
 */
export function slicedPaletteLoss(x: tf.Tensor4D, target: SlicedPaletteTarget): tf.Scalar {
  return tf.tidy(() => slicedPaletteLossOfCells(paletteCells(x), target));
}

/** {@link slicedPaletteLoss} of given cell colours ([n, 3]; a painted part's cells, E37). */
export function slicedPaletteLossOfCells(cells: tf.Tensor2D, target: SlicedPaletteTarget): tf.Scalar {
  return tf.tidy(() => {
    const proj = tf.transpose(tf.matMul(cells, target.directions)) as tf.Tensor2D; // [K, n]
    const [k, n] = proj.shape;
    if (target.sorted.shape[1] !== n) throw new Error(`sliced palette: target has ${target.sorted.shape[1]} cells, image ${n}`);
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const p = args[0] as tf.Tensor2D;
      const save = args[1] as tf.GradSaveFunc;
      const paired = target.pairing ? target.pairing.targetOf(p, target.sorted) : pairedTarget(p, target.sorted);
      const diff = tf.sub(p, paired);
      save([diff]);
      return {
        value: tf.mul(tf.mean(tf.square(diff)), 3) as tf.Scalar,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.mul(dy, 6 / (k * n))),
      };
    });
    return loss(proj) as tf.Scalar;
  });
}
