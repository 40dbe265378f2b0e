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
  putKeyframe(rec: KeyframeRecord): void;
  latestKeyframe(sessionId: string): KeyframeRecord | undefined;
  close(): void;
}
