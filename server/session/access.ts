/**
 * Who may do what with a session: the one authorisation of REST routes (live sessions in
 * app/routes.ts, stored history in app/history-routes.ts) and of the socket handshake
 * (realtime/socket-server.ts), so a refusal has one status, one error code and one wording
 * wherever it happens.
 */
import { ErrorCode, type Role } from '../../shared/protocol.ts';
import type { SessionRecord } from '../storage/types.ts';
import { SESSION_ID_RE, tokenMatches } from './session-manager.ts';

/** Why a token grants nothing in a session (as SessionManager.authorize answers). */
export type AccessError = 'unknown-session' | 'bad-token' | 'too-many-sessions';

/** A refused request: the HTTP status, the error code (REST body and socket `connect_error`) and the message. */
export class AccessDenied extends Error {
  override name = 'AccessDenied';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Every refusal, worded once. */
const REFUSALS = {
  'no-token': () => new AccessDenied(401, ErrorCode.Unauthorized, 'send the session token as Authorization: Bearer <token> or ?token='),
  'unknown-session': (id: string) => new AccessDenied(404, ErrorCode.UnknownSession, `unknown session '${id}'`),
  'bad-token': (id: string) => new AccessDenied(401, ErrorCode.Unauthorized, `the token is not valid for session '${id}'`),
  'too-many-sessions': () => new AccessDenied(503, ErrorCode.TooManySessions, 'the server runs its maximum of live sessions; try again later'),
  'needs-editor': () => new AccessDenied(403, ErrorCode.Forbidden, 'this needs the editor token; the viewer token is read-only'),
} as const;

/** The token of an HTTP request: `Authorization: Bearer <token>`, else the `?token=` query. */
export function requestToken(authorization: string | undefined, queryToken: unknown): string | undefined {
  const m = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  if (m) return m[1];
  return typeof queryToken === 'string' ? queryToken : undefined;
}

/** Resolves a session and the role a token has in it, or says why not. */
export type SessionLookup<T extends { role: Role }> = (id: string, token: string) => Promise<T | { error: AccessError }>;

/**
 * The one authorisation: `token` must be given, `lookup` must find session `id` and grant the
 * token a role, and `need: 'editor'` needs the editor's. Throws {@link AccessDenied}; errors of
 * the lookup itself (storage down) pass through.
 */
export async function authorizeAccess<T extends { role: Role }>(lookup: SessionLookup<T>, id: string, token: string | undefined, need: Role): Promise<T> {
  if (!token) throw REFUSALS['no-token']();
  const found = await lookup(id, token);
  if ('error' in found) throw REFUSALS[found.error](id);
  if (need === 'editor' && found.role !== 'editor') throw REFUSALS['needs-editor']();
  return found;
}

/** A lookup in storage alone (history, replay, exports: nothing is loaded or woken). */
export function storedSessionLookup(getSession: (id: string) => Promise<SessionRecord | undefined>): SessionLookup<{ record: SessionRecord; role: Role }> {
  return async (id, token) => {
    const record = SESSION_ID_RE.test(id) ? await getSession(id) : undefined;
    if (!record) return { error: 'unknown-session' };
    if (tokenMatches(token, record.editorTokenHash)) return { record, role: 'editor' };
    if (tokenMatches(token, record.viewerTokenHash)) return { record, role: 'viewer' };
    return { error: 'bad-token' };
  };
}
