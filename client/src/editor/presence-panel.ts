/**
 * Participants list and activity feed. The feed is fed by the editor page from observed
 * document changes (doc/activity.ts) and shows the newest line first with a relative time.
 */
import type { ActivityItem } from '../doc/activity.ts';
import type { Participant } from './presence.ts';
import { h, replaceChildren } from '../ui/dom.ts';
import { imageUrl } from '../net/api.ts';

export class PresencePanel {
  readonly el: HTMLElement;
  private readonly people = h('ul', { class: 'people', 'aria-label': 'Participants' });
  private readonly feed = h('ol', { class: 'feed', 'aria-label': 'Activity' });
  private readonly count = h('span', { class: 'muted' });
  private items: readonly ActivityItem[] = [];
  /** Re-renders the feed's relative times ("2 min ago"). */
  private readonly feedTimer: ReturnType<typeof setInterval>;

  constructor() {
    this.el = h('section', { class: 'panel presence-panel', 'aria-label': 'People and activity' }, h('h2', {}, 'People ', this.count), this.people, h('h3', {}, 'Activity'), this.feed);
    this.feedTimer = setInterval(() => this.renderFeed(), 15_000);
  }

  destroy(): void {
    clearInterval(this.feedTimer);
  }

  setParticipants(list: readonly Participant[], extraViewers = 0): void {
    this.count.textContent = String(list.length + extraViewers);
    replaceChildren(
      this.people,
      ...list.map((p) =>
        h(
          'li',
          { class: 'person', 'data-name': p.name },
          h('i', { class: 'swatch', style: { background: p.color } }),
          h('span', {}, p.name),
          p.isMe ? h('span', { class: 'muted you' }, '(you)') : null,
          // C100: who holds a style brush, and which style it paints
          p.tool?.kind === 'style' && p.tool.style
            ? h('img', { class: 'person-style', src: imageUrl(p.tool.style), alt: 'style brush', title: 'painting with this style', style: { borderColor: p.color } })
            : p.tool?.kind === 'style-eraser'
              ? h('span', { class: 'muted person-tool' }, 'unstyling')
              : null,
        ),
      ),
      extraViewers > 0 ? h('li', { class: 'person muted' }, `+ ${extraViewers} watching`) : null,
    );
  }

  setActivity(items: readonly ActivityItem[]): void {
    this.items = items;
    this.renderFeed();
  }

  private renderFeed(): void {
    const now = Date.now();
    replaceChildren(
      this.feed,
      ...this.items.slice(0, 30).map((it) => h('li', {}, h('span', {}, it.text), h('time', { class: 'muted' }, ago(now - it.at)))),
    );
    if (!this.items.length) this.feed.appendChild(h('li', { class: 'muted' }, 'Nothing yet.'));
  }
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 10) return 'now';
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m}m` : `${Math.round(m / 60)}h`;
}
