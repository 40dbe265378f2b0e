/**
 * Creates, authenticates, loads and unloads sessions. Sessions live in memory only while someone
 * uses them (plus the idle grace period); otherwise they are rebuilt from storage on demand.
 *
 * Tokens: 24 random bytes (192 bits) in base64url. Only their sha256 is stored; a presented token
 * is hashed and compared with `crypto.timingSafeEqual` (equal-length digests), against both roles.
 * The viewer token is derived from the editor token (HMAC), so the server can hand it to any
 * editor without storing it (S3): a co-editor who joined by link can share a view-only link.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from '../../shared/protocol.ts';
import type { ContentEntry, Params, StyleEntry } from '../../shared/schema.ts';
import { Session, type SessionDeps } from './session.ts';

/** Session ids are short random base64url strings; anything else is refused before a lookup. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The viewer token of a session whose editor token is `editorToken`: HMAC-SHA256 keyed with the
 * editor token, first 24 bytes in base64url (same length as a random token). One-way: the viewer
 * token does not reveal the editor token.
 */
export function viewerTokenFor(editorToken: string): string {
  return createHmac('sha256', editorToken).update('atelier viewer token v1').digest().subarray(0, 24).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time check of `token` against a stored sha256 digest. */
export function tokenMatches(token: string, hash: Buffer): boolean {
  const h = hashToken(token);
  return h.length === hash.length && timingSafeEqual(h, hash);
}

export interface CreatedSession {
  session: Session;
  editorToken: string;
  viewerToken: string;
}

export class TooManySessionsError extends Error {
  override name = 'TooManySessionsError';
}

export interface SessionDefaults {
  params: Params;
  styles: StyleEntry[];
  content: ContentEntry;
}

export class SessionManager {
  private live = new Map<string, Session>();

  constructor(
    private deps: Omit<SessionDeps, 'onIdle'>,
    private maxSessions: number,
    private defaults: () => SessionDefaults,
  ) {}

  /** Makes a new session seeded with `defaults()` (sample content and style, DEFAULT_PARAMS with the configured model). */
  create(owner?: string): CreatedSession {
    this.checkCapacity();
    const editorToken = newToken();
    const viewerToken = viewerTokenFor(editorToken);
    const record = {
      id: randomBytes(9).toString('base64url'),
      editorTokenHash: hashToken(editorToken),
      viewerTokenHash: hashToken(viewerToken),
      createdAt: Date.now(),
    };
    const { params, styles, content } = this.defaults();
    const session = Session.create(record, this.sessionDeps(), { params: { ...params }, styles, content }, owner);
    this.live.set(record.id, session);
    session.wake();
    return { session, editorToken, viewerToken };
  }

  /**
   * MAX_SESSIONS bounds the sessions live in memory (each may hold an engine), not the stored
   * ones: idle sessions are unloaded and cost only disk.
   */
  private checkCapacity(): void {
    if (this.live.size >= this.maxSessions) {
      throw new TooManySessionsError(`this server already runs its maximum of ${this.maxSessions} live sessions; try again later`);
    }
  }

  private sessionDeps(): SessionDeps {
    return { ...this.deps, onIdle: (s) => this.unload(s) };
  }

  /**
   * The live session `id`, loading it from storage if needed; undefined when unknown. Throws
   * {@link TooManySessionsError} when it would have to be loaded beyond MAX_SESSIONS.
   */
  get(id: string): Session | undefined {
    if (!SESSION_ID_RE.test(id)) return undefined;
    const live = this.live.get(id);
    if (live) return live;
    const record = this.deps.storage.getSession(id);
    if (!record) return undefined;
    this.checkCapacity();
    const session = Session.load(record, this.sessionDeps());
    this.live.set(id, session);
    return session;
  }

  /**
   * The role `token` grants in session `id`, or why none. For an editor also the session's viewer
   * token, when it is derived from this editor token (sessions created before the derivation
   * have an unrelated random one, which is not known here).
   */
  authorize(
    id: string,
    token: string | undefined,
  ): { session: Session; role: Role; viewerToken?: string } | { error: 'unknown-session' | 'bad-token' | 'too-many-sessions' } {
    if (!SESSION_ID_RE.test(id)) return { error: 'unknown-session' };
    const record = this.live.get(id)?.record ?? this.deps.storage.getSession(id);
    if (!record) return { error: 'unknown-session' };
    const t = token ?? '';
    const editor = tokenMatches(t, record.editorTokenHash);
    const viewer = tokenMatches(t, record.viewerTokenHash);
    if (!editor && !viewer) return { error: 'bad-token' };
    let session: Session | undefined;
    try {
      session = this.get(id);
    } catch (e) {
      if (e instanceof TooManySessionsError) return { error: 'too-many-sessions' };
      throw e;
    }
    if (!session) return { error: 'unknown-session' };
    if (!editor) return { session, role: 'viewer' };
    const derived = viewerTokenFor(t);
    return tokenMatches(derived, record.viewerTokenHash) ? { session, role: 'editor', viewerToken: derived } : { session, role: 'editor' };
  }

  private unload(s: Session): void {
    if (this.live.get(s.id) !== s) return;
    this.live.delete(s.id);
    s.close();
  }

  /** Sessions in memory now. */
  loaded(): Session[] {
    return [...this.live.values()];
  }

  closeAll(): void {
    for (const s of this.live.values()) s.close();
    this.live.clear();
  }
}
