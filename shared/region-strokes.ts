/**
 * The one place that reads and writes a region stroke's points in the Yjs document (server
 * validator, history, fork, studio). Region strokes keep their geometry like paint strokes do
 * (shared/strokes.ts): `points` is an append-only `Y.Array<number>` of flat x,y pairs, so painting
 * a region costs O(1) per point on the wire and in the stored history (server SPEC S29); a plain
 * array (documents written before strokes became append-only) reads the same.
 */
import type * as Y from 'yjs';
import type { RegionStroke } from './schema.ts';
import { appendStrokePoints, createStroke, strokeJson, strokePoints } from './strokes.ts';

/** Flat x,y pairs of a region stroke entry (a Y.Map or a plain object); [] when there are none. */
export function regionStrokePoints(entry: unknown): number[] {
  return (strokePoints(entry) ?? []) as number[];
}

/**
 * A region stroke entry as plain JSON for validation (RegionStroke.safeParse): every field as
 * written, `points` flat. A value that is not an object is returned as is.
 */
export function regionStrokeJson(entry: unknown): unknown {
  return strokeJson(entry);
}

/** A new region stroke entry to push to the `regions` array (its points so far, append-only). */
export function createRegionStroke(stroke: RegionStroke): Y.Map<unknown> {
  return createStroke(stroke);
}

/** Appends x,y pairs (only the new ones) to a region stroke that is in a document. */
export function appendRegionStrokePoints(entry: Y.Map<unknown>, points: readonly number[]): void {
  appendStrokePoints(entry, points);
}
