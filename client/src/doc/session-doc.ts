/**
 * Typed access to the shared session document (layout and validation from shared/schema.ts).
 *
 * Every write goes through {@link SessionDoc.transact} with {@link LOCAL_ORIGIN}, which is what
 * the per-user undo manager tracks, and is validated against the shared zod schemas first: a bad
 * value is a thrown error here instead of a value every other client and the server must reject.
 * Reads are lenient: a missing or invalid value reads as its default, so one bad entry written
 * by some external client cannot break the UI. Pure Yjs, no DOM, unit tested.
 */
import * as Y from 'yjs';
import {
  DOC_KEYS,
  DEFAULT_CONTENT,
  DEFAULT_PARAMS,
  PARAM_KEYS,
  ParamSchemas,
  StyleEntry,
  ContentEntry,
  Stroke,
  RegionStroke,
  MAX_STYLES,
  MAX_STROKES,
  MAX_STROKE_POINTS,
  MAX_REGION_STROKES,
  type ParamKey,
  type Params,
} from '../../../shared/schema.ts';
import { appendRegionStrokePoints, createRegionStroke, regionStrokeJson } from '../../../shared/region-strokes.ts';
import { appendStrokePoints, createStroke, strokeJson, strokePointCount } from '../../../shared/strokes.ts';

/** Transaction origin of this browser's own edits; the undo manager tracks only this. */
export const LOCAL_ORIGIN: { readonly name: string } = Object.freeze({ name: 'atelier-local' });

/** What a blank session shows before the server has filled in `content`. */
export const FALLBACK_CONTENT: Readonly<ContentEntry> = DEFAULT_CONTENT;

export interface StyleView extends StyleEntry {
  /** Position in the `styles` array (for update/remove). */
  index: number;
}

export interface StrokeView extends Stroke {
  index: number;
}

export interface RegionView extends RegionStroke {
  index: number;
}

/** Raised when a write would put an invalid value into the shared document. */
export class InvalidDocValue extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'InvalidDocValue';
  }
}

function check<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } }, value: unknown, path: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new InvalidDocValue(path, r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

function mapToObject(m: Y.Map<unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of m.entries()) o[k] = v;
  return o;
}

export class SessionDoc {
  readonly doc: Y.Doc;
  readonly params: Y.Map<unknown>;
  readonly styles: Y.Array<Y.Map<unknown>>;
  readonly content: Y.Map<unknown>;
  readonly strokes: Y.Array<Y.Map<unknown>>;
  readonly regions: Y.Array<Y.Map<unknown>>;
  private strokeCounter = 0;

  constructor(doc: Y.Doc) {
    this.doc = doc;
    this.params = doc.getMap(DOC_KEYS.params);
    this.styles = doc.getArray(DOC_KEYS.styles);
    this.content = doc.getMap(DOC_KEYS.content);
    this.strokes = doc.getArray(DOC_KEYS.strokes);
    this.regions = doc.getArray(DOC_KEYS.regions);
  }

  /** Runs writes as one local transaction (one update on the wire, one undo step). */
  transact(fn: () => void): void {
    this.doc.transact(fn, LOCAL_ORIGIN);
  }

  // ── params ───────────────────────────────────────────────────────────────

  getParam<K extends ParamKey>(key: K): Params[K] {
    const r = ParamSchemas[key].safeParse(this.params.get(key));
    return (r.success ? r.data : DEFAULT_PARAMS[key]) as Params[K];
  }

  getParams(): Params {
    const out = {} as Record<ParamKey, unknown>;
    for (const k of PARAM_KEYS) out[k] = this.getParam(k);
    return out as Params;
  }

  setParam<K extends ParamKey>(key: K, value: Params[K]): void {
    if (!(key in ParamSchemas)) throw new InvalidDocValue(`params.${String(key)}`, 'unknown parameter');
    const v = check(ParamSchemas[key] as never, value, `params.${key}`);
    if (this.params.get(key) === v) return;
    this.transact(() => this.params.set(key, v));
  }

  // ── styles ───────────────────────────────────────────────────────────────

  getStyles(): StyleView[] {
    const out: StyleView[] = [];
    this.styles.forEach((m, index) => {
      if (!(m instanceof Y.Map)) return;
      const r = StyleEntry.safeParse(mapToObject(m));
      if (r.success) out.push({ ...r.data, index });
    });
    return out;
  }

  addStyle(entry: StyleEntry): void {
    const e = check(StyleEntry, entry, `styles[${this.styles.length}]`);
    if (this.styles.length >= MAX_STYLES) throw new InvalidDocValue('styles', `at most ${MAX_STYLES} styles`);
    this.transact(() => this.styles.push([new Y.Map<unknown>(Object.entries(e))]));
  }

  updateStyle(index: number, patch: Partial<Pick<StyleEntry, 'weight' | 'scale'>>): void {
    const m = this.styles.get(index);
    if (!(m instanceof Y.Map)) throw new InvalidDocValue(`styles[${index}]`, 'no such style');
    const next = check(StyleEntry, { ...mapToObject(m), ...patch }, `styles[${index}]`);
    this.transact(() => {
      for (const k of Object.keys(patch) as (keyof typeof patch)[]) {
        if (m.get(k) !== next[k]) m.set(k, next[k]);
      }
    });
  }

  removeStyle(index: number): void {
    if (index < 0 || index >= this.styles.length) throw new InvalidDocValue(`styles[${index}]`, 'no such style');
    this.transact(() => this.styles.delete(index, 1));
  }

  // ── content ──────────────────────────────────────────────────────────────

  getContent(): ContentEntry {
    const r = ContentEntry.safeParse(mapToObject(this.content));
    if (r.success) return r.data;
    const bg = this.content.get('background');
    return { ...FALLBACK_CONTENT, background: typeof bg === 'string' && /^#[0-9a-fA-F]{6}$/.test(bg) ? bg : FALLBACK_CONTENT.background };
  }

  /**
   * Sets the content. Passing `imageId: undefined` clears the photo (blank canvas of
   * `background`). Width/height must match the image so strokes stay in content pixels.
   */
  setContent(patch: Partial<ContentEntry> & { imageId?: string | undefined }): void {
    const next = check(ContentEntry, { ...this.getContent(), ...patch }, 'content');
    this.transact(() => {
      if ('imageId' in patch && patch.imageId === undefined) this.content.delete('imageId');
      else if (next.imageId !== undefined && this.content.get('imageId') !== next.imageId) this.content.set('imageId', next.imageId);
      for (const k of ['background', 'width', 'height'] as const) {
        if (this.content.get(k) !== next[k]) this.content.set(k, next[k]);
      }
    });
  }

  // ── strokes ──────────────────────────────────────────────────────────────

  getStrokes(): StrokeView[] {
    const out: StrokeView[] = [];
    this.strokes.forEach((m, index) => {
      const s = readStroke(m);
      if (s) out.push({ ...s, index });
    });
    return out;
  }

  /**
   * Adds a stroke (usually with its first point) and returns its map for live point appends. Its
   * `points` is append-only (shared/strokes.ts): a Y.Array that {@link appendPoints} grows.
   */
  beginStroke(stroke: Omit<Stroke, 'id'> & { id?: string }): Y.Map<unknown> {
    const id = stroke.id ?? `${this.doc.clientID.toString(36)}-${Date.now().toString(36)}-${(this.strokeCounter++).toString(36)}`;
    const s = check(Stroke, { ...stroke, id }, `strokes[${this.strokes.length}]`);
    if (this.strokes.length >= MAX_STROKES) throw new InvalidDocValue('strokes', `at most ${MAX_STROKES} strokes; clear the canvas first`);
    const m = createStroke(s);
    this.transact(() => this.strokes.push([m]));
    return m;
  }

  /**
   * Appends points to a stroke (flat x,y pairs; only the new ones): one small insert on the wire
   * and in the stored history however long the stroke already is (C34), while others see it grow.
   */
  appendPoints(stroke: Y.Map<unknown>, points: readonly number[]): void {
    if (!points.length) return;
    if (points.length % 2 !== 0) throw new InvalidDocValue('strokes.points', 'points must hold x,y pairs');
    if (!points.every((v) => Number.isFinite(v) && Math.abs(v) <= 1e5)) throw new InvalidDocValue('strokes.points', 'points must be finite content coordinates');
    if (stroke.doc !== this.doc) return; // the stroke was removed (e.g. someone cleared) — nothing to update
    if (strokePointCount(stroke) * 2 + points.length > MAX_STROKE_POINTS) throw new InvalidDocValue('strokes.points', `at most ${MAX_STROKE_POINTS / 2} points`);
    this.transact(() => appendStrokePoints(stroke, points));
  }

  // ── regions (style brushes) ──────────────────────────────────────────────

  getRegions(): RegionView[] {
    const out: RegionView[] = [];
    this.regions.forEach((m, index) => {
      const r = readRegion(m);
      if (r) out.push({ ...r, index });
    });
    return out;
  }

  /** Adds a style-brush stroke (usually with its first point); returns its entry for live point updates. */
  beginRegion(stroke: Omit<RegionStroke, 'id'> & { id?: string }): Y.Map<unknown> {
    const id = stroke.id ?? `${this.doc.clientID.toString(36)}-${Date.now().toString(36)}-r${(this.strokeCounter++).toString(36)}`;
    const r = check(RegionStroke, { ...stroke, id }, `regions[${this.regions.length}]`);
    if (this.regions.length >= MAX_REGION_STROKES) throw new InvalidDocValue('regions', `at most ${MAX_REGION_STROKES} style brush strokes; clear the regions first`);
    const m = createRegionStroke(r);
    this.transact(() => this.regions.push([m]));
    return m;
  }

  /** Appends points (only the new ones) to a style-brush stroke; others see the region grow live. */
  appendRegionPoints(entry: Y.Map<unknown>, points: readonly number[]): void {
    if (!points.length) return;
    if (points.length % 2 !== 0) throw new InvalidDocValue('regions.points', 'points must hold x,y pairs');
    if (!points.every((v) => Number.isFinite(v) && Math.abs(v) <= 1e5)) throw new InvalidDocValue('regions.points', 'points must be finite content coordinates');
    if (entry.doc !== this.doc) return; // removed meanwhile (e.g. someone cleared the regions)
    if (strokePointCount(entry) * 2 + points.length > MAX_STROKE_POINTS) throw new InvalidDocValue('regions.points', `at most ${MAX_STROKE_POINTS / 2} points`);
    this.transact(() => appendRegionStrokePoints(entry, points));
  }

  /** Removes every style-brush stroke in one local transaction (one undo step). */
  clearRegions(): void {
    if (this.regions.length === 0) return;
    this.transact(() => this.regions.delete(0, this.regions.length));
  }

  /** Removes every stroke in one local transaction, so clearing is one undo step. */
  clearStrokes(): void {
    if (this.strokes.length === 0) return;
    this.transact(() => this.strokes.delete(0, this.strokes.length));
  }
}

/** Validated snapshot of one region stroke entry, or null if it is not a valid one. */
export function readRegion(m: unknown): RegionStroke | null {
  const r = RegionStroke.safeParse(regionStrokeJson(m));
  return r.success ? r.data : null;
}

/** Validated snapshot of one stroke map, or null if it is not a valid stroke. */
export function readStroke(m: unknown): Stroke | null {
  if (!(m instanceof Y.Map)) return null;
  const r = Stroke.safeParse(strokeJson(m));
  return r.success ? r.data : null;
}
