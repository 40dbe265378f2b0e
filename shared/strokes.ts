/**
 * Stroke entries in the shared document, behind a few helpers that every reader and writer uses
 * (client session-doc and canvas, server validation and rasterizer, history replay, fork,
 * `render --from-session`, load and fuzz generators). Any kind of stroke entry that keeps its
 * geometry in `points` (the paint strokes of shared/schema.ts, and later ones) reads and grows
 * through these, so the representation below is decided in one place.
 *
 * **Representation (the public contract, README "Document"):** a stroke is a `Y.Map` in the
 * `strokes` array; its `points` is a `Y.Array<number>` of flat x,y pairs in content pixels that
 * only grows. Drawing a point is one insert at its end: O(1) bytes on the wire and in the stored
 * history (server/SPEC.md S29), where replacing the whole array per point made a 300-point stroke
 * cost 100× its final size. A stroke is never rewritten once published; deleting it deletes the
 * map.
 *
 * **Older documents and stock clients** may hold a plain `number[]` in `points` (replaced as a
 * whole as it grew): {@link strokePoints} reads both, the server accepts both, and
 * {@link migrateStrokePoints} turns a plain array into the append-only form (the server does it
 * once when it loads a stored session, so every later append is O(1)).
 */
import * as Y from 'yjs';

/**
 * Coordinates are stored in steps of 1/8 px: exact in float32, so Yjs encodes each in 5 bytes
 * (integers in 1–3) instead of 9 for an arbitrary double, and far below what a brush can show.
 */
export const POINT_STEP = 1 / 8;

/** `v` rounded to the stored precision ({@link POINT_STEP}). */
export function quantizeCoord(v: number): number {
  return Math.round(v / POINT_STEP) * POINT_STEP;
}

/** The `points` value of a stroke entry: a Y.Map's, a plain object's, or undefined. */
function rawPoints(entry: unknown): unknown {
  if (entry instanceof Y.Map) return entry.get('points');
  if (entry && typeof entry === 'object' && !(entry instanceof Y.AbstractType)) return (entry as Record<string, unknown>).points;
  return undefined;
}

/**
 * The points of a stroke entry as a flat `[x0, y0, x1, y1, …]` copy, whether `points` is the
 * append-only Y.Array or a plain array (older documents, stock clients); `undefined` when the entry
 * has no points array at all. The numbers are returned as stored (validate them with `Stroke`).
 */
export function strokePoints(entry: unknown): unknown[] | undefined {
  const p = rawPoints(entry);
  if (p instanceof Y.Array) return p.toArray();
  return Array.isArray(p) ? p.slice() : undefined;
}

/** How many x,y points a stroke entry holds (0 without a points array). */
export function strokePointCount(entry: unknown): number {
  const p = rawPoints(entry);
  const n = p instanceof Y.Array ? p.length : Array.isArray(p) ? p.length : 0;
  return Math.floor(n / 2);
}

/**
 * A stroke entry as plain JSON with `points` flattened ({@link strokePoints}): what the schema
 * validates. Non-map entries come back as they are.
 */
export function strokeJson(entry: unknown): unknown {
  if (!(entry instanceof Y.Map)) return entry instanceof Y.AbstractType ? entry.toJSON() : entry;
  const out: Record<string, unknown> = {};
  for (const [k, v] of entry.entries()) out[k] = k === 'points' ? strokePoints(entry) : v instanceof Y.AbstractType ? v.toJSON() : v;
  return out;
}

/**
 * A new stroke entry: a Y.Map with the given fields and `points` as an append-only Y.Array
 * holding the first points. Push it into a document's `strokes` array in a transaction.
 */
export function createStroke(fields: { points: readonly number[] } & Record<string, unknown>): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(fields)) if (k !== 'points' && v !== undefined) m.set(k, v);
  const pts = new Y.Array<number>();
  if (fields.points.length) pts.push([...fields.points]);
  m.set('points', pts);
  return m;
}

/**
 * Appends x,y pairs to a stroke entry that is in a document (call inside a transaction to group
 * them with other writes). A plain-array stroke is first turned into the append-only form
 * ({@link migrateStrokePoints}), so this is the one way to grow any stroke.
 */
export function appendStrokePoints(entry: Y.Map<unknown>, points: readonly number[]): void {
  if (!points.length) return;
  const p = entry.get('points');
  if (p instanceof Y.Array) {
    p.push([...points]);
    return;
  }
  const before = Array.isArray(p) ? (p as number[]) : [];
  const arr = new Y.Array<number>();
  arr.push([...before, ...points]);
  entry.set('points', arr);
}

/**
 * Turns a stroke entry whose `points` is a plain array into the append-only form (same numbers,
 * now a Y.Array). Returns whether it changed anything. Run in a transaction: the document gains
 * one update that holds the points once more; every append after it costs O(1).
 */
export function migrateStrokePoints(entry: unknown): boolean {
  if (!(entry instanceof Y.Map)) return false;
  const p = entry.get('points');
  if (!Array.isArray(p)) return false;
  const arr = new Y.Array<unknown>();
  arr.push(p.slice());
  entry.set('points', arr);
  return true;
}
