/**
 * History of stored sessions, read-only: the described timeline of updates, keyframes, the loss
 * series and the validated document at any time t. Works on whatever the storage holds, so it
 * answers for live sessions, idle ones and sessions from before a restart alike, without loading
 * them into the session manager (no engine, no MAX_SESSIONS slot).
 */
import { Params, RegionStroke, Stroke, StyleEntry, ContentEntry, type SessionState } from '../../shared/schema.ts';
import { api, type HistoryKeyframe, type HistoryResponse, type HistoryStateResponse, type LossSample } from '../../shared/protocol.ts';
import type { KeyframeMeta, Storage, StoredKeyframe } from '../storage/types.ts';
import type { ImageStore } from '../images/store.ts';
import { imageIdsIn } from '../images/store.ts';
import { SessionTimeline } from './timeline.ts';
import type { PaintBudget } from '../session/doc-state.ts';

/** Timelines kept in memory (each holds its session's updates and a Y.Doc). */
const TIMELINES_CACHED = 4;

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
  /** Refreshes in flight per session: concurrent requests share one read of the new updates. */
  private refreshing = new Map<string, Promise<SessionTimeline>>();

  /**
   * @param images answers "is this image stored" for validation; the ids the updates name are
   *   looked up (prefetched) before they are replayed.
   */
  constructor(
    readonly store: Storage,
    private images: Pick<ImageStore, 'has' | 'prefetch'>,
    private paintBudget?: PaintBudget,
  ) {}

  /** The session's timeline, brought up to date with the updates stored since the last call. */
  timeline(sessionId: string): Promise<SessionTimeline> {
    const pending = this.refreshing.get(sessionId);
    if (pending) return pending;
    const p = this.refresh(sessionId).finally(() => this.refreshing.delete(sessionId));
    this.refreshing.set(sessionId, p);
    return p;
  }

  private async refresh(sessionId: string): Promise<SessionTimeline> {
    let tl = this.timelines.get(sessionId);
    if (tl) this.timelines.delete(sessionId);
    else tl = new SessionTimeline(sessionId, (id) => this.images.has(id), this.paintBudget);
    this.timelines.set(sessionId, tl);
    while (this.timelines.size > TIMELINES_CACHED) {
      const [oldId, old] = this.timelines.entries().next().value as [string, SessionTimeline];
      if (this.refreshing.has(oldId)) break;
      this.timelines.delete(oldId);
      old.destroy();
    }
    const updates = await this.store.loadUpdates(sessionId, tl.lastSeq);
    await this.images.prefetch(updates.flatMap((u) => imageIdsIn(u.update)));
    // Another refresh may have appended meanwhile (never concurrently: one per session at a time).
    tl.append(updates.filter((u) => u.seq > tl.lastSeq));
    return tl;
  }

  keyframes(sessionId: string): Promise<KeyframeMeta[]> {
    return this.store.listKeyframes(sessionId);
  }

  keyframe(sessionId: string, id: number): Promise<StoredKeyframe | undefined> {
    return this.store.getKeyframe(sessionId, id);
  }

  /** Loss samples and keyframe losses merged, by time. */
  async lossSeries(sessionId: string, keyframes?: readonly KeyframeMeta[]): Promise<LossSample[]> {
    const [samples, kfs] = await Promise.all([this.store.lossSamples(sessionId), keyframes ?? this.keyframes(sessionId)]);
    const out: LossSample[] = [...samples.map((s) => ({ time: s.time, iter: s.iter, ...s.losses })), ...kfs.map((k) => ({ time: k.time, iter: k.iter, ...k.losses }))];
    out.sort((a, b) => a.time - b.time || a.iter - b.iter);
    return out.filter((s, i) => i === 0 || s.time !== out[i - 1].time || s.iter !== out[i - 1].iter);
  }

  /** `GET /api/sessions/:id/history`. */
  async history(sessionId: string, createdAt: number): Promise<HistoryResponse> {
    const [tl, keyframes] = await Promise.all([this.timeline(sessionId), this.keyframes(sessionId)]);
    const losses = await this.lossSeries(sessionId, keyframes);
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
  async stateAt(sessionId: string, t: number): Promise<{ body: HistoryStateResponse; state: SessionState; keyframe: KeyframeMeta | undefined }> {
    const [tl, keyframes] = await Promise.all([this.timeline(sessionId), this.keyframes(sessionId)]);
    const at = tl.stateAt(t);
    const kf = keyframeAtOrBefore(keyframes, t);
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
