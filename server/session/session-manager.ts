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
import type { SessionRecord } from '../storage/types.ts';

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
  /** Sessions being read from storage: one load per session however many ask at once. */
  private loading = new Map<string, Promise<Session | undefined>>();
  /** Sessions being created (they count against MAX_SESSIONS before they are live). */
  private creating = 0;

  constructor(
    private deps: Omit<SessionDeps, 'onIdle'>,
    private maxSessions: number,
    private defaults: () => SessionDefaults,
  ) {}

  /**
   * Makes a new session seeded with `defaults()` (sample content and style, DEFAULT_PARAMS with the
   * configured model). `prepare` runs before its engine starts (a fork stores its keyframe there).
   */
  async create(owner?: string, prepare?: (session: Session) => Promise<void>): Promise<CreatedSession> {
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
    this.creating++;
    let session: Session;
    try {
      session = await Session.create(record, this.sessionDeps(), { params: { ...params }, styles, content }, owner);
    } finally {
      this.creating--;
    }
    this.live.set(record.id, session);
    try {
      await prepare?.(session);
    } catch (e) {
      this.unload(session);
      throw e;
    }
    session.wake();
    return { session, editorToken, viewerToken };
  }

  /**
   * MAX_SESSIONS bounds the sessions live in memory (each may hold an engine), not the stored
   * ones: idle sessions are unloaded and cost only disk.
   */
  private checkCapacity(): void {
    if (this.live.size + this.loading.size + this.creating >= this.maxSessions) {
      throw new TooManySessionsError(`this server already runs its maximum of ${this.maxSessions} live sessions; try again later`);
    }
  }

  private sessionDeps(): SessionDeps {
    return { ...this.deps, onIdle: (s) => this.unload(s) };
  }

  /**
   * The live session `id`, loading it from storage if needed; undefined when unknown. Rejects with
   * {@link TooManySessionsError} when it would have to be loaded beyond MAX_SESSIONS.
   */
  async get(id: string): Promise<Session | undefined> {
    if (!SESSION_ID_RE.test(id)) return undefined;
    const live = this.live.get(id);
    if (live) return live;
    const pending = this.loading.get(id);
    if (pending) return pending;
    const record = await this.deps.storage.getSession(id);
    if (!record) return undefined;
    return this.load(record);
  }

  /** Loads a stored session once, however many callers ask while it loads. */
  private load(record: SessionRecord): Promise<Session | undefined> {
    const live = this.live.get(record.id);
    if (live) return Promise.resolve(live);
    let pending = this.loading.get(record.id);
    if (pending) return pending;
    this.checkCapacity();
    pending = Session.load(record, this.sessionDeps())
      .then((session) => {
        this.live.set(record.id, session);
        return session;
      })
      .finally(() => this.loading.delete(record.id));
    this.loading.set(record.id, pending);
    return pending;
  }

  /**
   * The role `token` grants in session `id`, or why none. For an editor also the session's viewer
   * token, when it is derived from this editor token (sessions created before the derivation
   * have an unrelated random one, which is not known here).
   */
  async authorize(
    id: string,
    token: string | undefined,
  ): Promise<{ session: Session; role: Role; viewerToken?: string } | { error: 'unknown-session' | 'bad-token' | 'too-many-sessions' }> {
    if (!SESSION_ID_RE.test(id)) return { error: 'unknown-session' };
    const record = this.live.get(id)?.record ?? (await this.deps.storage.getSession(id));
    if (!record) return { error: 'unknown-session' };
    const t = token ?? '';
    const editor = tokenMatches(t, record.editorTokenHash);
    const viewer = tokenMatches(t, record.viewerTokenHash);
    if (!editor && !viewer) return { error: 'bad-token' };
    let session: Session | undefined;
    try {
      session = await this.load(record);
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
    void s.close();
  }

  /** The live (loaded) session `id`, without loading it. */
  loadedSession(id: string): Session | undefined {
    return this.live.get(id);
  }

  /** Sessions in memory now. */
  loaded(): Session[] {
    return [...this.live.values()];
  }

  /** Closes every live session (keyframes stored, queued updates durable); waits for loads in flight first. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.loading.values()]);
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((s) => s.close()));
  }
}
