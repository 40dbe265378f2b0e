/**
 * Recording a stroke's points while someone draws. Pointer events arrive far faster than the
 * network needs (and in Chromium, coalesced); the recorder drops points closer than a fraction
 * of the brush size to the previous one, tells the caller when to publish (every
 * {@link PUBLISH_INTERVAL_MS}) and hands out only the points added since the last publish: the
 * shared stroke is append-only (shared/strokes.ts), so a point costs the same on the wire and in
 * the stored history however long the stroke is. Coordinates are kept in 1/8 px steps (what the
 * document stores). Pure, unit tested.
 */
import { MAX_STROKE_POINTS } from '../../../shared/schema.ts';
import { quantizeCoord } from '../../../shared/strokes.ts';

/** Live stroke updates are published at most this often. */
export const PUBLISH_INTERVAL_MS = 30;

export class StrokeRecorder {
  /** Flat x,y pairs in content pixels. */
  readonly points: number[] = [];
  private lastPublish = -Infinity;
  /** Numbers of `points` already handed out by {@link takeUnpublished}. */
  private published = 0;
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
    this.points.push(quantizeCoord(x), quantizeCoord(y));
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
  /**
   * The points added since the last call, to append to the published stroke (C52: a stroke is
   * appended to, never rewritten), and marks them published.
   */
  takeUnpublished(): number[] {
    const out = this.points.slice(this.published);
    this.published = this.points.length;
    this.dirty = false;
    return out;
  }
}
