/**
 * Stroke rasterizer: paints the document's strokes onto the content canvas before it goes to the
 * engine. Anti-aliased round brush: a pixel's coverage is how far its centre lies inside the
 * stroke's capsule (distance to the polyline vs radius, with a 1-pixel ramp). Within one stroke,
 * coverage is the max over its segments, so a stroke's own overlaps don't darken it; strokes are
 * then blended in order with `opacity`.
 *
 * - `brush` paints `color`.
 * - `eraser` paints the underlying canvas base back (the content photo, or the background colour
 *   on a blank canvas), i.e. it erases earlier strokes, never the photo itself.
 */
import type { RgbImage } from '../engine/api.ts';
import type { Stroke } from '../../shared/schema.ts';

/** `#rrggbb` → [r, g, b]. */
export function parseHexColor(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A canvas of one colour. */
export function solidImage(width: number, height: number, hex: string): RgbImage {
  const [r, g, b] = parseHexColor(hex);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
  }
  return { width, height, data };
}

/** Points closer than this fraction of the radius to the previous kept point are skipped. */
const MIN_STEP_OF_RADIUS = 0.25;

/** Paints `stroke` onto `out` in place; `base` is what the eraser restores. */
export function paintStroke(out: RgbImage, base: RgbImage, stroke: Stroke): void {
  const { width: W, height: H } = out;
  const pts = stroke.points;
  if (pts.length < 2 || stroke.opacity <= 0) return;
  const r = stroke.size / 2;
  // Thin the polyline: consecutive points much closer than the radius add cost, not shape.
  const xs: number[] = [pts[0]];
  const ys: number[] = [pts[1]];
  const minStep = Math.max(0.5, r * MIN_STEP_OF_RADIUS);
  for (let i = 2; i < pts.length; i += 2) {
    const last = i + 2 >= pts.length;
    const dx = pts[i] - xs[xs.length - 1];
    const dy = pts[i + 1] - ys[ys.length - 1];
    if (last || dx * dx + dy * dy >= minStep * minStep) {
      xs.push(pts[i]);
      ys.push(pts[i + 1]);
    }
  }
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    minX = Math.min(minX, xs[i]);
    maxX = Math.max(maxX, xs[i]);
    minY = Math.min(minY, ys[i]);
    maxY = Math.max(maxY, ys[i]);
  }
  const x0 = Math.max(0, Math.floor(minX - r - 1));
  const y0 = Math.max(0, Math.floor(minY - r - 1));
  const x1 = Math.min(W - 1, Math.ceil(maxX + r + 1));
  const y1 = Math.min(H - 1, Math.ceil(maxY + r + 1));
  if (x0 > x1 || y0 > y1) return;
  const bw = x1 - x0 + 1;
  const cover = new Float32Array(bw * (y1 - y0 + 1));
  const segs = Math.max(1, xs.length - 1);
  for (let s = 0; s < segs; s++) {
    const ax = xs[s], ay = ys[s];
    const bx = xs.length > 1 ? xs[s + 1] : ax;
    const by = ys.length > 1 ? ys[s + 1] : ay;
    const vx = bx - ax, vy = by - ay;
    const len2 = vx * vx + vy * vy;
    const sx0 = Math.max(x0, Math.floor(Math.min(ax, bx) - r - 1));
    const sx1 = Math.min(x1, Math.ceil(Math.max(ax, bx) + r + 1));
    const sy0 = Math.max(y0, Math.floor(Math.min(ay, by) - r - 1));
    const sy1 = Math.min(y1, Math.ceil(Math.max(ay, by) + r + 1));
    for (let y = sy0; y <= sy1; y++) {
      const py = y + 0.5;
      for (let x = sx0; x <= sx1; x++) {
        const px = x + 0.5;
        let t = len2 > 0 ? ((px - ax) * vx + (py - ay) * vy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const dx = px - (ax + t * vx), dy = py - (ay + t * vy);
        const c = r + 0.5 - Math.sqrt(dx * dx + dy * dy);
        if (c <= 0) continue;
        const k = (y - y0) * bw + (x - x0);
        const cc = c > 1 ? 1 : c;
        if (cc > cover[k]) cover[k] = cc;
      }
    }
  }
  const [cr, cg, cb] = parseHexColor(stroke.color);
  const erase = stroke.tool === 'eraser';
  const o = out.data, b = base.data;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const a = cover[(y - y0) * bw + (x - x0)] * stroke.opacity;
      if (a <= 0) continue;
      const i = (y * W + x) * 3;
      const sr = erase ? b[i] : cr, sg = erase ? b[i + 1] : cg, sb = erase ? b[i + 2] : cb;
      o[i] = Math.round(o[i] + (sr - o[i]) * a);
      o[i + 1] = Math.round(o[i + 1] + (sg - o[i + 1]) * a);
      o[i + 2] = Math.round(o[i + 2] + (sb - o[i + 2]) * a);
    }
  }
}

/**
 * Composes `strokes` over `base` with a prefix cache: when the stroke list only grew since the
 * last call, only the new strokes are painted; when only the last stroke changed (someone is
 * drawing it live, points being appended), painting restarts from the image before that stroke.
 */
export class CanvasComposer {
  private cachedBase: RgbImage | null = null;
  private cachedStrokes: readonly Stroke[] = [];
  private cachedOut: RgbImage | null = null;
  /** The image before the last cached stroke was painted. */
  private beforeLast: RgbImage | null = null;

  compose(base: RgbImage, strokes: readonly Stroke[]): RgbImage {
    const copy = (img: RgbImage): RgbImage => ({ width: img.width, height: img.height, data: new Uint8Array(img.data) });
    const cached = this.cachedStrokes;
    let common = 0;
    if (this.cachedBase === base) while (common < cached.length && common < strokes.length && cached[common] === strokes[common]) common++;
    let start: number;
    let out: RgbImage;
    if (this.cachedOut && this.cachedBase === base && common === cached.length) {
      start = common;
      out = copy(this.cachedOut);
    } else if (this.beforeLast && this.cachedBase === base && cached.length > 0 && common === cached.length - 1) {
      start = common;
      out = copy(this.beforeLast);
    } else {
      start = 0;
      out = copy(base);
    }
    let beforeLast: RgbImage | null = start === strokes.length ? (start === common && common === cached.length ? this.beforeLast : null) : null;
    for (let i = start; i < strokes.length; i++) {
      if (i === strokes.length - 1) beforeLast = copy(out);
      paintStroke(out, base, strokes[i]);
    }
    this.cachedBase = base;
    this.cachedStrokes = [...strokes];
    this.cachedOut = out;
    this.beforeLast = beforeLast;
    return out;
  }
}
