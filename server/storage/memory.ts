/**
 * In-memory {@link Storage} double: the behaviour of the contract (contract.ts), nothing survives
 * `close()`. Answers asynchronously like the real ones (after a microtask), so callers cannot come
 * to depend on synchronous answers.
 */
import {
  DuplicateSessionError,
  StaleFencingTokenError,
  type ImageInfo,
  type ImageRecord,
  type KeyframeMeta,
  type KeyframeRecord,
  type LossSampleRecord,
  type SessionRecord,
  type Storage,
  type StoredKeyframe,
  type StoredUpdate,
  type UpdateRecord,
} from './types.ts';

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  private sessions = new Map<string, SessionRecord>();
  private updates = new Map<string, StoredUpdate[]>();
  private batches = new Set<string>();
  private images = new Map<string, ImageRecord>();
  private keyframes = new Map<string, StoredKeyframe[]>();
  /** Highest keyframe fencing token accepted per session. */
  private fences = new Map<string, number>();
  private seq = 0;
  private keyframeSeq = 0;
  private losses = new Map<string, LossSampleRecord[]>();
  private closed = false;

  private async run<T>(fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.closed) throw new Error('storage is closed');
    return fn();
  }

  /** Synchronous reads for tests that inspect what was stored. */
  updatesOf(sessionId: string): readonly StoredUpdate[] {
    return this.updates.get(sessionId) ?? [];
  }

  createSession(rec: SessionRecord): Promise<void> {
    return this.run(() => {
      if (this.sessions.has(rec.id)) throw new DuplicateSessionError(`session ${rec.id} exists`);
      this.sessions.set(rec.id, { ...rec });
    });
  }
  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.run(() => this.sessions.get(id));
  }
  countSessions(): Promise<number> {
    return this.run(() => this.sessions.size);
  }
  appendUpdates(records: readonly UpdateRecord[], batchId?: string): Promise<void> {
    return this.run(() => {
      if (batchId !== undefined) {
        if (this.batches.has(batchId)) return;
        this.batches.add(batchId);
      }
      for (const r of records) {
        const list = this.updates.get(r.sessionId) ?? [];
        list.push({ ...r, update: new Uint8Array(r.update), seq: ++this.seq });
        this.updates.set(r.sessionId, list);
      }
    });
  }
  loadUpdates(sessionId: string, afterSeq = 0): Promise<StoredUpdate[]> {
    return this.run(() => (this.updates.get(sessionId) ?? []).filter((u) => u.seq > afterSeq));
  }
  putImage(rec: ImageRecord): Promise<void> {
    return this.run(() => {
      if (!this.images.has(rec.id)) this.images.set(rec.id, rec);
    });
  }
  getImage(id: string): Promise<ImageRecord | undefined> {
    return this.run(() => this.images.get(id));
  }
  imageInfo(ids: readonly string[]): Promise<ImageInfo[]> {
    return this.run(() =>
      ids.flatMap((id) => {
        const r = this.images.get(id);
        return r ? [{ id: r.id, mime: r.mime, width: r.width, height: r.height }] : [];
      }),
    );
  }
  putKeyframe(rec: KeyframeRecord): Promise<number> {
    return this.run(() => {
      if (rec.fencingToken !== undefined) {
        const current = this.fences.get(rec.sessionId) ?? 0;
        if (rec.fencingToken < current) throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken, current);
        this.fences.set(rec.sessionId, rec.fencingToken);
      }
      const { fencingToken: _t, ...kf } = rec;
      const stored = { ...kf, losses: { ...rec.losses }, id: ++this.keyframeSeq };
      const list = this.keyframes.get(rec.sessionId) ?? [];
      list.push(stored);
      list.sort((a, b) => a.time - b.time || a.id - b.id);
      this.keyframes.set(rec.sessionId, list);
      return stored.id;
    });
  }
  latestKeyframe(sessionId: string): Promise<StoredKeyframe | undefined> {
    return this.run(() => this.keyframes.get(sessionId)?.at(-1));
  }
  listKeyframes(sessionId: string): Promise<KeyframeMeta[]> {
    return this.run(() => (this.keyframes.get(sessionId) ?? []).map(({ data: _data, ...meta }) => ({ ...meta, losses: { ...meta.losses } })));
  }
  getKeyframe(sessionId: string, id: number): Promise<StoredKeyframe | undefined> {
    return this.run(() => this.keyframes.get(sessionId)?.find((k) => k.id === id));
  }
  appendLossSample(rec: LossSampleRecord): Promise<void> {
    return this.run(() => {
      const list = this.losses.get(rec.sessionId) ?? [];
      list.push({ ...rec, losses: { ...rec.losses } });
      this.losses.set(rec.sessionId, list);
    });
  }
  lossSamples(sessionId: string): Promise<LossSampleRecord[]> {
    // A stable sort keeps same-ms samples in the order they were written.
    return this.run(() => [...(this.losses.get(sessionId) ?? [])].sort((a, b) => a.time - b.time));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}
