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
 *
 * Cost (S24): painting a segment evaluates every pixel of its capsule's bounding box (clipped to
 * the canvas), so a stroke's *paint cost* is the sum of those areas — what {@link strokePaintCost}
 * counts and what the session's paint budgets bound. The composer repaints only the rectangles a
 * change touched (a growing stroke: its new segments), and `composeSliced` yields to the event loop
 * between bands of rows, so no single document change can hold the main thread for long.
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

/** Inclusive pixel rectangle. */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const area = (r: Rect): number => (r.x1 < r.x0 || r.y1 < r.y0 ? 0 : (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1));
const intersect = (a: Rect, b: Rect): Rect => ({ x0: Math.max(a.x0, b.x0), y0: Math.max(a.y0, b.y0), x1: Math.min(a.x1, b.x1), y1: Math.min(a.y1, b.y1) });
const unite = (a: Rect, b: Rect): Rect => ({ x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) });
const EMPTY: Rect = { x0: 0, y0: 0, x1: -1, y1: -1 };

/** Points closer than this fraction of the radius to the previous kept point are skipped. */
const MIN_STEP_OF_RADIUS = 0.25;

/** A stroke's thinned polyline in canvas pixels (after `scale`), with its radius. */
export interface Polyline {
  xs: Float64Array;
  ys: Float64Array;
  r: number;
  /** Bounding box of the capsules (unclipped). */
  box: Rect;
}

/** Thins the polyline: consecutive points much closer than the radius add cost, not shape. */
export function thinStroke(stroke: Pick<Stroke, 'points' | 'size'>, scale = 1): Polyline {
  const pts = stroke.points;
  const r = (stroke.size * scale) / 2;
  const xs: number[] = [];
  const ys: number[] = [];
  if (pts.length >= 2) {
    xs.push(pts[0] * scale);
    ys.push(pts[1] * scale);
    const minStep = Math.max(0.5, r * MIN_STEP_OF_RADIUS);
    for (let i = 2; i < pts.length; i += 2) {
      const last = i + 2 >= pts.length;
      const x = pts[i] * scale, y = pts[i + 1] * scale;
      const dx = x - xs[xs.length - 1];
      const dy = y - ys[ys.length - 1];
      if (last || dx * dx + dy * dy >= minStep * minStep) {
        xs.push(x);
        ys.push(y);
      }
    }
  }
  let box = EMPTY;
  if (xs.length) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] < minX) minX = xs[i];
      if (xs[i] > maxX) maxX = xs[i];
      if (ys[i] < minY) minY = ys[i];
      if (ys[i] > maxY) maxY = ys[i];
    }
    box = { x0: Math.floor(minX - r - 1), y0: Math.floor(minY - r - 1), x1: Math.ceil(maxX + r + 1), y1: Math.ceil(maxY + r + 1) };
  }
  return { xs: Float64Array.from(xs), ys: Float64Array.from(ys), r, box };
}

/** Bounding box of segment `s` (points s and s+1; a single point when there is no s+1). */
function segmentBox(xs: ArrayLike<number>, ys: ArrayLike<number>, r: number, s: number): Rect {
  const ax = xs[s], ay = ys[s];
  const bx = s + 1 < xs.length ? xs[s + 1] : ax;
  const by = s + 1 < ys.length ? ys[s + 1] : ay;
  return {
    x0: Math.floor(Math.min(ax, bx) - r - 1),
    y0: Math.floor(Math.min(ay, by) - r - 1),
    x1: Math.ceil(Math.max(ax, bx) + r + 1),
    y1: Math.ceil(Math.max(ay, by) + r + 1),
  };
}

const segmentCount = (p: Polyline): number => (p.xs.length === 0 ? 0 : Math.max(1, p.xs.length - 1));

/**
 * Paint cost of a stroke on a width×height canvas: the pixels its painter evaluates, i.e. the sum
 * over its segments of their capsule bounding boxes clipped to the canvas (S24).
 */
export function polylineCost(p: Polyline, width: number, height: number, cap = Infinity): number {
  const { xs, ys, r } = p;
  const n = segmentCount(p);
  let cost = 0;
  for (let s = 0; s < n && cost <= cap; s++) {
    const bx = s + 1 < xs.length ? xs[s + 1] : xs[s];
    const by = s + 1 < ys.length ? ys[s + 1] : ys[s];
    cost += segmentCost(xs[s], ys[s], bx, by, r, width, height);
  }
  return cost;
}

/** Segment a→b's capsule bounding box ∩ the canvas, in pixels (no allocation: a 10 000-point stroke is costed in ~1 ms). */
function segmentCost(ax: number, ay: number, bx: number, by: number, r: number, width: number, height: number): number {
  const x0 = Math.max(0, Math.floor((ax < bx ? ax : bx) - r - 1));
  const y0 = Math.max(0, Math.floor((ay < by ? ay : by) - r - 1));
  const x1 = Math.min(width - 1, Math.ceil((ax > bx ? ax : bx) + r + 1));
  const y1 = Math.min(height - 1, Math.ceil((ay > by ? ay : by) + r + 1));
  return x1 >= x0 && y1 >= y0 ? (x1 - x0 + 1) * (y1 - y0 + 1) : 0;
}

/** {@link polylineCost} of a stroke; counting stops once it passes `cap` (the result is then > cap). */
export function strokePaintCost(stroke: Pick<Stroke, 'points' | 'size' | 'opacity'>, width: number, height: number, scale = 1, cap = Infinity): number {
  if (stroke.points.length < 2 || stroke.opacity <= 0) return 0;
  return polylineCost(thinStroke(stroke, scale), width, height, cap);
}

/**
 * {@link strokePaintCost} of a stroke that grows point by point, in O(new points) per
 * {@link add}: the same number as costing the whole stroke again, to the pixel and with the same
 * `cap` cut-off. Re-costing the whole stroke on every new point made painting O(n²) per stroke on
 * the server's main thread (with the re-validation, ~2 s of 35 s in the cluster load run).
 *
 * {@link thinStroke} keeps a point when it is far enough from the last kept one, and always keeps
 * the newest: so the kept points before the newest are settled once the next point arrives, and
 * the cost is that of the settled segments plus the one to the newest point.
 */
export class PaintCostCounter {
  private readonly r: number;
  private readonly minStep2: number;
  private readonly visible: boolean;
  private count = 0;
  /** The last settled kept point. */
  private keptX = 0;
  private keptY = 0;
  /** The newest point (kept as the last point while no other follows it). */
  private newX = 0;
  private newY = 0;
  /** Cost of the segments between settled kept points (no longer counted once past `cap`). */
  private settled = 0;

  constructor(
    stroke: Pick<Stroke, 'size' | 'opacity'>,
    private readonly width: number,
    private readonly height: number,
    private readonly scale = 1,
    private readonly cap = Infinity,
  ) {
    this.visible = stroke.opacity > 0;
    this.r = (stroke.size * scale) / 2;
    const minStep = Math.max(0.5, this.r * MIN_STEP_OF_RADIUS);
    this.minStep2 = minStep * minStep;
  }

  /** Adds flat x,y pairs `points[from..]` (coordinates before `scale`, like the stroke's). */
  add(points: ArrayLike<number>, from = 0): this {
    for (let i = from; i + 1 < points.length; i += 2) {
      const x = points[i] * this.scale, y = points[i + 1] * this.scale;
      if (this.count === 0) {
        this.keptX = x;
        this.keptY = y;
      } else if (this.count >= 2) {
        // The previous newest point is no longer the last: thinStroke keeps it only if far enough.
        const dx = this.newX - this.keptX, dy = this.newY - this.keptY;
        if (dx * dx + dy * dy >= this.minStep2) {
          if (this.settled <= this.cap) this.settled += segmentCost(this.keptX, this.keptY, this.newX, this.newY, this.r, this.width, this.height);
          this.keptX = this.newX;
          this.keptY = this.newY;
        }
      }
      this.newX = x;
      this.newY = y;
      this.count++;
    }
    return this;
  }

  /** An independent counter in the same state (to count on without changing this one). */
  copy(): PaintCostCounter {
    return Object.assign(Object.create(PaintCostCounter.prototype) as PaintCostCounter, this);
  }

  /** Points (x,y pairs) added so far. */
  get points(): number {
    return this.count;
  }

  /** The stroke's paint cost so far: {@link strokePaintCost} of all the points added. */
  get cost(): number {
    if (this.count === 0 || !this.visible) return 0;
    if (this.count === 1) return segmentCost(this.keptX, this.keptY, this.keptX, this.keptY, this.r, this.width, this.height);
    return this.settled <= this.cap ? this.settled + segmentCost(this.keptX, this.keptY, this.newX, this.newY, this.r, this.width, this.height) : this.settled;
  }
}

/** Reused coverage buffer (one painter runs at a time on the main thread). */
let coverBuf = new Float32Array(0);

/**
 * Paints `stroke` onto `out` in place, limited to `clip` (default: the whole canvas); `base` is
 * what the eraser restores. `poly` is the stroke's polyline at the canvas's scale when the caller
 * has it cached.
 */
export function paintStroke(out: RgbImage, base: RgbImage, stroke: Stroke, clip?: Rect, poly: Polyline = thinStroke(stroke)): void {
  const { width: W, height: H } = out;
  if (poly.xs.length === 0 || stroke.opacity <= 0) return;
  const { xs, ys, r } = poly;
  let bounds = intersect(poly.box, { x0: 0, y0: 0, x1: W - 1, y1: H - 1 });
  if (clip) bounds = intersect(bounds, clip);
  const { x0, y0, x1, y1 } = bounds;
  if (x0 > x1 || y0 > y1) return;
  const bw = x1 - x0 + 1;
  const n = bw * (y1 - y0 + 1);
  if (coverBuf.length < n) coverBuf = new Float32Array(Math.max(n, coverBuf.length * 2));
  const cover = coverBuf;
  cover.fill(0, 0, n);
  const segs = segmentCount(poly);
  for (let s = 0; s < segs; s++) {
    const ax = xs[s], ay = ys[s];
    const bx = s + 1 < xs.length ? xs[s + 1] : ax;
    const by = s + 1 < ys.length ? ys[s + 1] : ay;
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

/** Rows per band of a repaint: the unit of work between two yields of `composeSliced`. */
const BAND_ROWS = 16;
/** Above this share of the canvas, dirty rectangles are merged into one full repaint. */
const FULL_REPAINT_SHARE = 0.5;
/** `composeSliced` yields to the event loop once a slice has run this long. */
const SLICE_MS = 6;

const sameLook = (a: Stroke, b: Stroke) => a.tool === b.tool && a.color === b.color && a.size === b.size && a.opacity === b.opacity;

/**
 * Keeps a session's canvas and updates it incrementally. Strokes are compared by identity (the
 * validator hands out a new object only for a stroke that changed): the pixels outside the
 * bounding boxes of added, removed and changed strokes keep the same ordered list of strokes
 * covering them, so only those rectangles are repainted (from the base, every stroke that
 * intersects them, in order). A stroke that grew (same id, look and prefix) dirties only the box
 * of its new segments. Anything else (a new base, a new scale, reordered strokes) repaints all.
 */
export class CanvasComposer {
  private base: RgbImage | null = null;
  private scale = 1;
  private out: RgbImage | null = null;
  private strokes: readonly Stroke[] = [];
  private polys = new WeakMap<Stroke, Polyline>();
  /** Pixels evaluated by the last compose (tests, metrics). */
  lastCost = 0;

  private poly(s: Stroke): Polyline {
    let p = this.polys.get(s);
    if (!p) this.polys.set(s, (p = thinStroke(s, this.scale)));
    return p;
  }

  /** The rectangles to repaint to go from the cached strokes to `strokes`; null = everything. */
  private plan(base: RgbImage, strokes: readonly Stroke[], scale: number): Rect[] | null {
    if (!this.out || this.base !== base || this.scale !== scale) return null;
    const old = this.strokes;
    const newSet = new Set(strokes);
    const oldSet = new Set(old);
    const commonOld = old.filter((s) => newSet.has(s));
    const commonNew = strokes.filter((s) => oldSet.has(s));
    if (commonOld.length !== commonNew.length || commonOld.some((s, i) => s !== commonNew[i])) return null;
    // Position of each non-common stroke relative to the common ones.
    const gaps = (list: readonly Stroke[], set: Set<Stroke>) => {
      const m = new Map<Stroke, number>();
      let c = 0;
      for (const s of list) set.has(s) ? c++ : m.set(s, c);
      return m;
    };
    const removed = gaps(old, newSet);
    const added = gaps(strokes, oldSet);
    const byId = new Map<string, Stroke[]>();
    for (const r of removed.keys()) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    const rects: Rect[] = [];
    for (const [a, gap] of added) {
      const candidates = byId.get(a.id);
      const r = candidates?.find((c) => removed.get(c) === gap && sameLook(c, a));
      if (r) {
        removed.delete(r);
        candidates!.splice(candidates!.indexOf(r), 1);
        rects.push(this.changedBox(this.poly(r), this.poly(a)));
      } else {
        rects.push(this.poly(a).box);
      }
    }
    for (const r of removed.keys()) rects.push(this.poly(r).box);
    const canvas: Rect = { x0: 0, y0: 0, x1: base.width - 1, y1: base.height - 1 };
    const clipped = rects.map((r) => intersect(r, canvas)).filter((r) => area(r) > 0);
    const total = clipped.reduce((n, r) => n + area(r), 0);
    return total > FULL_REPAINT_SHARE * area(canvas) ? null : clipped;
  }

  /** Box of the segments that differ between two versions of a stroke (same radius). */
  private changedBox(a: Polyline, b: Polyline): Rect {
    let k = 0;
    const n = Math.min(a.xs.length, b.xs.length);
    while (k < n && a.xs[k] === b.xs[k] && a.ys[k] === b.ys[k]) k++;
    if (k === 0) return unite(a.box, b.box);
    let box = EMPTY;
    const from = k - 1;
    for (const p of [a, b]) for (let s = from; s < segmentCount(p); s++) box = area(box) ? unite(box, segmentBox(p.xs, p.ys, p.r, s)) : segmentBox(p.xs, p.ys, p.r, s);
    return box;
  }

  /** Bands of rows (the unit of work between yields) covering `rects`, or the whole canvas. */
  private bands(base: RgbImage, rects: Rect[] | null): Rect[] {
    const list = rects ?? [{ x0: 0, y0: 0, x1: base.width - 1, y1: base.height - 1 }];
    const out: Rect[] = [];
    for (const r of list) for (let y = r.y0; y <= r.y1; y += BAND_ROWS) out.push({ x0: r.x0, x1: r.x1, y0: y, y1: Math.min(r.y1, y + BAND_ROWS - 1) });
    return out;
  }

  /** Repaints one band: base pixels, then every stroke that intersects it, in order. */
  private repaint(out: RgbImage, base: RgbImage, strokes: readonly Stroke[], band: Rect): number {
    const W = out.width;
    for (let y = band.y0; y <= band.y1; y++) out.data.set(base.data.subarray((y * W + band.x0) * 3, (y * W + band.x1 + 1) * 3), (y * W + band.x0) * 3);
    let cost = 0;
    for (const s of strokes) {
      const p = this.poly(s);
      const hit = intersect(p.box, band);
      if (area(hit) === 0 || s.opacity <= 0) continue;
      paintStroke(out, base, s, band, p);
      cost += area(hit);
    }
    return cost;
  }

  private begin(base: RgbImage, strokes: readonly Stroke[], scale: number): { out: RgbImage; bands: Rect[] } {
    const rects = this.plan(base, strokes, scale);
    if (!rects || !this.out) {
      if (this.scale !== scale) this.polys = new WeakMap();
      this.out = { width: base.width, height: base.height, data: new Uint8Array(base.data) };
    }
    this.base = base;
    this.scale = scale;
    return { out: this.out, bands: this.bands(base, rects) };
  }

  private finish(strokes: readonly Stroke[]): RgbImage {
    this.strokes = [...strokes];
    const out = this.out!;
    return { width: out.width, height: out.height, data: new Uint8Array(out.data) };
  }

  /**
   * `strokes` painted over `base` (a copy; the composer keeps its own canvas). `scale` maps
   * stroke coordinates (content pixels) to canvas pixels when the canvas is a downscaled one.
   */
  compose(base: RgbImage, strokes: readonly Stroke[], scale = 1): RgbImage {
    const { out, bands } = this.begin(base, strokes, scale);
    this.lastCost = 0;
    for (const band of bands) this.lastCost += this.repaint(out, base, strokes, band);
    return this.finish(strokes);
  }

  /**
   * Same result as {@link compose}, in slices: after each band, once {@link SLICE_MS} have passed,
   * it yields to the event loop (setImmediate, so I/O and other sessions' slices run in between).
   * `cancelled` is checked at each yield; a cancelled compose leaves the composer to repaint all.
   */
  async composeSliced(base: RgbImage, strokes: readonly Stroke[], scale = 1, cancelled: () => boolean = () => false): Promise<RgbImage | null> {
    const { out, bands } = this.begin(base, strokes, scale);
    this.lastCost = 0;
    let sliceStart = performance.now();
    for (const band of bands) {
      this.lastCost += this.repaint(out, base, strokes, band);
      if (performance.now() - sliceStart >= SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        if (cancelled()) {
          this.out = null;
          return null;
        }
        sliceStart = performance.now();
      }
    }
    return this.finish(strokes);
  }
}
