/**
 * The projector (`/s/:id/view?token=…`): the live image only, fullscreen, cross-fading between
 * frames, reconnecting by itself. Nothing is editable and it publishes no presence. Press O (or
 * open with `?overlay=1`) for an overlay with a QR code of the join link and the participants;
 * F toggles browser fullscreen.
 *
 * The join link is the editor route of the same session with the same token (this URL without
 * `/view`), so people who scan it get the studio with exactly the access this screen was given.
 */
import QRCode from 'qrcode';
import type { FramePayload } from '../../../shared/protocol.ts';
import { Connection, type ConnectionState } from '../net/connection.ts';
import { LatestFrameQueue } from '../net/frame-queue.ts';
import { participantsOf } from '../editor/presence.ts';
import { CrossfadeStage } from './crossfade-stage.ts';
import { decodeImage } from '../ui/pixi-app.ts';
import { h, replaceChildren } from '../ui/dom.ts';
import { connectionBadge } from '../ui/connection-badge.ts';

export function joinLinkFor(session: string, token: string, origin: string): string {
  return `${origin}/s/${encodeURIComponent(session)}?token=${encodeURIComponent(token)}`;
}

export async function mountProjector(root: HTMLElement, session: string, token: string, overlayOn: boolean): Promise<void> {
  document.body.classList.add('projector-body');
  const stageHost = h('div', { class: 'projector-stage' });
  const waiting = h('div', { class: 'projector-waiting' }, 'Waiting for the first image…');
  const badge = connectionBadge();
  const people = h('ul', { class: 'people' });
  const joinUrl = joinLinkFor(session, token, location.origin);
  const qr = h('canvas', { class: 'qr', 'aria-label': 'QR code of the join link' });
  const overlay = h(
    'div',
    { class: 'projector-overlay', hidden: !overlayOn },
    h('div', { class: 'overlay-card' }, h('div', { class: 'overlay-title' }, 'Join the studio'), qr, h('div', { class: 'join-url' }, joinUrl), badge.el),
    h('div', { class: 'overlay-card people-card' }, h('div', { class: 'overlay-title' }, 'Painting now'), people),
  );
  root.replaceChildren(h('div', { class: 'projector' }, stageHost, waiting, overlay));
  await QRCode.toCanvas(qr, joinUrl, { margin: 1, width: 220, color: { dark: '#000000', light: '#ffffff' } }).catch(() => {
    qr.replaceWith(h('div', { class: 'muted' }, 'QR code unavailable'));
  });

  const stage = await CrossfadeStage.create(stageHost);
  const conn = new Connection({ session, token, presence: null });
  const onState = (s: ConnectionState) => {
    badge.set(s);
    root.querySelector('.projector')?.setAttribute('data-conn', s);
  };
  conn.stateChanged.on(onState);
  onState(conn.state);
  const showError = (e: { message: string }) => {
    waiting.hidden = false;
    waiting.textContent = e.message;
  };
  conn.errors.on(showError);
  if (conn.lastError) showError(conn.lastError);
  const frames = new LatestFrameQueue<FramePayload, ImageBitmap>(
    (f) => decodeImage(f.data, f.mime),
    (bmp) => {
      stage.show(bmp);
      waiting.hidden = true;
    },
  );
  conn.frames.on(({ frame, ack }) => frames.push(frame, ack));
  const renderPeople = () => {
    const list = participantsOf(conn.awareness);
    replaceChildren(
      people,
      ...list.map((p) => h('li', { class: 'person' }, h('i', { class: 'swatch', style: { background: p.color } }), p.name)),
    );
    if (!list.length) people.appendChild(h('li', { class: 'muted' }, 'Nobody yet — scan to join'));
  };
  conn.awareness.on('change', renderPeople);
  renderPeople();

  window.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === 'o') overlay.hidden = !overlay.hidden;
    else if (k === 'f') {
      if (document.fullscreenElement) void document.exitFullscreen();
      else void document.documentElement.requestFullscreen().catch(() => {});
    }
  });
  stageHost.addEventListener('dblclick', () => void document.documentElement.requestFullscreen?.().catch(() => {}));
  (window as unknown as { atelier?: unknown }).atelier = { conn, stage };
}
