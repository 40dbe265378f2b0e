/**
 * The storage interface of the session server, asynchronous end to end: no call blocks the event
 * loop (server/SPEC.md S13, S30). Three implementations share one schema (schema.ts) and one
 * contract suite (contract.ts): SQLite (sqlite.ts, the embedded default, in a worker thread),
 * PostgreSQL (postgres.ts, a `pg` pool on the main thread) and an in-memory double (memory.ts).
 *
 * Durability: a resolved write is durable. A write that fails with {@link StorageUnavailableError}
 * may or may not have happened (a timeout, a lost connection): callers retry it, and the writes that
 * get retried are idempotent — `appendUpdates` by its batch id, `putImage` by content address,
 * `createSession` by refusing a duplicate id.
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

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';

export interface ImageRecord {
  id: string;
  mime: ImageMime;
  width: number;
  height: number;
  bytes: Buffer;
  createdAt: number;
}

/** An image's record without its bytes. */
export type ImageInfo = Omit<ImageRecord, 'bytes' | 'createdAt'>;

export interface KeyframeRecord {
  sessionId: string;
  iter: number;
  width: number;
  height: number;
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
  data: Buffer;
  /** JSON-able loss terms at this iteration. */
  losses: { total: number; style: number; content: number; tv: number };
  /** ms since epoch; a session's keyframes are ordered by it (then by id). */
  time: number;
  /**
   * Fencing token of the engine lease the writer holds (several processes, server/cluster). A
   * storage refuses a keyframe whose token is lower than one it already accepted for the session
   * ({@link StaleFencingTokenError}), so a paused or partitioned ex-owner cannot overwrite the new
   * owner's progress. Absent in a single process: never checked.
   */
  fencingToken?: number;
}

/** A stored keyframe without its image bytes (history listings). */
export interface KeyframeMeta {
  /** Stable id, used in keyframe URLs. */
  id: number;
  sessionId: string;
  iter: number;
  width: number;
  height: number;
  mime: KeyframeRecord['mime'];
  losses: KeyframeRecord['losses'];
  time: number;
}

export type StoredKeyframe = KeyframeRecord & { id: number };

/** One loss sample of a session's optimization (about one a second while it runs). */
export interface LossSampleRecord {
  sessionId: string;
  time: number;
  iter: number;
  losses: KeyframeRecord['losses'];
}

/** A keyframe write carried a fencing token lower than one already accepted: the writer lost its lease. */
export class StaleFencingTokenError extends Error {
  override name = 'StaleFencingTokenError';
  constructor(sessionId: string, token: number, current: number) {
    super(`keyframe of session ${sessionId} refused: fencing token ${token} is older than ${current} (another process owns the engine)`);
  }
}

/**
 * The database did not answer (timeout, lost or refused connection, busy): the call may or may
 * not have taken effect. Retrying is safe for the idempotent writes; the group commit retries its
 * batch until it goes through (S30).
 */
export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError';
}

/** A session id that already exists (createSession). */
export class DuplicateSessionError extends Error {
  override name = 'DuplicateSessionError';
}

export interface Storage {
  /** What backs it, for logs and /healthz: `sqlite`, `postgres`, `memory`. */
  readonly kind: string;
  /** Throws {@link DuplicateSessionError} when the id exists. */
  createSession(rec: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  countSessions(): Promise<number>;
  /**
   * Appends all records in one transaction, in order: all become durable together, or none.
   * `batchId` makes it idempotent: a batch whose id was already committed is not written again
   * (a retry after a timeout whose commit did happen). Batch ids are remembered for an hour.
   */
  appendUpdates(records: readonly UpdateRecord[], batchId?: string): Promise<void>;
  /** Updates of a session with seq > afterSeq (default: all), in the order they were applied. */
  loadUpdates(sessionId: string, afterSeq?: number): Promise<StoredUpdate[]>;
  /** Idempotent (images are content-addressed). */
  putImage(rec: ImageRecord): Promise<void>;
  getImage(id: string): Promise<ImageRecord | undefined>;
  /** The stored images among `ids`, without their bytes (one query for many ids). */
  imageInfo(ids: readonly string[]): Promise<ImageInfo[]>;
  /**
   * Stores a keyframe (every one is kept: history and timelapses show them all; the latest is the
   * resume point) and returns its id. Throws {@link StaleFencingTokenError} when
   * `rec.fencingToken` is below the highest accepted for the session; nothing is written then.
   */
  putKeyframe(rec: KeyframeRecord): Promise<number>;
  /** The session's newest keyframe (greatest time, then id), with its bytes. */
  latestKeyframe(sessionId: string): Promise<StoredKeyframe | undefined>;
  /** Every keyframe of a session, oldest first, without image bytes. */
  listKeyframes(sessionId: string): Promise<KeyframeMeta[]>;
  /** One keyframe with its bytes, or undefined (wrong id or another session's). */
  getKeyframe(sessionId: string, id: number): Promise<StoredKeyframe | undefined>;
  appendLossSample(rec: LossSampleRecord): Promise<void>;
  /** A session's loss samples, oldest first (same-ms samples in the order they were written). */
  lossSamples(sessionId: string): Promise<LossSampleRecord[]>;
  /** Waits for calls in flight, then closes. */
  close(): Promise<void>;
}
