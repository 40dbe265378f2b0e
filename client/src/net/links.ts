/**
 * Which links a page may hand out, and to whom (C87, C93). Pure: no DOM, unit tested.
 *
 * A page knows its own token and role; an editor's status also carries the session's view-only
 * token (server S3), and the browser that created a session remembers its view-only link. An
 * editor link is only ever offered where a person chose it: never on a wall by default.
 */
import { api, type Role } from '../../../shared/protocol.ts';

export interface TokenKnowledge {
  session: string;
  /** The token this page was opened with. */
  ownToken: string;
  /** Its role, once the server said (null before the first status). */
  role: Role | null;
  /** `status.viewerToken` (editors only). */
  statusViewerToken?: string;
  /** The view-only path this browser stored when it created the session (`/s/…/view?token=…`). */
  storedViewerPath?: string | null;
}

/** The session's view-only token, if this page can know it. */
export function viewOnlyToken(k: TokenKnowledge): string | null {
  if (k.role === 'viewer') return k.ownToken;
  if (k.statusViewerToken) return k.statusViewerToken;
  if (k.storedViewerPath) {
    const token = new URL(k.storedViewerPath, 'http://x').searchParams.get('token');
    if (token) return token;
  }
  return null;
}

export type JoinChoice = 'view' | 'edit';

/** The join links a projector can show as QR code: view-only, and the editor link only when it holds one. */
export interface JoinLinks {
  view: string | null;
  edit: string | null;
}

export function joinLinks(k: TokenKnowledge, origin: string): JoinLinks {
  const view = viewOnlyToken(k);
  return {
    view: view ? origin + api.editorPage(k.session, view) : null,
    edit: k.role === 'editor' ? origin + api.editorPage(k.session, k.ownToken) : null,
  };
}

/**
 * What the wall shows before anyone chooses: the view-only link. When there is none (a session
 * from before view-only tokens were derivable, opened with the editor link), nothing — the
 * editor link appears only when someone picks "Join as editor".
 */
export function defaultJoinChoice(l: JoinLinks): JoinChoice | null {
  return l.view ? 'view' : null;
}
