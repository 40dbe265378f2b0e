/**
 * The activity feed: short sentences ("Ana set style weight to 3e4") derived from observed
 * document changes plus awareness names. Yjs does not record who made a change, but a remote
 * transaction advances the clock of the client that wrote it, and awareness maps client ids to
 * names. Deletions create no new items, so a pure deletion (an undone stroke, a removed style)
 * names nobody: for those the remover publishes a {@link RemovalClaim} in its awareness state
 * ("I removed stroke:abc") and the others match it against what they saw disappear (C43).
 * Pure Yjs, no DOM, unit tested.
 */
import * as Y from 'yjs';
import { MAX_CLAIM_IDS, RemovalClaim, type ParamKey } from '../../../shared/schema.ts';
import { formatNumber } from '../util/log-scale.ts';

/** What changed, independent of wording. */
export type Change =
  | { kind: 'param'; key: ParamKey; value: unknown }
  | { kind: 'style-added'; count: number }
  | { kind: 'style-removed'; count: number }
  | { kind: 'style-changed'; index: number; key: 'weight' | 'scale'; value: number }
  | { kind: 'content-photo' }
  | { kind: 'content-photo-cleared' }
  | { kind: 'content-background'; value: string }
  | { kind: 'stroke-added'; tool: 'brush' | 'eraser' }
  | { kind: 'strokes-removed'; count: number; cleared: boolean }
  | { kind: 'region-added'; tool: 'brush' | 'eraser' }
  | { kind: 'regions-removed'; count: number; cleared: boolean };

/** Human names of parameters, shared with the params panel labels. */
export const PARAM_LABELS: Record<ParamKey, string> = {
  contentWeight: 'content weight',
  styleWeight: 'style weight',
  tvWeight: 'TV weight',
  optimizer: 'optimizer',
  learningRate: 'learning rate',
  resolution: 'resolution',
  pooling: 'pooling',
  colors: 'color mode',
  init: 'init',
  seed: 'seed',
  restart: 'restart',
  running: 'running',
  model: 'model',
  preset: 'preset',
};

/** Lists the changes in one transaction's observed events (from `observeDeep` on each root). */
export function changesFromEvents(events: Y.YEvent<Y.AbstractType<unknown>>[], roots: {
  params: Y.Map<unknown>;
  styles: Y.Array<Y.Map<unknown>>;
  content: Y.Map<unknown>;
  strokes: Y.Array<Y.Map<unknown>>;
  regions?: Y.Array<Y.Map<unknown>>;
}): Change[] {
  const out: Change[] = [];
  for (const ev of events) {
    const t = ev.target;
    if (t === roots.params) {
      for (const [key, ch] of (ev as Y.YMapEvent<unknown>).changes.keys) {
        if (ch.action === 'delete') continue;
        out.push({ kind: 'param', key: key as ParamKey, value: roots.params.get(key) });
      }
    } else if (t === roots.styles || t === roots.strokes || (roots.regions && t === roots.regions)) {
      let added = 0;
      let removed = 0;
      const addedTools: Array<'brush' | 'eraser'> = [];
      for (const d of ev.changes.delta) {
        if (d.insert && Array.isArray(d.insert)) {
          added += d.insert.length;
          for (const m of d.insert) {
            const tool = m instanceof Y.Map ? m.get('tool') : undefined;
            addedTools.push(tool === 'eraser' ? 'eraser' : 'brush');
          }
        }
        if (d.delete) removed += d.delete;
      }
      if (t === roots.styles) {
        if (added) out.push({ kind: 'style-added', count: added });
        if (removed) out.push({ kind: 'style-removed', count: removed });
      } else if (t === roots.regions) {
        for (const tool of addedTools) out.push({ kind: 'region-added', tool });
        if (removed) out.push({ kind: 'regions-removed', count: removed, cleared: removed > 1 && roots.regions.length === 0 });
      } else {
        for (const tool of addedTools) out.push({ kind: 'stroke-added', tool });
        // "Cleared the canvas" when several strokes went and none is left; undoing the only
        // stroke there was is not a clear.
        if (removed) out.push({ kind: 'strokes-removed', count: removed, cleared: removed > 1 && roots.strokes.length === 0 });
      }
    } else if (t === roots.content) {
      const keys = (ev as Y.YMapEvent<unknown>).changes.keys;
      const photo = keys.get('imageId');
      const bg = keys.get('background');
      // A new photo also rewrites size (and, first time, background): report just the photo.
      if (photo) out.push(photo.action === 'delete' ? { kind: 'content-photo-cleared' } : { kind: 'content-photo' });
      else if (bg && bg.action !== 'delete') {
        out.push({ kind: 'content-background', value: String(roots.content.get('background')) });
      }
    } else if (t instanceof Y.Map && t.parent === roots.styles) {
      const index = roots.styles.toArray().indexOf(t as Y.Map<unknown>);
      for (const [key, ch] of (ev as Y.YMapEvent<unknown>).changes.keys) {
        if (ch.action === 'delete' || (key !== 'weight' && key !== 'scale')) continue;
        out.push({ kind: 'style-changed', index, key, value: Number(t.get(key)) });
      }
    }
    // Stroke point updates (a Y.Map inside strokes) are live drawing, not news.
  }
  return out;
}

/**
 * Who wrote a transaction: the client ids whose clocks advanced. Returns [] for deletion-only
 * transactions, whose author Yjs cannot tell.
 */
export function authorsOf(tr: Y.Transaction): number[] {
  const out: number[] = [];
  for (const [client, clock] of tr.afterState) {
    if ((tr.beforeState.get(client) ?? 0) < clock) out.push(client);
  }
  return out;
}

type Roots = {
  styles: Y.Array<Y.Map<unknown>>;
  strokes: Y.Array<Y.Map<unknown>>;
  regions?: Y.Array<Y.Map<unknown>>;
};

/** Ids of what can be removed, as claims name them: `stroke:<id>`, `region:<id>` and `style:<imageId>`. */
export function removableIds(roots: Roots): Set<string> {
  const out = new Set<string>();
  for (const m of roots.strokes) out.add(`stroke:${String(m.get('id'))}`);
  for (const m of roots.regions ?? []) if (m instanceof Y.Map) out.add(`region:${String(m.get('id'))}`);
  for (const m of roots.styles) out.add(`style:${String(m.get('imageId'))}`);
  return out;
}

/**
 * Follows which strokes and styles exist, so a transaction's removals can be named by id (by the
 * time observers run, a deleted Y.Map's content is gone). Call {@link next} after every
 * transaction that touched `strokes` or `styles`, whoever made it.
 */
export class RemovalTracker {
  private ids: Set<string>;
  constructor(private readonly roots: Roots) {
    this.ids = removableIds(roots);
  }
  /** The ids that disappeared since the last call, in document order. */
  next(): string[] {
    const now = removableIds(this.roots);
    const removed = [...this.ids].filter((id) => !now.has(id));
    this.ids = now;
    return removed;
  }
}

/** The claim a client publishes for its removal of `removed` (its `n`-th). */
export function claimFor(n: number, removed: readonly string[]): RemovalClaim {
  return { n, ids: removed.slice(0, MAX_CLAIM_IDS) };
}

/**
 * Whether `claim` names the removal of `removed`: it lists every removed id (a claim is capped at
 * MAX_CLAIM_IDS, so for a bigger removal, e.g. clearing a busy canvas, a full claim whose ids
 * were all removed).
 */
export function claimCovers(claim: RemovalClaim, removed: readonly string[]): boolean {
  if (!removed.length || !claim.ids.length) return false;
  if (removed.length <= MAX_CLAIM_IDS) {
    const listed = new Set(claim.ids);
    return removed.every((id) => listed.has(id));
  }
  const gone = new Set(removed);
  return claim.ids.length === MAX_CLAIM_IDS && claim.ids.every((id) => gone.has(id));
}

/**
 * The removal claims in awareness, with when each was first seen, so that of two claims naming
 * the same ids (a stroke undone by Ana, redone, then cleared by Bo) the newer one wins.
 */
export class RemovalClaims {
  private seen = new Map<number, { claim: RemovalClaim; at: number }>();

  /** Records the claims in awareness `states` (call on every awareness change). */
  update(states: Map<number, unknown>, now: number): void {
    for (const id of this.seen.keys()) if (!states.has(id)) this.seen.delete(id);
    for (const [client, state] of states) {
      const r = RemovalClaim.safeParse((state as { removed?: unknown } | null)?.removed);
      if (!r.success) {
        this.seen.delete(client);
        continue;
      }
      if (this.seen.get(client)?.claim.n !== r.data.n) this.seen.set(client, { claim: r.data, at: now });
    }
  }

  /** The client that claims `removed` (the newest claim if several do), never `exclude` (me). */
  claimant(removed: readonly string[], exclude: number): number | null {
    let best: { client: number; at: number } | null = null;
    for (const [client, { claim, at }] of this.seen) {
      if (client === exclude || !claimCovers(claim, removed)) continue;
      if (!best || at > best.at) best = { client, at };
    }
    return best?.client ?? null;
  }
}

/** One sentence for one change by `actor` ("You", a name, or "Someone"). */
export function describeChange(actor: string, c: Change): string {
  switch (c.kind) {
    case 'param':
      if (c.key === 'running') return `${actor} ${c.value ? 'started' : 'paused'} the optimization`;
      if (c.key === 'restart') return `${actor} reset the image`;
      return `${actor} set ${PARAM_LABELS[c.key] ?? c.key} to ${typeof c.value === 'number' ? formatNumber(c.value) : String(c.value)}`;
    case 'style-added':
      return c.count === 1 ? `${actor} added a style` : `${actor} added ${c.count} styles`;
    case 'style-removed':
      return c.count === 1 ? `${actor} removed a style` : `${actor} removed ${c.count} styles`;
    case 'style-changed':
      return `${actor} set style ${c.index + 1} ${c.key} to ${formatNumber(c.value)}`;
    case 'content-photo':
      return `${actor} changed the content photo`;
    case 'content-photo-cleared':
      return `${actor} removed the content photo`;
    case 'content-background':
      return `${actor} set the background to ${c.value}`;
    case 'stroke-added':
      return c.tool === 'eraser' ? `${actor} erased` : `${actor} painted a stroke`;
    case 'strokes-removed':
      return c.cleared ? `${actor} cleared the canvas` : c.count === 1 ? `${actor} removed a stroke` : `${actor} removed ${c.count} strokes`;
    case 'region-added':
      return c.tool === 'eraser' ? `${actor} erased a style region` : `${actor} painted a style region`;
    case 'regions-removed':
      return c.cleared ? `${actor} cleared the style regions` : c.count === 1 ? `${actor} removed a style brush stroke` : `${actor} removed ${c.count} style brush strokes`;
  }
}

/** Changes that repeat quickly (a slider drag, a burst of strokes) update one line instead of adding many. */
export function coalesceKey(c: Change): string {
  switch (c.kind) {
    case 'param':
      return `param:${c.key}`;
    case 'style-changed':
      return `style:${c.index}:${c.key}`;
    case 'stroke-added':
      return `stroke:${c.tool}`;
    case 'region-added':
      return `region:${c.tool}`;
    default:
      return c.kind;
  }
}

export interface ActivityItem {
  actor: string;
  text: string;
  key: string;
  /** ms timestamp of the latest change merged into this line. */
  at: number;
  /** How many changes were merged (strokes show "painted 3 strokes"). */
  count: number;
}

/** A bounded, newest-first list of activity lines with coalescing. */
export class ActivityFeed {
  readonly items: ActivityItem[] = [];
  constructor(
    readonly maxItems = 40,
    readonly coalesceMs = 4000,
  ) {}

  /**
   * Names the author of a line added as "Someone" once a removal claim arrives (the claim may
   * come after the removal itself). False when the line is gone or was merged with others.
   */
  rename(item: ActivityItem, actor: string, change: Change): boolean {
    if (!this.items.includes(item) || item.count !== 1) return false;
    item.actor = actor;
    item.text = describeChange(actor, change);
    return true;
  }

  add(actor: string, change: Change, now: number): ActivityItem {
    const key = coalesceKey(change);
    const head = this.items[0];
    if (head && head.actor === actor && head.key === key && now - head.at <= this.coalesceMs) {
      head.count++;
      head.at = now;
      head.text =
        change.kind === 'stroke-added' && change.tool === 'brush'
          ? `${actor} painted ${head.count} strokes`
          : change.kind === 'stroke-added'
            ? `${actor} erased (${head.count}×)`
            : change.kind === 'region-added'
              ? `${describeChange(actor, change)} (${head.count} strokes)`
              : describeChange(actor, change);
      return head;
    }
    const item: ActivityItem = { actor, text: describeChange(actor, change), key, at: now, count: 1 };
    this.items.unshift(item);
    if (this.items.length > this.maxItems) this.items.length = this.maxItems;
    return item;
  }
}
