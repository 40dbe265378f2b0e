/**
 * The replay page's logic without DOM: author names and colours, sentences for stored edits,
 * grouping of the many small updates live drawing produces, lookups by time and the playback
 * clock. Pure, so it is unit tested.
 */
import type { DocChange, HistoryEdit } from '../../../shared/protocol.ts';
import { PARAM_LABELS } from '../doc/activity.ts';
import { colorForName } from '../util/color.ts';
import { formatNumber } from '../util/log-scale.ts';

/** Stored authors are `name#socketId`, `server` or `fork:<session>@<t>`: the display name. */
export function authorName(author: string): string {
  if (author.startsWith('fork:')) return 'fork';
  const i = author.lastIndexOf('#');
  return i > 0 ? author.slice(0, i) : author;
}

const SYSTEM_COLOR = '#8b8f9a';

/** The colour the editor gives this person in presence (same hash of the name). */
export function authorColor(author: string): string {
  const name = authorName(author);
  return name === 'server' || name === 'fork' ? SYSTEM_COLOR : colorForName(name);
}

function value(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (v === undefined) return '—';
  if (typeof v === 'string') return v.length > 14 && /^[a-f0-9]{64}$/.test(v) ? v.slice(0, 8) + '…' : v;
  return JSON.stringify(v);
}

/** One change in words ("style weight 1 → 7"). */
export function describeChange(c: DocChange): string {
  switch (c.kind) {
    case 'param':
      return `${(PARAM_LABELS as Record<string, string>)[c.key] ?? c.key} ${value(c.from)} → ${value(c.to)}`;
    case 'content':
      return c.key === 'imageId' ? (c.to === undefined ? 'cleared the photo' : 'changed the photo') : `canvas ${c.key} ${value(c.from)} → ${value(c.to)}`;
    case 'style-added':
      return `added style ${c.index + 1}`;
    case 'style-removed':
      return `removed style ${c.index + 1}`;
    case 'style-changed':
      return `style ${c.index + 1} ${c.key} ${value(c.from)} → ${value(c.to)}`;
    case 'stroke-added':
      return c.tool === 'eraser' ? 'started erasing' : 'started a stroke';
    case 'stroke-removed':
      return `removed ${c.author ? `${c.author}'s` : 'a'} stroke`;
    case 'stroke-updated':
      return `drew (${c.points} points)`;
    case 'region-added':
      return c.tool === 'eraser' ? 'started erasing a style region' : `started painting style ${value(c.style)}`;
    case 'region-removed':
      return `removed ${c.author ? `${c.author}'s` : 'a'} style brush stroke`;
    case 'region-updated':
      return `painted a style region (${c.points} points)`;
    case 'other':
      return c.detail;
  }
}

/** A line of the "who did what" list: consecutive updates of one stroke by one author are one line. */
export interface ActivityItem {
  /** Index in the edits array of the first edit of the group (markers and jumps use it). */
  index: number;
  /** Index of the last edit of the group. */
  lastIndex: number;
  time: number;
  endTime: number;
  author: string;
  text: string;
}

/** The stroke or style-brush stroke an edit only grows (added/updated of a single one), else null. */
function strokeOf(e: HistoryEdit): string | null {
  if (!e.changes.length) return null;
  const ids = new Set<string>();
  for (const c of e.changes) {
    if (c.kind === 'stroke-added' || c.kind === 'stroke-updated') ids.add(`s:${c.id}`);
    else if (c.kind === 'region-added' || c.kind === 'region-updated') ids.add(`r:${c.id}`);
    else return null;
  }
  return ids.size === 1 ? [...ids][0] : null;
}

/** Groups edits into activity lines; edits that changed nothing are left out. */
export function groupActivity(edits: readonly HistoryEdit[]): ActivityItem[] {
  const out: ActivityItem[] = [];
  let openStroke: string | null = null;
  edits.forEach((e, index) => {
    if (!e.changes.length) return;
    const stroke = strokeOf(e);
    const last = out.at(-1);
    if (stroke && last && openStroke === stroke && last.author === e.author) {
      last.lastIndex = index;
      last.endTime = e.time;
      const pts = [...e.changes].reverse().find((c) => c.kind === 'stroke-updated' || c.kind === 'region-updated');
      if (pts && (pts.kind === 'stroke-updated' || pts.kind === 'region-updated')) last.text = last.text.replace(/ \(\d+ points\)$|$/, ` (${pts.points} points)`);
      return;
    }
    openStroke = stroke;
    const first = e.changes[0];
    let text: string;
    if (e.author === 'server' && index === 0) text = 'created the session';
    else if (e.author.startsWith('fork:')) text = `forked from ${e.author.slice(5)}`;
    else if (stroke && first.kind === 'stroke-added') text = first.tool === 'eraser' ? 'erased' : 'drew a stroke';
    else if (stroke && first.kind === 'region-added') text = first.tool === 'eraser' ? 'erased a style region' : 'painted a style region';
    else text = e.changes.slice(0, 3).map(describeChange).join(', ') + (e.changes.length > 3 ? ` and ${e.changes.length - 3} more` : '');
    out.push({ index, lastIndex: index, time: e.time, endTime: e.time, author: e.author, text });
  });
  return out;
}

/** Index of the last item with `time(item) ≤ t` in a list sorted by time, or -1. */
export function lastIndexAtOrBefore<T>(items: readonly T[], t: number, time: (x: T) => number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (time(items[mid]) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** `m:ss` (or `h:mm:ss`) of a duration in ms. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export const SPEEDS = [1, 2, 4, 8, 16, 32] as const;

/** Replay time: moves `speed` × real time while playing, stops at the end. */
export class PlaybackClock {
  t: number;
  playing = false;
  speed = 1;

  constructor(
    readonly start: number,
    public end: number,
  ) {
    this.t = start;
  }

  /** Advances by `dtMs` of real time; returns true when the time changed. */
  advance(dtMs: number): boolean {
    if (!this.playing) return false;
    const next = Math.min(this.end, this.t + dtMs * this.speed);
    const changed = next !== this.t;
    this.t = next;
    if (this.t >= this.end) this.playing = false;
    return changed;
  }

  seek(t: number): void {
    this.t = Math.min(this.end, Math.max(this.start, t));
  }

  /** Play from the start again when at the end. */
  toggle(): void {
    if (!this.playing && this.t >= this.end) this.t = this.start;
    this.playing = !this.playing;
  }
}

/**
 * Where a key pressed on the timeline (a `role=slider`, C97) goes: Home/End the start/end,
 * PageUp/PageDown a tenth of the span, arrows the previous/next activity line (its end, as a
 * click on the line does; before the first or after the last one, the start or the end).
 * Null for other keys.
 */
export function timelineKeyTarget(
  key: string,
  t: number,
  items: readonly ActivityItem[],
  start: number,
  end: number,
): { t: number; item?: ActivityItem } | null {
  const clamp = (x: number) => Math.min(end, Math.max(start, x));
  const page = (end - start) / 10;
  switch (key) {
    case 'Home':
      return { t: start };
    case 'End':
      return { t: end };
    case 'PageUp':
      return { t: clamp(t + page) };
    case 'PageDown':
      return { t: clamp(t - page) };
    case 'ArrowRight':
    case 'ArrowUp': {
      const item = items.find((i) => i.endTime > t);
      return item ? { t: clamp(item.endTime), item } : { t: end };
    }
    case 'ArrowLeft':
    case 'ArrowDown': {
      const item = [...items].reverse().find((i) => i.endTime < t);
      return item ? { t: clamp(item.endTime), item } : { t: start };
    }
    default:
      return null;
  }
}
