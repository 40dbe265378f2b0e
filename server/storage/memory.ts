/** In-memory {@link Storage} double: same behaviour as SQLite, nothing survives `close()`. */
import type {
  HistoryStore,
  ImageRecord,
  KeyframeMeta,
  KeyframeRecord,
  LossSampleRecord,
  SessionRecord,
  Storage,
  StoredUpdate,
  UpdateRecord,
} from './types.ts';
import { StaleFencingTokenError } from './types.ts';

export class MemoryStorage implements Storage, HistoryStore {
  private sessions = new Map<string, SessionRecord>();
  private updates = new Map<string, StoredUpdate[]>();
  private images = new Map<string, ImageRecord>();
  private keyframes = new Map<string, KeyframeRecord>();
  /** Highest keyframe fencing token accepted per session. */
  private fences = new Map<string, number>();
  private seq = 0;
  private archive = new Map<string, (KeyframeRecord & { id: number })[]>();
  private archiveSeq = 0;
  private losses = new Map<string, LossSampleRecord[]>();
  private closed = false;

  private check(): void {
    if (this.closed) throw new Error('storage is closed');
  }
  createSession(rec: SessionRecord): void {
    this.check();
    if (this.sessions.has(rec.id)) throw new Error(`session ${rec.id} exists`);
    this.sessions.set(rec.id, { ...rec });
  }
  getSession(id: string): SessionRecord | undefined {
    this.check();
    return this.sessions.get(id);
  }
  countSessions(): number {
    return this.sessions.size;
  }
  appendUpdates(records: readonly UpdateRecord[]): void {
    this.check();
    for (const r of records) {
      const list = this.updates.get(r.sessionId) ?? [];
      list.push({ ...r, update: new Uint8Array(r.update), seq: ++this.seq });
      this.updates.set(r.sessionId, list);
    }
  }
  loadUpdates(sessionId: string): StoredUpdate[] {
    this.check();
    return [...(this.updates.get(sessionId) ?? [])];
  }
  putImage(rec: ImageRecord): void {
    this.check();
    if (!this.images.has(rec.id)) this.images.set(rec.id, rec);
  }
  getImage(id: string): ImageRecord | undefined {
    this.check();
    return this.images.get(id);
  }
  hasImage(id: string): boolean {
    return this.images.has(id);
  }
  putKeyframe(rec: KeyframeRecord): void {
    this.check();
    if (rec.fencingToken !== undefined) {
      const current = this.fences.get(rec.sessionId) ?? 0;
      if (rec.fencingToken < current) throw new StaleFencingTokenError(rec.sessionId, rec.fencingToken, current);
      this.fences.set(rec.sessionId, rec.fencingToken);
    }
    this.keyframes.set(rec.sessionId, rec);
  }
  latestKeyframe(sessionId: string): KeyframeRecord | undefined {
    this.check();
    return this.keyframes.get(sessionId);
  }
  loadUpdatesAfter(sessionId: string, afterSeq: number): StoredUpdate[] {
    this.check();
    return (this.updates.get(sessionId) ?? []).filter((u) => u.seq > afterSeq);
  }
  archiveKeyframe(rec: KeyframeRecord): number {
    this.check();
    const id = ++this.archiveSeq;
    const list = this.archive.get(rec.sessionId) ?? [];
    list.push({ ...rec, losses: { ...rec.losses }, id });
    this.archive.set(rec.sessionId, list);
    return id;
  }
  listArchivedKeyframes(sessionId: string): KeyframeMeta[] {
    this.check();
    return (this.archive.get(sessionId) ?? []).map(({ data: _data, ...meta }) => ({ ...meta, losses: { ...meta.losses } }));
  }
  getArchivedKeyframe(sessionId: string, id: number): (KeyframeRecord & { id: number }) | undefined {
    this.check();
    return this.archive.get(sessionId)?.find((k) => k.id === id);
  }
  appendLossSample(rec: LossSampleRecord): void {
    this.check();
    const list = this.losses.get(rec.sessionId) ?? [];
    list.push({ ...rec, losses: { ...rec.losses } });
    this.losses.set(rec.sessionId, list);
  }
  lossSamples(sessionId: string): LossSampleRecord[] {
    this.check();
    return [...(this.losses.get(sessionId) ?? [])].sort((a, b) => a.time - b.time);
  }
  close(): void {
    this.closed = true;
  }
}
