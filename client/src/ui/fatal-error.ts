/**
 * The lasting error screen for a link that cannot work (C27, C94): a wrong token, an unknown
 * session, a full session. It replaces the page (an empty studio with a toast that vanished
 * left people guessing), says what happened in words and what to do, and offers the way out:
 * the start page, this browser's saved link for the session, or trying again.
 */
import { ErrorCode } from '../../../shared/protocol.ts';
import { loadRecent } from '../start/recent-sessions.ts';
import { h } from './dom.ts';

export interface FatalText {
  title: string;
  detail: string;
  todo: string[];
  retry: boolean;
}

/** The screen's words for a fatal error code, or null when the code is not fatal (it is retried or toasted). */
export function fatalText(code: string, session: string, page: 'editor' | 'projector' | 'replay'): FatalText | null {
  const where = page === 'projector' ? 'this screen' : page === 'replay' ? 'the replay' : 'the studio';
  switch (code) {
    case ErrorCode.Unauthorized:
      return {
        title: 'This link’s access token is not valid',
        detail: `The token in the link does not open session ${session}, so ${where} cannot be shown. A token stops working when the link was copied only in part or typed by hand; tokens are never changed or expired by Atelier.`,
        todo: [
          'Ask the person who shared it to send the whole link again (it ends in ?token= and about 32 letters and digits).',
          'If you opened this session before in this browser, use it from “Recent sessions” on the start page.',
        ],
        retry: false,
      };
    case ErrorCode.UnknownSession:
      return {
        title: `There is no session ${session} here`,
        detail: 'This server does not know that session. A link only works on the server where the session was made, and the id may have been mistyped.',
        todo: ['Check that the link’s address (before /s/) is the server you meant.', 'Ask for the link again, or start a new session.'],
        retry: false,
      };
    case ErrorCode.TooManyClients:
      return {
        title: 'This session is full',
        detail: `Session ${session} already has as many people as this server allows at once.`,
        todo: ['Try again in a minute, when someone has left.'],
        retry: true,
      };
    case ErrorCode.IncompatibleClient:
      return {
        title: 'Atelier was updated: reload this page',
        detail: `This page is an older (or newer) version of the studio than the server now runs, so it cannot open session ${session}. Nothing of the session is lost.`,
        todo: ['Reload the page (your browser keeps the link).', 'If it keeps saying this, clear the site’s cached files and reload.'],
        retry: true,
      };
    case ErrorCode.Forbidden:
      return {
        title: 'This link does not allow that',
        detail: `The server refused ${where} for session ${session}.`,
        todo: ['Ask the person who shared it for an editor link.'],
        retry: false,
      };
    default:
      return null;
  }
}

/**
 * Replaces `root` with the error screen when `err` is fatal; returns whether it did. The page's
 * own teardown (closing its connection) is the caller's.
 */
export function showFatalError(root: HTMLElement, err: { code: string; message: string }, session: string, page: 'editor' | 'projector' | 'replay'): boolean {
  const text = fatalText(err.code, session, page);
  if (!text) return false;
  document.body.classList.remove('projector-body');
  const here = location.pathname + location.search;
  const saved = loadRecent(localStorage).find((r) => r.id === session && r.path !== here);
  const actions = h(
    'div',
    { class: 'fatal-actions' },
    saved ? h('a', { class: 'btn primary', href: saved.path }, `Open your saved ${saved.role === 'editor' ? 'editor' : 'view-only'} link`) : null,
    text.retry ? h('button', { type: 'button', class: 'btn primary', onclick: () => location.reload() }, err.code === ErrorCode.IncompatibleClient ? 'Reload' : 'Try again') : null,
    h('a', { class: 'btn', href: '/' }, 'Go to the start page'),
  );
  root.replaceChildren(
    h(
      'div',
      { class: 'message-page fatal', role: 'alert', dataset: { code: err.code } },
      h('h1', {}, 'Atelier'),
      h('h2', { class: 'fatal-title' }, text.title),
      h('p', {}, text.detail),
      h('ul', { class: 'fatal-todo' }, ...text.todo.map((t) => h('li', {}, t))),
      h('p', { class: 'muted fatal-server' }, `The server said: ${err.message}`),
      actions,
    ),
  );
  return true;
}
