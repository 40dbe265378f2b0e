/**
 * The storage interface of the session server. Two implementations: SQLite (sqlite.ts, the real
 * one, durable) and an in-memory double (memory.ts, for tests). Everything here is synchronous
 * because better-sqlite3 is; callers batch writes (see group-commit.ts) to keep the event loop free.
 */

/** A session row. Tokens are never stored: only their sha256, compared in constant time. */
export interface SessionRecord {
  id: string;
  editorTokenHash: Buffer;
  viewerTokenHash: Buffer;
  createdAt: number;
}

/** One Yjs update as applied, with who wrote it and when (history/replay needs both). */
export interface UpdateRecord {
  sessionId: string;
  update: Uint8Array;
  /** Handshake name and socket id (`name#socketId`), or `server`. */
  author: string;
  /** ms since epoch. */
  time: number;
}

export interface StoredUpdate extends UpdateRecord {
  seq: number;
}

export interface ImageRecord {
  id: string;
  mime: 'image/png' | 'image/jpeg' | 'image/webp';
  width: number;
  height: number;
  bytes: Buffer;
  createdAt: number;
}

export interface KeyframeRecord {
  sessionId: string;
  iter: number;
  width: number;
  height: number;
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
  data: Buffer;
  /** JSON-able loss terms at this iteration. */
  losses: { total: number; style: number; content: number; tv: number };
  time: number;
  /**
   * Fencing token of the engine lease the writer holds (several processes, server/cluster). A
   * storage refuses a keyframe whose token is lower than one it already accepted for the session
   * ({@link StaleFencingTokenError}), so a paused or partitioned ex-owner cannot overwrite the new
   * owner's progress. Absent in a single process: never checked.
   */
  fencingToken?: number;
}

/** A keyframe write carried a fencing token lower than one already accepted: the writer lost its lease. */
export class StaleFencingTokenError extends Error {
  override name = 'StaleFencingTokenError';
  constructor(sessionId: string, token: number, current: number) {
    super(`keyframe of session ${sessionId} refused: fencing token ${token} is older than ${current} (another process owns the engine)`);
  }
}

export interface Storage {
  createSession(rec: SessionRecord): void;
  getSession(id: string): SessionRecord | undefined;
  countSessions(): number;
  /** Appends all records in one transaction: all become durable together, or none. */
  appendUpdates(records: readonly UpdateRecord[]): void;
  /** Every update of a session in the order it was applied. */
  loadUpdates(sessionId: string): StoredUpdate[];
  /** Idempotent (images are content-addressed). */
  putImage(rec: ImageRecord): void;
  getImage(id: string): ImageRecord | undefined;
  hasImage(id: string): boolean;
  /** Throws {@link StaleFencingTokenError} when `rec.fencingToken` is below the highest accepted for the session. */
  putKeyframe(rec: KeyframeRecord): void;
  latestKeyframe(sessionId: string): KeyframeRecord | undefined;
  close(): void;
}

/** A stored keyframe without its image bytes (history listings). */
export interface KeyframeMeta {
  /** Archive id: stable, used in keyframe URLs. */
  id: number;
  sessionId: string;
  iter: number;
  width: number;
  height: number;
  mime: KeyframeRecord['mime'];
  losses: KeyframeRecord['losses'];
  time: number;
}

/** One loss sample of a session's optimization (about one a second while it runs). */
export interface LossSampleRecord {
  sessionId: string;
  time: number;
  iter: number;
  losses: KeyframeRecord['losses'];
}

/**
 * Extra queries for history and replay (server/history). Kept apart from {@link Storage} so that
 * other Storage implementations still compile; `historyStoreOf` says whether one has them.
 * `Storage.putKeyframe` keeps only the latest few keyframes (engine resume); the archive here
 * keeps every one, so timelapses and replay can show the whole session.
 */
export interface HistoryStore {
  /** Updates of a session with seq > afterSeq, in order (incremental timeline refresh). */
  loadUpdatesAfter(sessionId: string, afterSeq: number): StoredUpdate[];
  /** Appends a keyframe to the archive; returns its archive id. */
  archiveKeyframe(rec: KeyframeRecord): number;
  /** Every archived keyframe of a session, oldest first, without image bytes. */
  listArchivedKeyframes(sessionId: string): KeyframeMeta[];
  /** One archived keyframe with its bytes, or undefined (wrong id or another session's). */
  getArchivedKeyframe(sessionId: string, id: number): (KeyframeRecord & { id: number }) | undefined;
  appendLossSample(rec: LossSampleRecord): void;
  /** A session's loss samples, oldest first. */
  lossSamples(sessionId: string): LossSampleRecord[];
}

/** The storage's history queries, when it has them (SQLite and memory do). */
export function historyStoreOf(storage: Storage): (Storage & HistoryStore) | undefined {
  const s = storage as Partial<HistoryStore>;
  return typeof s.loadUpdatesAfter === 'function' &&
    typeof s.archiveKeyframe === 'function' &&
    typeof s.listArchivedKeyframes === 'function' &&
    typeof s.getArchivedKeyframe === 'function' &&
    typeof s.appendLossSample === 'function' &&
    typeof s.lossSamples === 'function'
    ? (storage as Storage & HistoryStore)
    : undefined;
}
