/**
 * Replays stored document updates one transaction each — exactly as `Session.load` does — and says
 * what each one changed, by decoding it against the document state before it. The validated state
 * comes from the session layer's own {@link DocValidator}, so "the state at t" is what the engine
 * saw at t (last valid value of every field, S8), not merely the raw document.
 */
import * as Y from 'yjs';
import { DOC_KEYS, type SessionState } from '../../shared/schema.ts';
import type { DocChange } from '../../shared/protocol.ts';
import { DocValidator, type PaintBudget } from '../session/doc-state.ts';
import { strokePointCount } from '../../shared/strokes.ts';

/** Transaction origin of replayed updates. */
const REPLAY_ORIGIN = Symbol('history-replay');

/** Plain JSON of a document value (Y types are converted). */
function plain(v: unknown): unknown {
  return v instanceof Y.AbstractType ? v.toJSON() : v;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A value small enough to ship in a timeline (point arrays and long strings are summarized). */
function summarize(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 8 ? `[${v.length} values]` : v;
  if (typeof v === 'string' && v.length > 80) return v.slice(0, 77) + '...';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v && typeof v === 'object') {
    const s = JSON.stringify(v);
    return s.length > 120 ? `{${Object.keys(v).length} fields}` : v;
  }
  return v;
}

function field(entry: unknown, key: string): unknown {
  if (entry instanceof Y.Map) return plain(entry.get(key));
  if (entry && typeof entry === 'object' && !(entry instanceof Y.AbstractType)) return (entry as Record<string, unknown>)[key];
  return undefined;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);


/** The entries of `strokes` or `regions` seen so far, and who made each. */
interface EntryTrack {
  entries: Set<unknown>;
  info: Map<unknown, StrokeInfo>;
}

interface StrokeInfo {
  id: string;
  author: string;
}

function strokeInfo(entry: unknown): StrokeInfo {
  return { id: str(field(entry, 'id')) ?? '?', author: str(field(entry, 'author')) ?? '' };
}

function entryJson(entry: unknown): Record<string, unknown> {
  const j = plain(entry);
  return j && typeof j === 'object' && !Array.isArray(j) ? (j as Record<string, unknown>) : { value: j };
}

/**
 * One Y.Doc + validator that stored updates are applied to, in order. Keeps the raw values seen
 * before each update (params, content, style entries, stroke ids) so changes can be described.
 */
export class DocReplayer {
  readonly doc = new Y.Doc();
  readonly validator: DocValidator;
  private params = new Map<string, unknown>();
  private content = new Map<string, unknown>();
  private styles: { entry: unknown; json: Record<string, unknown> }[] = [];
  private strokes: EntryTrack = { entries: new Set(), info: new Map() };
  private regions: EntryTrack = { entries: new Set(), info: new Map() };
  private lastChanges: DocChange[] = [];
  private describeChanges: boolean;

  /**
   * @param imageExists as for the live session: an image id counts as valid only if stored.
   * @param describe false skips describing changes (faster; used to rebuild states).
   */
  constructor(imageExists: (id: string) => boolean, { describe = true, paintBudget }: { describe?: boolean; paintBudget?: PaintBudget } = {}) {
    this.describeChanges = describe;
    // Define the top-level types before any update arrives: otherwise Yjs first creates untyped
    // placeholders, the first transaction reports changes on those, and `getMap` then replaces
    // them with new typed instances, so the first update (the seed) would go unseen.
    for (const name of [DOC_KEYS.params, DOC_KEYS.content]) this.doc.getMap(name);
    for (const name of [DOC_KEYS.styles, DOC_KEYS.strokes, DOC_KEYS.regions]) this.doc.getArray(name);
    this.validator = new DocValidator(this.doc, imageExists, paintBudget);
    this.doc.on('afterTransaction', (tr: Y.Transaction) => {
      this.validator.onTransaction(tr);
      if (this.describeChanges) this.lastChanges = this.describe(tr);
    });
  }

  /** Applies one stored update as its own transaction; returns what it changed. */
  apply(update: Uint8Array): DocChange[] {
    this.lastChanges = [];
    Y.applyUpdate(this.doc, update, REPLAY_ORIGIN);
    const out = this.lastChanges;
    this.lastChanges = [];
    return out;
  }

  /** The validated state now (immutable: the validator replaces, never mutates, its values). */
  state(): SessionState {
    return this.validator.state();
  }

  /** The whole document as one update (a checkpoint to rebuild from). */
  encode(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  destroy(): void {
    this.doc.destroy();
  }

  private describe(tr: Y.Transaction): DocChange[] {
    const changes: DocChange[] = [];
    const touched = (t: Y.AbstractType<any>) => tr.changed.has(t) || tr.changedParentTypes.has(t);
    const v = this.validator;
    if (touched(v.paramsMap)) this.describeMap(v.paramsMap, this.params, tr, 'param', changes);
    if (touched(v.contentMap)) this.describeMap(v.contentMap, this.content, tr, 'content', changes);
    if (touched(v.stylesArray)) this.describeStyles(tr, changes);
    if (touched(v.strokesArray)) this.describeEntries(v.strokesArray, this.strokes, 'stroke', tr, changes);
    if (touched(v.regionsArray)) this.describeEntries(v.regionsArray, this.regions, 'region', tr, changes);
    const known = new Set<string>(Object.values(DOC_KEYS));
    for (const [name, type] of this.doc.share) {
      if (!known.has(name) && touched(type)) changes.push({ kind: 'other', detail: `top-level '${name}' changed` });
    }
    return changes;
  }

  private describeMap(map: Y.Map<unknown>, before: Map<string, unknown>, tr: Y.Transaction, kind: 'param' | 'content', out: DocChange[]): void {
    const keys = [...(tr.changed.get(map as Y.AbstractType<any>) ?? [])].filter((k): k is string => typeof k === 'string');
    for (const key of keys.sort()) {
      const from = before.get(key);
      const to = map.has(key) ? plain(map.get(key)) : undefined;
      if (to === undefined) before.delete(key);
      else before.set(key, to);
      if (!sameJson(from, to)) out.push({ kind, key, from: summarize(from), to: summarize(to) });
    }
  }

  private describeStyles(tr: Y.Transaction, out: DocChange[]): void {
    const now = this.validator.stylesArray.toArray();
    const prev = this.styles;
    const prevEntries = new Set(prev.map((p) => p.entry));
    const nowEntries = new Set(now);
    prev.forEach((p, index) => {
      if (!nowEntries.has(p.entry)) out.push({ kind: 'style-removed', index, imageId: str(p.json.imageId) });
    });
    const next: { entry: unknown; json: Record<string, unknown> }[] = [];
    now.forEach((entry, index) => {
      const json = entryJson(entry);
      next.push({ entry, json });
      if (!prevEntries.has(entry)) {
        out.push({ kind: 'style-added', index, imageId: str(json.imageId) });
        return;
      }
      if (entry instanceof Y.AbstractType && (tr.changed.has(entry) || tr.changedParentTypes.has(entry))) {
        const old = prev.find((p) => p.entry === entry)!.json;
        for (const key of [...new Set([...Object.keys(old), ...Object.keys(json)])].sort()) {
          if (!sameJson(old[key], json[key])) {
            out.push({ kind: 'style-changed', index, imageId: str(json.imageId), key, from: summarize(old[key]), to: summarize(json[key]) });
          }
        }
      }
    });
    this.styles = next;
  }

  /** Strokes or region strokes: added, removed, and grown or edited ones (their points). */
  private describeEntries(arr: Y.Array<unknown>, track: EntryTrack, kind: 'stroke' | 'region', tr: Y.Transaction, out: DocChange[]): void {
    const added = new Set<unknown>();
    if (tr.changed.has(arr as Y.AbstractType<any>)) {
      // Items were inserted or deleted: compare membership (O(entries), only on structural edits).
      const now = arr.toArray();
      const nowSet = new Set(now);
      for (const entry of track.entries) {
        if (nowSet.has(entry)) continue;
        const info = track.info.get(entry) ?? { id: '?', author: '' };
        out.push({ kind: kind === 'stroke' ? 'stroke-removed' : 'region-removed', id: info.id, author: info.author });
        track.info.delete(entry);
      }
      for (const entry of now) {
        if (track.entries.has(entry)) continue;
        added.add(entry);
        const info = strokeInfo(entry);
        track.info.set(entry, info);
        const tool = str(field(entry, 'tool'));
        out.push(
          kind === 'stroke'
            ? { kind: 'stroke-added', id: info.id, author: info.author, tool, color: str(field(entry, 'color')) }
            : { kind: 'region-added', id: info.id, author: info.author, tool, style: str(field(entry, 'style')) },
        );
      }
      track.entries = nowSet;
    }
    // Nested edits (an entry's fields or its growing points): types whose parent is the array.
    const seen = new Set<unknown>();
    for (const t of [...tr.changed.keys(), ...tr.changedParentTypes.keys()]) {
      const entry = t.parent === (arr as unknown) ? t : t.parent?.parent === (arr as unknown) ? t.parent : null;
      if (!entry || seen.has(entry) || added.has(entry) || !track.entries.has(entry)) continue;
      seen.add(entry);
      const info = strokeInfo(entry);
      track.info.set(entry, info);
      out.push({ kind: kind === 'stroke' ? 'stroke-updated' : 'region-updated', id: info.id, author: info.author, points: strokePointCount(entry) });
    }
  }
}
