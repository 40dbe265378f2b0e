/**
 * Pixel analysis of screenshots and decoded frames for the e2e checks of *where* something is
 * drawn (HiDPI, X11) and *what* a frame shows (real engine, X14–X16). Pure functions over raw
 * RGB, decoded with sharp; no page access.
 */
import sharp from 'sharp';

export interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

export interface Box {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

/** Decodes a PNG/JPEG into raw RGB (alpha dropped). */
export async function decode(img: Buffer): Promise<Raw> {
  const { data, info } = await sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Decodes and resizes (fill, ignoring aspect) to w×h: for comparing images of different sizes. */
export async function decodeResized(img: Buffer, w: number, h: number): Promise<Raw> {
  const { data, info } = await sharp(img).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export const hexRgb = (hex: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

/** Bounding box of the pixels for which `pick(r, g, b)` holds, or null when none does. */
export function boxWhere(img: Raw, pick: (r: number, g: number, b: number) => boolean): Box | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  const { data, width, height, channels } = img;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      if (!pick(data[i], data[i + 1], data[i + 2])) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** Pixels farther than `tolerance` (max over channels) from the background colour `bg`. */
export const notColor = (bg: string, tolerance = 20) => {
  const [r0, g0, b0] = hexRgb(bg);
  return (r: number, g: number, b: number) => Math.max(Math.abs(r - r0), Math.abs(g - g0), Math.abs(b - b0)) > tolerance;
};

/** Pixels within `tolerance` (max over channels) of `color`. */
export const nearColor = (color: string, tolerance = 60) => {
  const [r0, g0, b0] = hexRgb(color);
  return (r: number, g: number, b: number) => Math.max(Math.abs(r - r0), Math.abs(g - g0), Math.abs(b - b0)) <= tolerance;
};

/** The largest distance between corresponding edges of two boxes. */
export function boxError(a: Box, b: Box): number {
  return Math.max(Math.abs(a.x0 - b.x0), Math.abs(a.y0 - b.y0), Math.abs(a.x1 - b.x1), Math.abs(a.y1 - b.y1));
}

export const scaleBox = (b: Box, s: number): Box => ({ x0: b.x0 * s, y0: b.y0 * s, x1: b.x1 * s, y1: b.y1 * s });
export const fmtBox = (b: Box | null) => (b ? `[${b.x0.toFixed(1)},${b.y0.toFixed(1)} → ${b.x1.toFixed(1)},${b.y1.toFixed(1)}]` : 'none');

/**
 * Where a w×h picture lands when fitted ("contain") and centred in a W×H area with `pad` on each
 * side — the studio's layout rule (client SPEC C92), restated here so the check does not trust
 * the page's own arithmetic.
 */
export function containBox(w: number, h: number, W: number, H: number, pad = 0): Box {
  const s = Math.min((W - 2 * pad) / w, (H - 2 * pad) / h);
  const x0 = (W - w * s) / 2;
  const y0 = (H - h * s) / 2;
  return { x0, y0, x1: x0 + w * s, y1: y0 + h * s };
}

/** Mean RGB over a box (integer pixel bounds, clipped). */
export function meanColor(img: Raw, b: Box): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = Math.max(0, Math.floor(b.y0)); y < Math.min(img.height, Math.ceil(b.y1)); y++) {
    for (let x = Math.max(0, Math.floor(b.x0)); x < Math.min(img.width, Math.ceil(b.x1)); x++) {
      const i = (y * img.width + x) * img.channels;
      sum[0] += img.data[i];
      sum[1] += img.data[i + 1];
      sum[2] += img.data[i + 2];
      n++;
    }
  }
  return sum.map((v) => v / Math.max(1, n)) as [number, number, number];
}

/** Luminance (Rec. 601) of every pixel, as floats. */
export function luminance(img: Raw): Float64Array {
  const out = new Float64Array(img.width * img.height);
  for (let i = 0, p = 0; p < out.length; i += img.channels, p++) out[p] = 0.299 * img.data[i] + 0.587 * img.data[i + 1] + 0.114 * img.data[i + 2];
  return out;
}

/** Pearson correlation of two equally long series: the one the stylization metrics use. */
export { correlation } from '../../scripts/stylization/metrics.ts';

/** Mean absolute difference per channel (0…255) of two same-sized raw images. */
export function meanAbsDiff(a: Raw, b: Raw): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`images differ in size (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}
