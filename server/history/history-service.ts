/**
 * History of stored sessions, read-only: the described timeline of updates, keyframes, the loss
 * series and the validated document at any time t. Works on whatever the storage holds, so it
 * answers for live sessions, idle ones and sessions from before a restart alike, without loading
 * them into the session manager (no engine, no MAX_SESSIONS slot).
 */
import { Params, RegionStroke, Stroke, StyleEntry, ContentEntry, type SessionState } from '../../shared/schema.ts';
import { api, type HistoryKeyframe, type HistoryResponse, type HistoryStateResponse, type LossSample } from '../../shared/protocol.ts';
import type { HistoryStore, KeyframeMeta, KeyframeRecord, Storage } from '../storage/types.ts';
import { SessionTimeline } from './timeline.ts';
import type { PaintBudget } from '../session/doc-state.ts';

/** Timelines kept in memory (each holds its session's updates and a Y.Doc). */
const TIMELINES_CACHED = 4;

export class HistoryUnavailableError extends Error {
  override name = 'HistoryUnavailableError';
}

/** Validates a replayed state with the schemas of shared/schema.ts (a last line of defence). */
export function validatedState(state: SessionState): SessionState {
  return {
    params: Params.parse(state.params),
    styles: StyleEntry.array().parse(state.styles),
    content: ContentEntry.parse(state.content),
    strokes: Stroke.array().parse(state.strokes),
    regions: RegionStroke.array().parse(state.regions),
  };
}

export function keyframeJson(sessionId: string, k: KeyframeMeta): HistoryKeyframe {
  return { id: k.id, time: k.time, iter: k.iter, width: k.width, height: k.height, losses: k.losses, url: api.keyframe(sessionId, k.id) };
}

/** The newest keyframe with time ≤ t (keyframes are listed oldest first), or undefined. */
export function keyframeAtOrBefore<K extends { time: number }>(keyframes: readonly K[], t: number): K | undefined {
  let found: K | undefined;
  for (const k of keyframes) if (k.time <= t && (!found || k.time >= found.time)) found = k;
  return found;
}

export class HistoryService {
  private timelines = new Map<string, SessionTimeline>();
  readonly store: Storage & HistoryStore;

  constructor(
    storage: Storage,
    private imageExists: (id: string) => boolean,
    private paintBudget?: PaintBudget,
  ) {
    const store = storage as Partial<HistoryStore>;
    if (typeof store.loadUpdatesAfter !== 'function' || typeof store.listArchivedKeyframes !== 'function') {
      throw new HistoryUnavailableError('this storage keeps no history (it lacks the HistoryStore queries)');
    }
    this.store = storage as Storage & HistoryStore;
  }

  /** The session's timeline, brought up to date with the updates stored since the last call. */
  timeline(sessionId: string): SessionTimeline {
    let tl = this.timelines.get(sessionId);
    if (tl) this.timelines.delete(sessionId);
    else tl = new SessionTimeline(sessionId, this.imageExists, this.paintBudget);
    this.timelines.set(sessionId, tl);
    while (this.timelines.size > TIMELINES_CACHED) {
      const [oldId, old] = this.timelines.entries().next().value as [string, SessionTimeline];
      this.timelines.delete(oldId);
      old.destroy();
    }
    tl.append(this.store.loadUpdatesAfter(sessionId, tl.lastSeq));
    return tl;
  }

  keyframes(sessionId: string): KeyframeMeta[] {
    return this.store.listArchivedKeyframes(sessionId);
  }

  keyframe(sessionId: string, id: number): (KeyframeRecord & { id: number }) | undefined {
    return this.store.getArchivedKeyframe(sessionId, id);
  }

  /** Loss samples and keyframe losses merged, by time. */
  lossSeries(sessionId: string, keyframes: readonly KeyframeMeta[] = this.keyframes(sessionId)): LossSample[] {
    const out: LossSample[] = [
      ...this.store.lossSamples(sessionId).map((s) => ({ time: s.time, iter: s.iter, ...s.losses })),
      ...keyframes.map((k) => ({ time: k.time, iter: k.iter, ...k.losses })),
    ];
    out.sort((a, b) => a.time - b.time || a.iter - b.iter);
    return out.filter((s, i) => i === 0 || s.time !== out[i - 1].time || s.iter !== out[i - 1].iter);
  }

  /** `GET /api/sessions/:id/history`. */
  history(sessionId: string, createdAt: number): HistoryResponse {
    const tl = this.timeline(sessionId);
    const keyframes = this.keyframes(sessionId);
    const losses = this.lossSeries(sessionId, keyframes);
    const times = [tl.edits[0]?.time, tl.edits.at(-1)?.time, keyframes[0]?.time, keyframes.at(-1)?.time, losses[0]?.time, losses.at(-1)?.time].filter(
      (x): x is number => typeof x === 'number' && Number.isFinite(x),
    );
    return {
      session: sessionId,
      createdAt,
      start: times.length ? Math.min(...times) : createdAt,
      end: times.length ? Math.max(...times) : createdAt,
      edits: tl.edits,
      keyframes: keyframes.map((k) => keyframeJson(sessionId, k)),
      losses,
    };
  }

  /**
   * `GET /api/sessions/:id/history/state?t=`: the response body, plus the validated state and the
   * keyframe metadata for server-side callers (fork, re-render).
   */
  stateAt(sessionId: string, t: number): { body: HistoryStateResponse; state: SessionState; keyframe: KeyframeMeta | undefined } {
    const tl = this.timeline(sessionId);
    const at = tl.stateAt(t);
    const kf = keyframeAtOrBefore(this.keyframes(sessionId), t);
    const state = validatedState(at.state);
    return {
      body: { t, seq: at.seq, updates: at.count, state, keyframe: kf ? keyframeJson(sessionId, kf) : null },
      state,
      keyframe: kf,
    };
  }

  /** Drops cached timelines. */
  close(): void {
    for (const tl of this.timelines.values()) tl.destroy();
    this.timelines.clear();
  }
}
