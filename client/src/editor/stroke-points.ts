/**
 * Recording a stroke's points while someone draws. Pointer events arrive far faster than the
 * network needs (and in Chromium, coalesced); the recorder drops points closer than a fraction
 * of the brush size to the previous one, tells the caller when to publish (every
 * {@link PUBLISH_INTERVAL_MS}), and simplifies the finished stroke with Ramer–Douglas–Peucker
 * so the stored document stays small. Pure, unit tested.
 */
import { MAX_STROKE_POINTS } from '../../../shared/schema.ts';

/** Live stroke updates are published at most this often. */
export const PUBLISH_INTERVAL_MS = 30;

export class StrokeRecorder {
  /** Flat x,y pairs in content pixels. */
  readonly points: number[] = [];
  private lastPublish = -Infinity;
  private dirty = false;
  private readonly minDist: number;

  constructor(
    size: number,
    readonly maxNumbers = MAX_STROKE_POINTS,
  ) {
    // Points closer than this add nothing visible to a round-capped line of this width.
    this.minDist = Math.max(0.5, size * 0.08);
  }

  get full(): boolean {
    return this.points.length + 2 > this.maxNumbers;
  }

  /** Adds a point; returns false if it was too close to the previous one (or the stroke is full). */
  add(x: number, y: number): boolean {
    if (!Number.isFinite(x) || !Number.isFinite(y) || this.full) return false;
    const n = this.points.length;
    if (n >= 2) {
      const dx = x - this.points[n - 2];
      const dy = y - this.points[n - 1];
      if (dx * dx + dy * dy < this.minDist * this.minDist) return false;
    }
    this.points.push(round2(x), round2(y));
    this.dirty = true;
    return true;
  }

  /** True when there are unpublished points and the throttle interval has passed; marks them published. */
  shouldPublish(now: number): boolean {
    if (!this.dirty || now - this.lastPublish < PUBLISH_INTERVAL_MS) return false;
    this.lastPublish = now;
    this.dirty = false;
    return true;
  }

  /** The final point list: simplified, never empty if any point was added. */
  finish(tolerance = 0.35): number[] {
    this.dirty = false;
    return simplifyPolyline(this.points, tolerance);
  }
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Ramer–Douglas–Peucker on a flat [x0,y0,x1,y1,…] array: keeps the end points and every point
 * farther than `tolerance` from the simplified line. Iterative, so long strokes cannot overflow
 * the stack.
 */
export function simplifyPolyline(points: readonly number[], tolerance: number): number[] {
  const n = points.length / 2;
  if (n <= 2 || tolerance <= 0) return points.slice();
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const stack: Array<[number, number]> = [[0, n - 1]];
  const tol2 = tolerance * tolerance;
  while (stack.length) {
    const [a, b] = stack.pop()!;
    const ax = points[2 * a];
    const ay = points[2 * a + 1];
    const bx = points[2 * b];
    const by = points[2 * b + 1];
    let maxD = -1;
    let maxI = -1;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance2(points[2 * i], points[2 * i + 1], ax, ay, bx, by);
      if (d > maxD) {
        maxD = d;
        maxI = i;
      }
    }
    if (maxI >= 0 && maxD > tol2) {
      keep[maxI] = 1;
      stack.push([a, maxI], [maxI, b]);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(points[2 * i], points[2 * i + 1]);
  return out;
}

/** Squared distance from (px,py) to the segment a–b. */
function segmentDistance2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  const ex = ax + t * dx - px;
  const ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}
