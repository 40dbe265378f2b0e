/**
 * Recently opened sessions, remembered in localStorage so the start page can offer them again.
 * Storage is injected (a `Storage`-like object), so the list logic is tested in Node.
 */
import { ROUTES } from '../../../shared/protocol.ts';

export interface RecentSession {
  id: string;
  /** The path (with token) that opened it: `/s/:id?token=…` or `/s/:id/view?token=…`. */
  path: string;
  role: 'editor' | 'viewer' | 'unknown';
  /** ms since epoch. */
  lastOpened: number;
  /** Created from this browser's start page (the only place editor links are minted). */
  createdHere?: boolean;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export const RECENT_KEY = 'atelier.recentSessions';
export const MAX_RECENT = 12;

export function loadRecent(store: KeyValueStore): RecentSession[] {
  let raw: unknown;
  try {
    raw = JSON.parse(store.getItem(RECENT_KEY) ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(
      (r): r is RecentSession =>
        !!r && typeof r.id === 'string' && typeof r.path === 'string' && r.path.startsWith(ROUTES.pagePrefix) && typeof r.lastOpened === 'number',
    )
    .sort((a, b) => b.lastOpened - a.lastOpened)
    .slice(0, MAX_RECENT);
}

/**
 * Records an opened session, newest first. The same session opened with an editor link and a
 * viewer link is one entry; the editor link wins, since it can do everything the viewer can.
 */
export function rememberSession(store: KeyValueStore, entry: RecentSession): RecentSession[] {
  const list = loadRecent(store);
  const old = list.find((r) => r.id === entry.id);
  const keepOldPath = old && old.role === 'editor' && entry.role !== 'editor';
  const merged: RecentSession = {
    ...entry,
    path: keepOldPath ? old.path : entry.path,
    role: keepOldPath ? old.role : entry.role,
    createdHere: entry.createdHere || old?.createdHere || undefined,
  };
  const next = [merged, ...list.filter((r) => r.id !== entry.id)].slice(0, MAX_RECENT);
  try {
    store.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    // Storage full or disabled (private mode): the list is a convenience, not data.
  }
  return next;
}

export function forgetSession(store: KeyValueStore, id: string): RecentSession[] {
  const next = loadRecent(store).filter((r) => r.id !== id);
  try {
    store.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    /* see rememberSession */
  }
  return next;
}
