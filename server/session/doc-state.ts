/**
 * Validation of the shared document: the fence between what clients write and what the engine
 * sees. Yjs applies every update (it is a CRDT; refusing one would fork the replicas), then this
 * module validates the values the transaction touched with the zod schemas of shared/schema.ts,
 * field by field. A bad value never replaces the last valid one: the engine keeps running on the
 * last valid snapshot and the writer (the transaction origin) is told what was wrong.
 *
 * Granularity: each param, each content field, each style entry and each stroke has its own
 * "last valid" value. A style or stroke entry that has never been valid is left out.
 */
import * as Y from 'yjs';
import {
  ContentEntry,
  DEFAULT_CONTENT,
  DEFAULT_PARAMS,
  DOC_KEYS,
  MAX_REGION_STROKES,
  MAX_REGION_STYLES,
  MAX_STROKE_POINTS,
  MAX_STROKES,
  MAX_STYLES,
  ParamSchemas,
  RegionStroke,
  Stroke,
  StyleEntry,
  type ParamKey,
  type Params,
  type SessionState,
} from '../../shared/schema.ts';
import { ErrorCode, type ErrorPayload } from '../../shared/protocol.ts';
import type { z } from 'zod';
import { strokeJson } from '../../shared/strokes.ts';
import { PaintCostCounter, strokePaintCost } from './rasterize.ts';
import { regionStrokeJson } from '../../shared/region-strokes.ts';
import { workingSize } from './canvas-builder.ts';
import { CONFIG_DEFAULTS, type Config } from '../config.ts';

/** Paint budgets (S24), in pixels the rasterizer evaluates at the working size. */
export interface PaintBudget {
  /** One stroke (PAINT_MAX_STROKE_COST). */
  maxStrokeCost: number;
  /** What one transaction may add (PAINT_MAX_UPDATE_COST). */
  maxUpdateCost: number;
  /** All drawn strokes together, i.e. a full repaint (PAINT_MAX_SESSION_COST). */
  maxSessionCost: number;
}

/** The paint budget a configuration sets (PAINT_MAX_* settings). */
export function paintBudget(c: Pick<Config, 'paintMaxStrokeCost' | 'paintMaxUpdateCost' | 'paintMaxSessionCost'>): PaintBudget {
  return { maxStrokeCost: c.paintMaxStrokeCost, maxUpdateCost: c.paintMaxUpdateCost, maxSessionCost: c.paintMaxSessionCost };
}

/** The defaults of server/config.ts (a validator built without budgets, e.g. in tests, uses them). */
export const DEFAULT_PAINT_BUDGET: PaintBudget = paintBudget(CONFIG_DEFAULTS);

/** The canvas a session has before any valid content value (declared in shared/schema.ts). */
export { DEFAULT_CONTENT };

/** Which parts of the validated state changed in a transaction. */
export interface StateChanges {
  params: boolean;
  styles: boolean;
  /** Content entry or strokes (both feed the composed canvas). */
  canvas: boolean;
  /** Region strokes (the style brushes' masks). */
  regions: boolean;
}

export interface TransactionResult {
  changes: StateChanges;
  /** Keys this transaction wrote that the schema does not know (params, content, style and stroke fields): to be removed (S27). */
  unknown: (readonly [Y.Map<unknown>, string])[];
  /** Problems with values this transaction wrote, for its origin. */
  errors: ErrorPayload[];
}

const describe = (v: unknown): string => {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return typeof v;
  }
};

function issueMessage(err: z.ZodError, value: unknown): { path: string; message: string } {
  const issue = err.issues[0];
  return { path: issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join(''), message: `${issue.message} (got ${describe(value)})` };
}

const shortKey = (k: string): string => (k.length > 40 ? k.slice(0, 37) + '...' : k);
const invalid = (path: string, message: string): ErrorPayload => ({ code: ErrorCode.InvalidValue, path, message });
const overBudget = (path: string, message: string): ErrorPayload => ({ code: ErrorCode.OverBudget, path, message });

function entryJson(entry: unknown): unknown {
  if (entry instanceof Y.Map) return entry.toJSON();
  if (entry instanceof Y.AbstractType) return entry.toJSON();
  return entry;
}

/** Tracks the last valid value of every field of one session document. */
export class DocValidator {
  private params: Params = { ...DEFAULT_PARAMS };
  private content: ContentEntry = { ...DEFAULT_CONTENT };
  private styleCache = new WeakMap<object, StyleEntry | null>();
  private strokeCache = new WeakMap<object, Stroke | null>();
  private styles: StyleEntry[] = [];
  private strokes: Stroke[] = [];
  private regionCache = new WeakMap<object, RegionStroke | null>();
  private regions: RegionStroke[] = [];
  private costs = new WeakMap<Stroke | RegionStroke, { key: string; cost: number }>();
  /**
   * Per stroke entry whose last accepted value is what its points array holds now: that array, the
   * value and its running paint cost, so that appended points alone are validated and costed
   * ({@link grownStroke}). Re-parsing and re-costing the whole stroke on every point was O(n²) per
   * stroke: ~2 s of 35 s of a server process's main thread in the cluster load run.
   */
  private growth = new WeakMap<object, { points: Y.Array<unknown>; stroke: Stroke; sizeKey: string; counter: PaintCostCounter }>();
  /**
   * Set by a whole pass over the strokes when every entry is an object and every valid one is
   * drawn (none left out by MAX_STROKES or PAINT_MAX_SESSION_COST): where each drawn stroke sits
   * in {@link strokes}, for {@link strokesGrown}.
   */
  private allDrawn: { sizeKey: string; at: Map<Stroke, number> } | null = null;
  /** Stroke entries already told they are over a budget (told once, not on every point). */
  private overBudgetTold = new WeakSet<object>();
  /** Paint cost of the drawn strokes at the working size (a full repaint). */
  paintCost = 0;
  /** Paint cost of the region strokes at the working size (a full repaint of the masks). */
  regionPaintCost = 0;

  /**
   * @param imageExists lets a style or content `imageId` count as valid only when the image is
   *   actually stored (an id of a missing image is reported like any other bad value).
   */
  constructor(
    private doc: Y.Doc,
    private imageExists: (id: string) => boolean,
    private paintBudget: PaintBudget = DEFAULT_PAINT_BUDGET,
    /** Test hook: false = every touched stroke is parsed and costed whole (the reference the appended-points path is checked against). */
    private appendedPointsOnly = true,
  ) {
    // Define the top-level types before any update is applied: in a fresh Y.Doc, Yjs files
    // the changes of an update into untyped placeholders when the type is not yet defined, and
    // the typed maps fetched later would miss them (a reloaded session would lose its seed).
    void this.paramsMap, this.contentMap, this.stylesArray, this.strokesArray, this.regionsArray;
  }

  get paramsMap(): Y.Map<unknown> {
    return this.doc.getMap(DOC_KEYS.params);
  }
  get contentMap(): Y.Map<unknown> {
    return this.doc.getMap(DOC_KEYS.content);
  }
  get stylesArray(): Y.Array<unknown> {
    return this.doc.getArray(DOC_KEYS.styles);
  }
  get strokesArray(): Y.Array<unknown> {
    return this.doc.getArray(DOC_KEYS.strokes);
  }
  get regionsArray(): Y.Array<unknown> {
    return this.doc.getArray(DOC_KEYS.regions);
  }

  /** The validated snapshot the engine runs on. */
  state(): SessionState {
    return { params: this.params, styles: this.styles, content: this.content, strokes: this.strokes, regions: this.regions };
  }

  /** Re-validates what `tr` touched. Call from `doc.on('afterTransaction')`. */
  onTransaction(tr: Y.Transaction): TransactionResult {
    const errors: ErrorPayload[] = [];
    const changes: StateChanges = { params: false, styles: false, canvas: false, regions: false };
    const unknown: TransactionResult['unknown'] = [];
    this.unknownOut = unknown;
    const sizeBefore = sizeKeyOf(this.content, this.params);
    const touched = (t: any) => tr.changedParentTypes.has(t) || tr.changed.has(t);
    if (touched(this.paramsMap)) {
      const keys = new Set([...(tr.changed.get(this.paramsMap as any) ?? [])].filter((k): k is string => k !== null));
      const before = this.params;
      this.validateParams(keys, errors);
      changes.params = before !== this.params;
      // The canvas is composed at the resolution's working size (S25).
      changes.canvas ||= before.resolution !== this.params.resolution;
    }
    if (touched(this.contentMap)) {
      const keys = new Set([...(tr.changed.get(this.contentMap as any) ?? [])].filter((k): k is string => k !== null));
      const before = this.content;
      this.validateContent(keys, errors);
      changes.canvas ||= before !== this.content;
    }
    if (changes.canvas && !touched(this.strokesArray)) {
      // A new working size changes every stroke's paint cost: apply the session budget again.
      const before = this.strokes;
      this.validateStrokes(() => false, errors);
      if (this.strokes.length < before.length) {
        errors.push(overBudget('strokes', `${before.length - this.strokes.length} strokes are not drawn at this size: together they would cost more than the session's paint budget of ${this.paintBudget.maxSessionCost} pixels (PAINT_MAX_SESSION_COST)`));
      }
    }
    const entryTouched = (e: unknown, seen: WeakMap<object, unknown>) =>
      typeof e !== 'object' || e === null || !seen.has(e) || (e instanceof Y.AbstractType && (tr.changed.has(e) || tr.changedParentTypes.has(e)));
    if (touched(this.stylesArray)) {
      const before = this.styles;
      this.validateStyles((e) => entryTouched(e, this.styleCache), errors);
      changes.styles = !sameList(before, this.styles);
    }
    if (touched(this.strokesArray)) {
      const before = this.strokes;
      this.validateStrokes((e) => entryTouched(e, this.strokeCache), errors, tr);
      changes.canvas ||= !sameList(before, this.strokes);
    }
    const resized = sizeKeyOf(this.content, this.params) !== sizeBefore;
    if (touched(this.regionsArray) || resized) {
      // A new working size changes every region stroke's paint cost: the budgets apply again.
      const before = this.regions;
      this.validateRegions((e) => entryTouched(e, this.regionCache), errors);
      if (!touched(this.regionsArray) && this.regions.length < before.length) {
        errors.push(overBudget('regions', `${before.length - this.regions.length} region strokes are not used at this size: together they would cost more than the session's paint budget of ${this.paintBudget.maxSessionCost} pixels (PAINT_MAX_SESSION_COST)`));
      }
      changes.regions = !sameList(before, this.regions);
    }
    this.unknownOut = null;
    return { changes, errors, unknown };
  }

  /** Collects unknown keys during {@link onTransaction}. */
  private unknownOut: TransactionResult['unknown'] | null = null;

  /** Notes the keys of a touched entry map that `shape` does not define. */
  private noteUnknownFields(entry: unknown, shape: Record<string, unknown>): void {
    if (!this.unknownOut || !(entry instanceof Y.Map)) return;
    for (const k of entry.keys()) if (!(k in shape)) this.unknownOut.push([entry, k]);
  }

  private validateParams(keys: Set<string>, errors: ErrorPayload[]): void {
    let next: Params | null = null;
    for (const key of keys) {
      if (!(key in ParamSchemas)) {
        if (this.paramsMap.has(key)) {
          errors.push(invalid(`params.${shortKey(key)}`, `unknown parameter '${shortKey(key)}' (dropped)`));
          this.unknownOut?.push([this.paramsMap, key]);
        }
        continue;
      }
      if (!this.paramsMap.has(key)) continue; // deleted: keep the last valid value
      const value = this.paramsMap.get(key);
      const r = ParamSchemas[key as ParamKey].safeParse(value);
      if (!r.success) {
        errors.push(invalid(`params.${key}`, issueMessage(r.error, value).message));
        continue;
      }
      if (this.params[key as ParamKey] !== r.data) {
        next ??= { ...this.params };
        (next as Record<string, unknown>)[key] = r.data;
      }
    }
    if (next) this.params = next;
  }

  private validateContent(keys: Set<string>, errors: ErrorPayload[]): void {
    let next: ContentEntry | null = null;
    const shape = ContentEntry.shape;
    for (const key of keys) {
      if (!(key in shape)) {
        if (this.contentMap.has(key)) {
          errors.push(invalid(`content.${shortKey(key)}`, `unknown content field '${shortKey(key)}' (dropped)`));
          this.unknownOut?.push([this.contentMap, key]);
        }
        continue;
      }
      const has = this.contentMap.has(key);
      if (!has && key !== 'imageId') continue;
      const value = has ? this.contentMap.get(key) : undefined;
      const r = shape[key as keyof typeof shape].safeParse(value);
      if (!r.success) {
        errors.push(invalid(`content.${key}`, issueMessage(r.error, value).message));
        continue;
      }
      if (key === 'imageId' && typeof r.data === 'string' && !this.imageExists(r.data)) {
        errors.push(invalid('content.imageId', `no image ${r.data} is stored; upload it first`));
        continue;
      }
      if ((this.content as Record<string, unknown>)[key] !== r.data) {
        next ??= { ...this.content };
        if (r.data === undefined) delete (next as Record<string, unknown>)[key];
        else (next as Record<string, unknown>)[key] = r.data;
      }
    }
    if (next) this.content = next;
  }

  private validateStyles(isTouched: (e: unknown) => boolean, errors: ErrorPayload[]): void {
    const out: StyleEntry[] = [];
    this.stylesArray.toArray().forEach((entry, i) => {
      const key = typeof entry === 'object' && entry !== null ? entry : null;
      const touched = isTouched(entry);
      let valid = key ? this.styleCache.get(key) ?? null : null;
      if (touched || !key) {
        this.noteUnknownFields(entry, StyleEntry.shape);
        const json = entryJson(entry);
        const r = StyleEntry.safeParse(json);
        if (!r.success) {
          const m = issueMessage(r.error, json);
          errors.push(invalid(`styles[${i}]${m.path}`, m.message));
        } else if (!this.imageExists(r.data.imageId)) {
          errors.push(invalid(`styles[${i}].imageId`, `no image ${r.data.imageId} is stored; upload it first`));
        } else {
          const prev = valid;
          valid = prev && JSON.stringify(prev) === JSON.stringify(r.data) ? prev : r.data;
        }
        if (key) this.styleCache.set(key, valid);
      }
      if (!valid) return;
      if (out.length >= MAX_STYLES) {
        if (touched) errors.push(invalid(`styles[${i}]`, `at most ${MAX_STYLES} styles are used; this one is ignored`));
        return;
      }
      out.push(valid);
    });
    this.styles = out;
  }

  /** Paint cost of a validated stroke at the current working size (cached per stroke and size). */
  private strokeCost(stroke: Stroke | (RegionStroke & { opacity: number }), size: { width: number; height: number; scale: number }, key: string, cacheAs: Stroke | RegionStroke = stroke): number {
    const hit = this.costs.get(cacheAs);
    if (hit?.key === key) return hit.cost;
    // Counting stops past the per-stroke budget: such a stroke is refused whatever its exact cost.
    const cost = strokePaintCost(stroke, size.width, size.height, size.scale, this.paintBudget.maxStrokeCost);
    this.costs.set(cacheAs, { key, cost });
    return cost;
  }

  /** One report per entry: a stroke drawn past a budget would otherwise be told on every point. */
  private tellOnce(entry: object | null, e: ErrorPayload, errors: ErrorPayload[]): void {
    if (entry && this.overBudgetTold.has(entry)) return;
    if (entry) this.overBudgetTold.add(entry);
    errors.push(e);
  }

  /**
   * The new value of a stroke entry whose last accepted value is `prev`, when all `tr` did to it
   * was append points to its points Y.Array (the way strokes are drawn, shared/strokes.ts) and the
   * appended points are valid: `prev` with them, its paint cost counted on from `prev`'s in
   * O(appended points). Null when anything else changed (a field, the array replaced, an insert
   * or delete before its end, a bad value, the working size): the entry is then validated whole,
   * which reports exactly what is wrong. Same result as validating it whole (doc-state.test.ts).
   */
  private grownStroke(tr: Y.Transaction, entry: unknown, prev: Stroke, sizeKey: string): { stroke: Stroke; counter: PaintCostCounter } | null {
    if (!(entry instanceof Y.Map) || tr.changed.has(entry as any)) return null;
    const g = this.growth.get(entry);
    const points = entry.get('points');
    if (!g || g.stroke !== prev || g.sizeKey !== sizeKey || g.points !== points) return null;
    const events = tr.changedParentTypes.get(entry as any);
    if (!events || events.length !== 1 || events[0].target !== points) return null;
    const delta = events[0].changes.delta;
    const before = prev.points.length;
    const insert = before === 0 ? delta[0] : delta[1];
    if (delta.length !== (before === 0 ? 1 : 2) || (before > 0 && delta[0].retain !== before) || !Array.isArray(insert?.insert)) return null;
    const appended = insert.insert as unknown[];
    if (before + appended.length > MAX_STROKE_POINTS) return null;
    // The appended points checked by the stroke schema's own rule for points (x,y pairs, finite,
    // in range); parsing a whole (small) stroke object instead cost ~0.5 s of a 30 s profile.
    const r = Stroke.shape.points.safeParse(appended);
    if (!r.success) return null;
    return { stroke: { ...prev, points: prev.points.concat(r.data) }, counter: g.counter.copy().add(r.data) };
  }

  /**
   * The strokes after a transaction that only appended points to strokes that are drawn, when
   * every valid stroke was drawn before it and still fits every budget after it: each touched
   * entry is updated from its new points ({@link grownStroke}) without walking the others. Going
   * over every stroke of the session on every drawn point cost ~1.3 s of 30 s of a server's main
   * thread in the cluster load run (sessions hold hundreds of strokes). Anything else (a new or
   * removed entry, an edit, a refusal, a stroke left out) takes the whole pass, which gives the
   * same result (doc-state.test.ts) and says exactly what is wrong.
   */
  private strokesGrown(tr: Y.Transaction, sizeKey: string): boolean {
    const all = this.allDrawn;
    const strokesArray: unknown = this.strokesArray;
    if (!all || all.sizeKey !== sizeKey || tr.changed.has(strokesArray as any)) return false;
    const budget = this.paintBudget;
    const grown: { entry: Y.Map<unknown>; prev: Stroke; stroke: Stroke; counter: PaintCostCounter; cost: number }[] = [];
    let updateCost = 0;
    let sessionCost = this.paintCost;
    for (const type of tr.changedParentTypes.keys()) {
      if (type === strokesArray || type._item?.parent !== strokesArray) continue; // not a stroke entry
      const prev = this.strokeCache.get(type) ?? null;
      const g = prev && all.at.has(prev) ? this.grownStroke(tr, type, prev, sizeKey) : null;
      if (!g || !(type instanceof Y.Map)) return false;
      for (const k of type.keys()) if (!(k in Stroke.shape)) return false; // reported by the whole pass
      const cost = g.counter.cost;
      const known = this.costs.get(prev!);
      if (known?.key !== sizeKey) return false;
      const before = known.cost;
      updateCost += Math.max(0, cost - before);
      sessionCost += cost - before;
      if (cost > budget.maxStrokeCost || updateCost > budget.maxUpdateCost) return false;
      grown.push({ entry: type, prev: prev!, stroke: g.stroke, counter: g.counter, cost });
    }
    if (!grown.length || sessionCost > budget.maxSessionCost) return false;
    const strokes = this.strokes.slice();
    for (const { entry, prev, stroke, counter, cost } of grown) {
      const k = all.at.get(prev)!;
      all.at.delete(prev);
      all.at.set(stroke, k);
      strokes[k] = stroke;
      this.costs.set(stroke, { key: sizeKey, cost });
      this.strokeCache.set(entry, stroke);
      this.growth.set(entry, { points: entry.get('points') as Y.Array<unknown>, stroke, sizeKey, counter });
    }
    this.strokes = strokes;
    this.paintCost = sessionCost;
    return true;
  }

  private validateStrokes(isTouched: (e: unknown) => boolean, errors: ErrorPayload[], tr?: Y.Transaction): void {
    const out: Stroke[] = [];
    const budget = this.paintBudget;
    const size = workingSize(this.content, this.params.resolution);
    const sizeKey = `${size.width}x${size.height}@${size.scale}`;
    if (tr && this.strokesGrown(tr, sizeKey)) return;
    let sessionCost = 0;
    let updateCost = 0;
    let allDrawn = this.appendedPointsOnly;
    let validCount = 0;
    const tell = (entry: object | null, e: ErrorPayload) => this.tellOnce(entry, e, errors);
    this.strokesArray.toArray().forEach((entry, i) => {
      const key = typeof entry === 'object' && entry !== null ? entry : null;
      if (!key) allDrawn = false;
      const touched = isTouched(entry);
      const prev = key ? this.strokeCache.get(key) ?? null : null;
      let valid = prev;
      if (touched || !key) {
        this.noteUnknownFields(entry, Stroke.shape);
        let parsed: Stroke | null = null;
        let counter: PaintCostCounter | null = null;
        const grown = tr && prev ? this.grownStroke(tr, entry, prev, sizeKey) : null;
        if (grown) {
          ({ stroke: parsed, counter } = grown);
          this.costs.set(parsed, { key: sizeKey, cost: counter.cost });
        } else {
          // `points` read through shared/strokes.ts: the append-only Y.Array or an older plain array.
          const json = strokeJson(entry);
          const r = Stroke.safeParse(json);
          if (r.success) parsed = r.data;
          else {
            const m = issueMessage(r.error, json);
            errors.push(invalid(`strokes[${i}]${m.path}`, m.message));
          }
        }
        let accepted = false;
        if (parsed) {
          const cost = this.strokeCost(parsed, size, sizeKey);
          const added = Math.max(0, cost - (prev ? this.strokeCost(prev, size, sizeKey) : 0));
          if (cost > budget.maxStrokeCost) {
            tell(key, overBudget(`strokes[${i}].points`, `this stroke would cost over ${budget.maxStrokeCost} pixels to paint (at least ${cost}), over the per-stroke budget of ${budget.maxStrokeCost} (PAINT_MAX_STROKE_COST); draw shorter strokes or use a smaller brush${prev ? '; it is drawn as it was before' : '; it is not drawn'}`));
          } else if (updateCost + added > budget.maxUpdateCost) {
            tell(key, overBudget(`strokes[${i}]`, `this update's strokes would cost more than ${budget.maxUpdateCost} pixels to paint (PAINT_MAX_UPDATE_COST); send them in several updates`));
          } else {
            updateCost += added;
            valid = parsed;
            accepted = true;
          }
        }
        if (key) {
          this.strokeCache.set(key, valid);
          const points = entry instanceof Y.Map ? entry.get('points') : undefined;
          if (accepted && this.appendedPointsOnly && points instanceof Y.Array) {
            counter ??= new PaintCostCounter(parsed!, size.width, size.height, size.scale, budget.maxStrokeCost).add(parsed!.points);
            this.growth.set(key, { points, stroke: parsed!, sizeKey, counter });
          } else this.growth.delete(key);
        }
      }
      if (!valid) return;
      validCount++;
      if (out.length >= MAX_STROKES) {
        if (touched) errors.push(invalid(`strokes[${i}]`, `at most ${MAX_STROKES} strokes are drawn; this one is ignored`));
        return;
      }
      const cost = this.strokeCost(valid, size, sizeKey);
      if (sessionCost + cost > budget.maxSessionCost) {
        if (touched) tell(key, overBudget(`strokes[${i}]`, `the session's strokes would cost more than ${budget.maxSessionCost} pixels to repaint (PAINT_MAX_SESSION_COST); this one is not drawn (erase or fork to a fresh session)`));
        return;
      }
      sessionCost += cost;
      out.push(valid);
    });
    this.strokes = out;
    this.paintCost = sessionCost;
    this.allDrawn = allDrawn && out.length === validCount ? { sizeKey, at: new Map(out.map((s, k) => [s, k])) } : null;
  }
  /**
   * S34: region strokes, validated like strokes (schema, paint budgets of S24 counted on their own
   * against the same limits) plus: a brush's `style` must be a stored image, and at most
   * MAX_REGION_STYLES styles are painted at once (strokes of further styles are left out).
   */
  private validateRegions(isTouched: (e: unknown) => boolean, errors: ErrorPayload[]): void {
    const out: RegionStroke[] = [];
    const budget = this.paintBudget;
    const size = workingSize(this.content, this.params.resolution);
    const sizeKey = `${size.width}x${size.height}@${size.scale}`;
    const cost = (r: RegionStroke) => this.strokeCost({ ...r, opacity: 1 } as RegionStroke & { opacity: number }, size, sizeKey, r);
    const styles = new Set<string>();
    let sessionCost = 0;
    let updateCost = 0;
    const tell = (entry: object | null, e: ErrorPayload) => this.tellOnce(entry, e, errors);
    this.regionsArray.toArray().forEach((entry, i) => {
      const key = typeof entry === 'object' && entry !== null ? entry : null;
      const touched = isTouched(entry);
      const prev = key ? this.regionCache.get(key) ?? null : null;
      let valid = prev;
      if (touched || !key) {
        this.noteUnknownFields(entry, RegionStroke.shape);
        const json = regionStrokeJson(entry);
        const r = RegionStroke.safeParse(json);
        if (!r.success) {
          const m = issueMessage(r.error, json);
          errors.push(invalid(`regions[${i}]${m.path}`, m.message));
        } else if (r.data.style !== undefined && !this.imageExists(r.data.style)) {
          errors.push(invalid(`regions[${i}].style`, `no image ${r.data.style} is stored; upload it first`));
        } else {
          const c = cost(r.data);
          const added = Math.max(0, c - (prev ? cost(prev) : 0));
          if (c > budget.maxStrokeCost) {
            tell(key, overBudget(`regions[${i}].points`, `this region stroke would cost over ${budget.maxStrokeCost} pixels to paint (at least ${c}), over the per-stroke budget (PAINT_MAX_STROKE_COST); draw shorter strokes or use a smaller brush${prev ? '; it is used as it was before' : '; it is not used'}`));
          } else if (updateCost + added > budget.maxUpdateCost) {
            tell(key, overBudget(`regions[${i}]`, `this update's region strokes would cost more than ${budget.maxUpdateCost} pixels to paint (PAINT_MAX_UPDATE_COST); send them in several updates`));
          } else {
            updateCost += added;
            valid = prev && JSON.stringify(prev) === JSON.stringify(r.data) ? prev : r.data;
          }
        }
        if (key) this.regionCache.set(key, valid);
      }
      if (!valid) return;
      if (out.length >= MAX_REGION_STROKES) {
        if (touched) errors.push(invalid(`regions[${i}]`, `at most ${MAX_REGION_STROKES} region strokes are used; this one is ignored`));
        return;
      }
      if (valid.style !== undefined && !styles.has(valid.style)) {
        if (styles.size >= MAX_REGION_STYLES) {
          if (touched) errors.push(invalid(`regions[${i}].style`, `at most ${MAX_REGION_STYLES} styles can be painted at once; this stroke is ignored`));
          return;
        }
        styles.add(valid.style);
      }
      const c = cost(valid);
      if (sessionCost + c > budget.maxSessionCost) {
        if (touched) tell(key, overBudget(`regions[${i}]`, `the session's region strokes would cost more than ${budget.maxSessionCost} pixels to repaint (PAINT_MAX_SESSION_COST); this one is not used (erase or fork to a fresh session)`));
        return;
      }
      sessionCost += c;
      out.push(valid);
    });
    this.regions = out;
    this.regionPaintCost = sessionCost;
  }
}

function sizeKeyOf(content: ContentEntry, params: Params): string {
  const s = workingSize(content, params.resolution);
  return `${s.width}x${s.height}@${s.scale}`;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Writes a new session's initial document in one transaction (origin `server`): all params,
 * the given styles (as Y.Maps) and content, no strokes.
 */
export function seedDocument(doc: Y.Doc, init: { params: Params; styles: StyleEntry[]; content: ContentEntry }): void {
  doc.transact(() => {
    const params = doc.getMap(DOC_KEYS.params);
    for (const [k, v] of Object.entries(init.params)) params.set(k, v);
    const styles = doc.getArray<Y.Map<unknown>>(DOC_KEYS.styles);
    styles.push(
      init.styles.map((s) => {
        const m = new Y.Map<unknown>();
        for (const [k, v] of Object.entries(s)) m.set(k, v);
        return m;
      }),
    );
    const content = doc.getMap(DOC_KEYS.content);
    for (const [k, v] of Object.entries(init.content)) if (v !== undefined) content.set(k, v);
    doc.getArray(DOC_KEYS.strokes);
    doc.getArray(DOC_KEYS.regions);
  }, 'server');
}
