/** The connection state indicator (connected / reconnecting / offline …) shared by all pages. */
import type { ConnectionState } from '../net/connection.ts';
import { h } from './dom.ts';

const LABEL: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline — edits are kept',
  failed: 'Cannot join',
};

export function connectionBadge(): { el: HTMLElement; set(state: ConnectionState): void } {
  const text = h('span', {}, LABEL.connecting);
  const el = h('span', { class: 'conn', 'data-state': 'connecting', role: 'status', 'aria-live': 'polite' }, h('i', { class: 'dot' }), text);
  return {
    el,
    set(state) {
      el.dataset.state = state;
      text.textContent = LABEL[state];
    },
  };
}
