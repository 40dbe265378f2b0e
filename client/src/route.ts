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
 * Turns whatever a person pasted to join (a full URL, a path, a URL without scheme or host, or
 * any of these inside a sentence such as "hey join me: <link>") into an in-app path with its
 * query, or null if it is not a session link. Only the path and query are kept, so a link copied
 * from another host still opens on this server. Punctuation right after the link (a closing `>`
 * or `)`, a full stop) is not part of it: tokens are base64url.
 */
export function joinPathFromInput(input: string): string | null {
  // Words of the text, without the brackets and quotes a link is often wrapped in.
  for (const word of input.split(/[\s<>()"'\[\]{}]+/)) {
    const candidate = word.replace(/[.,;:!?]+$/, '');
    if (!/(^|\/)s\//.test(candidate)) continue;
    let url: URL;
    try {
      if (/^https?:\/\//i.test(candidate)) url = new URL(candidate);
      else if (candidate.startsWith('/')) url = new URL(candidate, 'http://x');
      else if (candidate.startsWith('s/')) url = new URL(`/${candidate}`, 'http://x');
      else url = new URL(`http://${candidate}`); // host without scheme: "localhost:3000/s/…"
    } catch {
      continue;
    }
    const route = parseRoute(url.pathname, url.search);
    if (route.page !== 'start' && route.page !== 'not-found') return url.pathname + url.search;
  }
  return null;
}
