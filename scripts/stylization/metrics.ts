/**
 * Three numbers that say how a stylized image relates to its content photo and its painting
 * (docs/STYLIZATION.md, issue "The embedded default must paint"). Plain JS on 8-bit RGB, no
 * tensors: they judge the engine, so they must not share its code.
 *
 * - **palette** — sliced Wasserstein distance between the RGB pixel distributions of the output
 *   and the painting, divided by the same distance for the content photo: 1 = the colours did not
 *   move towards the painting's, 0 = the painting's colour distribution exactly.
 * - **speckle** — energy of the finest band (pixel minus its 3×3 box mean) of the two chroma
 *   channels (YIQ I and Q), output ÷ painting resized to the output's size: colour noise the
 *   painting does not have shows as > 1.
 * - **layout** — Pearson correlation of the 1/8-scale luminance of output and content: the
 *   photo's composition kept (1) or lost (≈ 0).
 */
import type { RgbImage } from '../../server/engine/api.ts';
import { mulberry32 } from '../../shared/random.ts';

export interface StylizationMetrics {
  palette: number;
  speckle: number;
  layout: number;
}

/** Directions and quantiles of the sliced Wasserstein estimate (seeded: the same inputs give the same number). */
const SW_DIRECTIONS = 64;
const SW_QUANTILES = 256;

/** Sliced Wasserstein-2 distance between the pixel colour distributions of `a` and `b` (values in 0..1). */
export function slicedWasserstein(a: RgbImage, b: RgbImage, directions = SW_DIRECTIONS, seed = 1): number {
  const rand = mulberry32(seed);
  let sum = 0;
  for (let k = 0; k < directions; k++) {
    // A uniformly random direction on the sphere (normalised Gaussian, Box–Muller).
    const g = [0, 0, 0].map(() => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
    const n = Math.hypot(g[0], g[1], g[2]) || 1;
    const d = g.map((v) => v / n / 255);
    const qa = quantiles(project(a, d), SW_QUANTILES);
    const qb = quantiles(project(b, d), SW_QUANTILES);
    let s = 0;
    for (let i = 0; i < SW_QUANTILES; i++) s += (qa[i] - qb[i]) ** 2;
    sum += s / SW_QUANTILES;
  }
  return Math.sqrt(sum / directions);
}

function project(img: RgbImage, d: number[]): Float64Array {
  const out = new Float64Array(img.width * img.height);
  const p = img.data;
  for (let i = 0, j = 0; j < out.length; i += 3, j++) out[j] = p[i] * d[0] + p[i + 1] * d[1] + p[i + 2] * d[2];
  return out;
}

/** `count` quantiles at the centres of equal-mass bins (linear interpolation between order statistics). */
function quantiles(values: Float64Array, count: number): Float64Array {
  const sorted = Float64Array.from(values).sort();
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const pos = ((i + 0.5) / count) * (sorted.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(sorted.length - 1, lo + 1);
    out[i] = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }
  return out;
}

/** A float plane per channel, for the filters below. */
function channel(img: RgbImage, weights: [number, number, number]): Float64Array {
  const out = new Float64Array(img.width * img.height);
  const p = img.data;
  for (let i = 0, j = 0; j < out.length; i += 3, j++) out[j] = (p[i] * weights[0] + p[i + 1] * weights[1] + p[i + 2] * weights[2]) / 255;
  return out;
}

const YIQ_Y: [number, number, number] = [0.299, 0.587, 0.114];
const YIQ_I: [number, number, number] = [0.596, -0.274, -0.322];
const YIQ_Q: [number, number, number] = [0.211, -0.523, 0.312];

/** Mean squared value of `plane` minus its 3×3 box mean (edges clamped): the finest band's energy. */
export function finestBandEnergy(plane: Float64Array, width: number, height: number): number {
  let sum = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let box = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = Math.min(height - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) box += plane[yy * width + Math.min(width - 1, Math.max(0, x + dx))];
      }
      const d = plane[y * width + x] - box / 9;
      sum += d * d;
    }
  }
  return sum / (width * height);
}

/** Chroma speckle energy of an image: finest-band energy of I plus that of Q. */
export function chromaSpeckle(img: RgbImage): number {
  return finestBandEnergy(channel(img, YIQ_I), img.width, img.height) + finestBandEnergy(channel(img, YIQ_Q), img.width, img.height);
}

/** Luminance averaged over `factor`×`factor` blocks (partial blocks at the edges dropped). */
export function blockLuminance(img: RgbImage, factor: number): { values: Float64Array; width: number; height: number } {
  const y = channel(img, YIQ_Y);
  const w = Math.max(1, Math.floor(img.width / factor));
  const h = Math.max(1, Math.floor(img.height / factor));
  const values = new Float64Array(w * h);
  const fx = img.width / w;
  const fy = img.height / h;
  for (let by = 0; by < h; by++) {
    for (let bx = 0; bx < w; bx++) {
      let s = 0;
      let n = 0;
      for (let yy = Math.floor(by * fy); yy < Math.floor((by + 1) * fy); yy++) {
        for (let xx = Math.floor(bx * fx); xx < Math.floor((bx + 1) * fx); xx++) {
          s += y[yy * img.width + xx];
          n++;
        }
      }
      values[by * w + bx] = s / Math.max(n, 1);
    }
  }
  return { values, width: w, height: h };
}

/** Pearson correlation of two equally long series (0 when either is constant). */
export function correlation(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new Error(`correlation of series of different lengths (${a.length}, ${b.length})`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i]), (mb += b[i]);
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/**
 * The three metrics of `output` for `content` and `painting`. `contentAtOutput` and
 * `paintingAtOutput` are the same images resized to the output's size (the caller resizes, e.g.
 * with sharp, so this module stays free of image codecs).
 */
export function stylizationMetrics(
  output: RgbImage,
  contentAtOutput: RgbImage,
  paintingAtOutput: RgbImage,
  painting: RgbImage = paintingAtOutput,
): StylizationMetrics {
  const palette = slicedWasserstein(output, painting) / Math.max(slicedWasserstein(contentAtOutput, painting), 1e-9);
  const speckle = chromaSpeckle(output) / Math.max(chromaSpeckle(paintingAtOutput), 1e-12);
  const a = blockLuminance(output, 8);
  const b = blockLuminance(contentAtOutput, 8);
  return { palette, speckle, layout: correlation(a.values, b.values) };
}
