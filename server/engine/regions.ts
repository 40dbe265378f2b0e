/**
 * Region masks for guided Gram matrices (Gatys, Ecker, Bethge, Hertzmann & Shechtman, "Controlling
 * Perceptual Factors in Neural Style Transfer", CVPR 2017, spatial control): one guidance channel
 * per painted style, plus the *unpainted* part, which keeps the global blend. SPEC E34–E38.
 *
 * All mask arithmetic runs on the host, in plain float arrays: masks are small (the working size,
 * one channel), they change only when someone paints, and doing it here needs no read-back from the
 * device to find a mask's area or where it is. What goes to the device per layer is the positions a
 * part covers and √T there (see {@link LayerMask}), cached per random shift and feature size.
 *
 * Parts: index 0 is the unpainted area T₀ = 1 − Σ Tᵣ, then one per region, in input order. The
 * masks are feathered (two box blurs) at the image size, then normalised so Σ Tᵣ ≤ 1: the parts
 * partition every pixel's weight, and weighting each part's loss by its area fraction makes a
 * whole-image mask exactly today's loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskImage, RgbImage } from './api.ts';
import { imageFingerprint } from './tensor-image.ts';

/** A mask on the host: values in [0, 1], row-major. */
export interface HostMask {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * A part's mask at one feature size (h×w positions, row-major): the positions where T > 0 and √T
 * there. The guided Gram gathers those rows of the features and multiplies them by √T, so FᵀF is
 * weighted by T and costs as many rows as the part covers: the parts of a painted image together
 * cost about one Gram, not one each (E34). `rows` is null when the part covers every position.
 */
export interface LayerMask {
  /** Positions with T > 0 (int32, [n]), or null for all of them. */
  rows: tf.Tensor1D | null;
  /** The same as [n, 1], for the gradient (a scatter back to those rows). */
  rows2d: tf.Tensor2D | null;
  /** √T at those positions, [n, 1]. */
  sqrt: tf.Tensor2D;
  /** Number of positions used (n). */
  count: number;
  /** Σ T. */
  sum: number;
  /** Σ T ÷ (h·w): the part's area fraction, its weight in the loss. */
  fraction: number;
}

/** Every part's weights at the image size, for the palette term of all parts at once (E37). */
export interface PixelWeights {
  /** Tᵀ: [P, H·W], row p = part p's weights. */
  weightsT: tf.Tensor2D;
  /** Σ T per part, [P, 1] (at least 1, so an empty part divides safely; its weight is 0). */
  sums: tf.Tensor2D;
  /** Area fraction of each part. */
  fractions: number[];
}

/** Weights below this are zero: a feathered tail this faint moves nothing, and the rows it would add cost. */
const MIN_WEIGHT = 1 / 1024;

/** A part whose mask adds up to less than this many feature cells at a layer is left out there. */
const MIN_CELLS = 0.25;

/** Feather radius as a fraction of the long side (two box passes: the edge ramp is ±2 radii, ±10 px at 256 px). */
export const FEATHER_FRACTION = 1 / 50;

/** Shifted layer masks kept (E25 cycles through 16 shifts; a few feature sizes each). */
const MAX_CACHED_LAYER_SETS = 16 * 8;

export const maskId = (m: MaskImage): string => 'm' + imageFingerprint(m as unknown as RgbImage);

/** E2: a well-formed mask (`what` names it in the message). */
export function assertMaskImage(m: MaskImage, what: string): void {
  if (m == null || typeof m !== 'object') throw new Error(`${what}: expected a mask image, got ${String(m)}`);
  if (!Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width < 1 || m.height < 1) {
    throw new Error(`${what}: width and height must be positive integers (got ${m.width}x${m.height})`);
  }
  if (!(m.data instanceof Uint8Array)) throw new Error(`${what}: data must be a Uint8Array`);
  if (m.data.length !== m.width * m.height) throw new Error(`${what}: data has ${m.data.length} bytes, expected ${m.width}x${m.height} = ${m.width * m.height}`);
}

export function hostMask(m: MaskImage): HostMask {
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < data.length; i++) data[i] = m.data[i] / 255;
  return { width: m.width, height: m.height, data };
}

/**
 * Weights of an area resampling of `n` source cells onto `m` target cells: target i covers the
 * source interval [i·n/m, (i+1)·n/m) and averages the cells it overlaps, by overlap. Downscaling
 * it is the mean over each target cell (what average pooling gives); upscaling it picks the cell.
 */
function areaWeights(n: number, m: number): { start: number; w: Float32Array }[] {
  const out: { start: number; w: Float32Array }[] = [];
  const step = n / m;
  for (let i = 0; i < m; i++) {
    const a = i * step;
    const b = Math.min(n, (i + 1) * step);
    const j0 = Math.floor(a);
    const j1 = Math.min(n - 1, Math.ceil(b) - 1);
    const w = new Float32Array(j1 - j0 + 1);
    for (let j = j0; j <= j1; j++) w[j - j0] = (Math.min(b, j + 1) - Math.max(a, j)) / (b - a);
    out.push({ start: j0, w });
  }
  return out;
}

/** `m` resampled to width×height by area averaging (separable). */
export function resampleMask(m: HostMask, width: number, height: number): HostMask {
  if (m.width === width && m.height === height) return { width, height, data: Float32Array.from(m.data) };
  const wx = areaWeights(m.width, width);
  const wy = areaWeights(m.height, height);
  const rows = new Float32Array(m.height * width);
  for (let y = 0; y < m.height; y++) {
    const src = y * m.width;
    for (let x = 0; x < width; x++) {
      const { start, w } = wx[x];
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * m.data[src + start + k];
      rows[y * width + x] = s;
    }
  }
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const { start, w } = wy[y];
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * rows[(start + k) * width + x];
      data[y * width + x] = s;
    }
  }
  return { width, height, data };
}

/** One box blur of radius r along rows (`horizontal`) or columns, edges clamped. */
function boxBlur(src: Float32Array, width: number, height: number, r: number, horizontal: boolean): Float32Array {
  const out = new Float32Array(src.length);
  const n = horizontal ? width : height;
  const lines = horizontal ? height : width;
  const at = (line: number, i: number) => (horizontal ? line * width + i : i * width + line);
  const norm = 1 / (2 * r + 1);
  for (let line = 0; line < lines; line++) {
    let s = 0;
    for (let k = -r; k <= r; k++) s += src[at(line, Math.min(n - 1, Math.max(0, k)))];
    for (let i = 0; i < n; i++) {
      out[at(line, i)] = s * norm;
      s += src[at(line, Math.min(n - 1, i + r + 1))] - src[at(line, Math.max(0, i - r))];
    }
  }
  return out;
}

/**
 * E35: `m` feathered by two box blurs of radius `radius` in each direction (a tent of half-width
 * 2·radius, close to a Gaussian), edges clamped, so a constant mask stays exactly constant.
 */
export function featherMask(m: HostMask, radius: number): HostMask {
  if (radius < 1) return { ...m, data: Float32Array.from(m.data) };
  let d = m.data;
  for (let pass = 0; pass < 2; pass++) {
    d = boxBlur(d, m.width, m.height, radius, true);
    d = boxBlur(d, m.width, m.height, radius, false);
  }
  return { width: m.width, height: m.height, data: d };
}

/**
 * `m` shifted by (dy, dx) with mirrored borders, exactly as losses.ts `shiftImage` shifts the image
 * the network sees (E25): out[y, x] = m[reflect(y − dy), reflect(x − dx)].
 */
export function shiftMask(m: HostMask, dy: number, dx: number): HostMask {
  if (dy === 0 && dx === 0) return m;
  const { width: W, height: H } = m;
  const reflect = (i: number, n: number) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const py = Math.sign(dy) * Math.min(Math.abs(dy), H - 1);
  const px = Math.sign(dx) * Math.min(Math.abs(dx), W - 1);
  const data = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = reflect(y - py, H) * W;
    for (let x = 0; x < W; x++) data[y * W + x] = m.data[sy + reflect(x - px, W)];
  }
  return { width: W, height: H, data };
}

/**
 * E35: the parts at the image size from the regions' masks (already resized and feathered): where
 * the masks add up to more than 1 they are scaled to add up to 1; part 0 is what is left, 1 − Σ.
 */
export function partition(regions: readonly HostMask[], width: number, height: number): HostMask[] {
  const n = width * height;
  const parts = regions.map((r) => ({ width, height, data: Float32Array.from(r.data) }));
  const rest = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const p of parts) s += p.data[i] = Math.min(1, Math.max(0, p.data[i]));
    if (s > 1) for (const p of parts) p.data[i] /= s;
    rest[i] = Math.max(0, 1 - Math.min(1, s));
  }
  return [{ width, height, data: rest }, ...parts];
}

/**
 * The weights of a part on the device: zero below {@link MIN_WEIGHT}, the positions left and √T
 * there; null when the part is (almost) empty at this size.
 */
function layerMaskOf(m: HostMask): LayerMask | null {
  const n = m.width * m.height;
  const rows: number[] = [];
  const roots: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = m.data[i];
    if (v < MIN_WEIGHT) continue;
    sum += v;
    rows.push(i);
    roots.push(Math.sqrt(v));
  }
  if (sum < MIN_CELLS) return null;
  const all = rows.length === n;
  // Kept: built lazily inside a step's tidy/tape, and owned by the cache beyond it.
  return {
    rows: all ? null : tf.keep(tf.tensor1d(rows, 'int32')),
    rows2d: all ? null : tf.keep(tf.tensor2d(rows, [rows.length, 1], 'int32')),
    sqrt: tf.keep(tf.tensor2d(roots, [rows.length, 1])),
    count: rows.length,
    sum,
    fraction: sum / n,
  };
}

/**
 * The parts of one set of regions at one image size, with their device masks per (shift, feature
 * size) cached: the first 16 steps of a run (the shift schedule of E25) create them, later steps
 * reuse them, so steady state allocates nothing (E16).
 */
export class RegionMasks {
  /** Parts at the image size (part 0 = unpainted). */
  readonly parts: readonly HostMask[];
  private layerSets = new Map<string, (LayerMask | null)[]>();
  private pixelSet: PixelWeights | null = null;
  private shifted = new Map<string, HostMask[]>();
  private cellSets = new Map<number, { cells: number; parts: (Int32Array | null)[] }>();

  constructor(
    readonly key: string,
    masks: readonly MaskImage[],
    readonly width: number,
    readonly height: number,
  ) {
    const radius = Math.max(1, Math.round(FEATHER_FRACTION * Math.max(width, height)));
    const resized = masks.map((m) => featherMask(resampleMask(hostMask(m), width, height), radius));
    this.parts = partition(resized, width, height);
  }

  /** Area fraction of each part at the image size. */
  get fractions(): number[] {
    return this.parts.map((p) => p.data.reduce((s, v) => s + v, 0) / (this.width * this.height));
  }

  /** E36: every part at feature size h×w for the image shifted by (dy, dx) (null = empty there). Owned here. */
  atLayer(dy: number, dx: number, h: number, w: number): readonly (LayerMask | null)[] {
    const key = `${dy},${dx}|${h}x${w}`;
    const hit = this.layerSets.get(key);
    if (hit) return hit;
    let shifted = this.shifted.get(`${dy},${dx}`);
    if (!shifted) {
      shifted = this.parts.map((p) => shiftMask(p, dy, dx));
      if (this.shifted.size >= 16) this.shifted.delete(this.shifted.keys().next().value!);
      this.shifted.set(`${dy},${dx}`, shifted);
    }
    const set = shifted.map((p) => layerMaskOf(resampleMask(p, w, h)));
    if (this.layerSets.size >= MAX_CACHED_LAYER_SETS) {
      const oldest = this.layerSets.keys().next().value!;
      disposeSet(this.layerSets.get(oldest)!);
      this.layerSets.delete(oldest);
    }
    this.layerSets.set(key, set);
    return set;
  }

  /**
   * E37, sliced palette: the cells of side `cell` (as losses' avgPool 'valid' lays them out, row-major)
   * each part owns: every cell goes to the part with the largest mean weight over it (ties to the
   * lower part). Per part: its cell indices, or null when it owns every cell. Host arrays, cached.
   */
  atCells(cell: number): { cells: number; parts: (Int32Array | null)[] } {
    const hit = this.cellSets.get(cell);
    if (hit) return hit;
    const gw = Math.floor(this.width / cell);
    const gh = Math.floor(this.height / cell);
    const owned: number[][] = this.parts.map(() => []);
    for (let cy = 0; cy < gh; cy++) {
      for (let cx = 0; cx < gw; cx++) {
        let best = 0;
        let bestSum = -1;
        this.parts.forEach((p, k) => {
          let sum = 0;
          for (let y = cy * cell; y < (cy + 1) * cell; y++) for (let x = cx * cell; x < (cx + 1) * cell; x++) sum += p.data[y * this.width + x];
          if (sum > bestSum + 1e-6) [best, bestSum] = [k, sum];
        });
        owned[best].push(cy * gw + cx);
      }
    }
    const set = { cells: gw * gh, parts: owned.map((o) => (o.length === gw * gh ? null : Int32Array.from(o))) };
    this.cellSets.set(cell, set);
    return set;
  }

  /** E37: every part's weights at the image size, unshifted (the pixel-space palette term). Owned here. */
  atPixels(): PixelWeights {
    if (this.pixelSet) return this.pixelSet;
    const n = this.width * this.height;
    const t = new Float32Array(this.parts.length * n);
    const sums: number[] = [];
    this.parts.forEach((p, k) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const v = p.data[i] < MIN_WEIGHT ? 0 : p.data[i];
        t[k * n + i] = v;
        sum += v;
      }
      sums.push(sum);
    });
    // Kept: built lazily inside a step's tidy/tape, and owned here beyond it.
    this.pixelSet = {
      weightsT: tf.keep(tf.tensor2d(t, [this.parts.length, n])),
      sums: tf.keep(tf.tensor2d(sums.map((v) => Math.max(1, v)), [this.parts.length, 1])),
      fractions: sums.map((v) => v / n),
    };
    return this.pixelSet;
  }

  dispose(): void {
    for (const s of this.layerSets.values()) disposeSet(s);
    this.layerSets.clear();
    if (this.pixelSet) tf.dispose([this.pixelSet.weightsT, this.pixelSet.sums]);
    this.pixelSet = null;
    this.shifted.clear();
  }
}

function disposeSet(set: readonly (LayerMask | null)[]): void {
  for (const m of set) if (m) tf.dispose([m.sqrt, ...(m.rows ? [m.rows, m.rows2d!] : [])]);
}
