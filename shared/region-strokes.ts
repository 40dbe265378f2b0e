/**
 * The one place that reads and writes a region stroke's points in the Yjs document (server
 * validator, history, fork, studio). Today a stroke's `points` is a flat [x0, y0, x1, y1, …]
 * array replaced as the stroke grows, exactly like ordinary strokes; when strokes' points become
 * append-only data behind helpers of their own (issue 19), only this module changes.
 */
import * as Y from 'yjs';
import type { RegionStroke } from './schema.ts';

/** Flat x,y pairs of a region stroke entry (a Y.Map or a plain object); [] when there are none. */
export function regionStrokePoints(entry: unknown): number[] {
  const raw = entry instanceof Y.Map ? entry.get('points') : entry && typeof entry === 'object' ? (entry as Record<string, unknown>).points : undefined;
  const pts = raw instanceof Y.Array ? raw.toArray() : raw;
  return Array.isArray(pts) ? (pts as number[]) : [];
}

/**
 * A region stroke entry as plain JSON for validation (RegionStroke.safeParse): every field as
 * written, `points` flat. A value that is not an object is returned as is.
 */
export function regionStrokeJson(entry: unknown): unknown {
  if (entry instanceof Y.Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of entry.entries()) o[k] = v instanceof Y.AbstractType ? v.toJSON() : v;
    if (entry.has('points')) o.points = regionStrokePoints(entry);
    return o;
  }
  return entry;
}

/** A new region stroke entry to push to the `regions` array (its points as they are so far). */
export function createRegionStroke(stroke: RegionStroke): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(stroke)) if (v !== undefined) m.set(k, k === 'points' ? (v as number[]).slice() : v);
  return m;
}

/** Sets a region stroke's points to `points` (all of them: the stroke as drawn so far). */
export function setRegionStrokePoints(entry: Y.Map<unknown>, points: readonly number[]): void {
  entry.set('points', points.slice());
}
