/**
 * Which page a URL is. The server falls back to index.html for every route, so the client reads
 * the path itself: `/` start page, `/s/:id?token=…` editor, `/s/:id/view?token=…` projector,
 * `/s/:id/replay?token=…` replay (reserved). Pure: no DOM, so it is unit tested.
 */
export type Route =
  | { page: 'start' }
  | { page: 'editor'; session: string; token: string }
  | { page: 'projector'; session: string; token: string; overlay: boolean }
  | { page: 'replay'; session: string; token: string }
  | { page: 'not-found'; reason: string };

const SESSION_PATH = /^\/s\/([A-Za-z0-9_-]{1,64})(?:\/(view|replay))?\/?$/;

/** Parses a path and query string (`location.pathname`, `location.search`) into a {@link Route}. */
export function parseRoute(pathname: string, search: string): Route {
  if (pathname === '/' || pathname === '' || pathname === '/index.html') return { page: 'start' };
  const m = SESSION_PATH.exec(pathname);
  if (!m) return { page: 'not-found', reason: `No page at ${pathname}` };
  const params = new URLSearchParams(search);
  const token = params.get('token') ?? '';
  if (!token) return { page: 'not-found', reason: 'This link has no access token (?token=…).' };
  const session = m[1];
  if (m[2] === 'view') {
    const o = params.get('overlay');
    return { page: 'projector', session, token, overlay: o === '1' || o === 'true' };
  }
  if (m[2] === 'replay') return { page: 'replay', session, token };
  return { page: 'editor', session, token };
}

/**
 * Turns whatever a person pasted to join (a full URL, a path, or a URL with surrounding text)
 * into an in-app path with its query, or null if it is not a session link. Only the path and
 * query are kept, so a link copied from another host still opens on this server.
 */
export function joinPathFromInput(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  const found = /(?:https?:\/\/[^\s/]+)?(\/s\/[^\s?#]+(?:\?[^\s#]*)?)/.exec(text);
  if (!found) return null;
  const url = new URL(found[1], 'http://x');
  const route = parseRoute(url.pathname, url.search);
  if (route.page === 'start' || route.page === 'not-found') return null;
  return url.pathname + url.search;
}
