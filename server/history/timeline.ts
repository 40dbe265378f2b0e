/**
 * A session's history as a timeline: every stored update, described ({@link DocReplayer}), and the
 * validated document state at any time t.
 *
 * "The state at t" is the state after applying, in seq order, the longest prefix of updates whose
 * times are all ≤ t (times come from one clock and are non-decreasing in practice; the prefix rule
 * keeps the answer well defined if the clock ever stepped back).
 *
 * Cost: the timeline is built once per session (one pass over the updates) and refreshed
 * incrementally. Every {@link CHECKPOINT_EVERY} updates it keeps a checkpoint — the whole document
 * as one Yjs update plus the validated state — so a state at t costs one checkpoint load and at
 * most CHECKPOINT_EVERY − 1 update applications, not a replay from the start. A checkpoint is only
 * used when re-validating its document reproduces its recorded validated state (it does unless a
 * field held an invalid value at that moment, where "last valid" depends on older history); else
 * an older checkpoint is used.
 */
import type { SessionState } from '../../shared/schema.ts';
import type { HistoryEdit } from '../../shared/protocol.ts';
import type { StoredUpdate } from '../storage/types.ts';
import { DocReplayer } from './doc-replayer.ts';
import type { PaintBudget } from '../session/doc-state.ts';

/** Updates between checkpoints, at least. */
export const CHECKPOINT_EVERY = 64;
/**
 * Checkpoints are budgeted by bytes (S27): a new one is taken only once the updates applied since
 * the last one weigh at least that checkpoint's document (so encoding the document costs at most
 * about as much as applying the updates did), and all of a timeline's checkpoints together hold at
 * most this many bytes.
 */
export const MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024;
/** Rebuilt states kept per timeline (scrubbing asks for the same few again and again). */
const STATE_CACHE_SIZE = 16;

interface Checkpoint {
  /** Number of updates applied. */
  count: number;
  doc: Uint8Array;
  state: SessionState;
  /** Whether re-validating `doc` gives `state` (undefined: not checked yet). */
  exact?: boolean;
}

/** The state at some point of the timeline. */
export interface TimelineState {
  /** Updates applied. */
  count: number;
  /** Seq of the last update applied (0 when none). */
  seq: number;
  state: SessionState;
}

export class SessionTimeline {
  readonly edits: HistoryEdit[] = [];
  private updates: StoredUpdate[] = [];
  /** Running max of update times: prefix semantics for `countAt`. */
  private maxTimes: number[] = [];
  private live: DocReplayer;
  private checkpoints: Checkpoint[] = [];
  private checkpointBytes = 0;
  private bytesSinceCheckpoint = 0;
  private cache = new Map<number, SessionState>();

  constructor(
    readonly sessionId: string,
    private imageExists: (id: string) => boolean,
    private paintBudget?: PaintBudget,
  ) {
    this.live = new DocReplayer(imageExists, { paintBudget });
    this.checkpoints.push({ count: 0, doc: this.live.encode(), state: this.live.state(), exact: true });
  }

  /** Seq of the last update in the timeline (0 when empty). */
  get lastSeq(): number {
    return this.updates.at(-1)?.seq ?? 0;
  }

  get length(): number {
    return this.updates.length;
  }

  /** Appends updates (in seq order, all newer than {@link lastSeq}) and describes them. */
  append(updates: readonly StoredUpdate[]): void {
    for (const u of updates) {
      if (u.seq <= this.lastSeq) throw new Error(`update ${u.seq} is not newer than ${this.lastSeq}`);
      const changes = this.live.apply(u.update);
      this.updates.push(u);
      this.maxTimes.push(Math.max(u.time, this.maxTimes.at(-1) ?? -Infinity));
      this.edits.push({ seq: u.seq, time: u.time, author: u.author, changes });
      this.bytesSinceCheckpoint += u.update.byteLength;
      const last = this.checkpoints.at(-1)!;
      if (
        this.updates.length - last.count >= CHECKPOINT_EVERY &&
        this.bytesSinceCheckpoint >= last.doc.byteLength &&
        this.checkpointBytes + last.doc.byteLength <= MAX_CHECKPOINT_BYTES
      ) {
        const doc = this.live.encode();
        this.checkpoints.push({ count: this.updates.length, doc, state: this.live.state() });
        this.checkpointBytes += doc.byteLength;
        this.bytesSinceCheckpoint = 0;
      }
    }
  }

  /** How many updates make up the state at time t. */
  countAt(t: number): number {
    let lo = 0;
    let hi = this.maxTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.maxTimes[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The validated document state at time t. */
  stateAt(t: number): TimelineState {
    return this.stateAfter(this.countAt(t));
  }

  /** The validated document state after the first `count` updates. */
  stateAfter(count: number): TimelineState {
    if (!Number.isInteger(count) || count < 0 || count > this.updates.length) throw new RangeError(`count ${count} is outside 0..${this.updates.length}`);
    const seq = count ? this.updates[count - 1].seq : 0;
    if (count === this.updates.length) return { count, seq, state: this.live.state() };
    const hit = this.cache.get(count);
    if (hit) return { count, seq, state: hit };
    const state = this.rebuild(count);
    this.cache.set(count, state);
    while (this.cache.size > STATE_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as number);
    return { count, seq, state };
  }

  /** Replays from the newest usable checkpoint at or before `count`. */
  private rebuild(count: number): SessionState {
    for (let i = this.checkpoints.length - 1; i >= 0; i--) {
      const cp = this.checkpoints[i];
      if (cp.count > count) continue;
      if (cp.count === count) return cp.state;
      const replayer = new DocReplayer(this.imageExists, { describe: false, paintBudget: this.paintBudget });
      try {
        if (cp.count > 0) replayer.apply(cp.doc);
        if (cp.exact === undefined) cp.exact = sameState(replayer.state(), cp.state);
        if (!cp.exact) continue;
        for (let k = cp.count; k < count; k++) replayer.apply(this.updates[k].update);
        return replayer.state();
      } finally {
        replayer.destroy();
      }
    }
    throw new Error('unreachable: checkpoint 0 is always exact');
  }

  /** Frees the Yjs document. */
  destroy(): void {
    this.live.destroy();
    this.cache.clear();
  }
}

/** Structural equality of two validated states (key order does not matter). */
export function sameState(a: SessionState, b: SessionState): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted, so equal values give equal strings. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : value,
  );
}
