/**
 * The projector (`/s/:id/view?token=…`): the live image only, fullscreen, cross-fading between
 * frames, reconnecting by itself. Nothing is editable and it publishes no presence. Press O (or
 * open with `?overlay=1`) for an overlay with a QR code of the join link and the participants;
 * F toggles browser fullscreen.
 *
 * The join QR offers "View only" and "Join as editor" explicitly, view-only by default (C87): a
 * wall is seen by everyone in the room, so edit rights are handed out only when someone picks
 * them — and only when this screen was opened with the editor link at all (the editor's
 * "Projector ↗" opens it with the view-only link).
 */
import QRCode from 'qrcode';
import type { FramePayload, StatusPayload } from '../../../shared/protocol.ts';
import { Connection, type ConnectionState } from '../net/connection.ts';
import { LatestFrameQueue } from '../net/frame-queue.ts';
import { defaultJoinChoice, joinLinks, type JoinChoice, type JoinLinks } from '../net/links.ts';
import { participantsOf } from '../editor/presence.ts';
import { CrossfadeStage } from './crossfade-stage.ts';
import { decodeImage } from '../ui/pixi-app.ts';
import { h, replaceChildren } from '../ui/dom.ts';
import { connectionBadge } from '../ui/connection-badge.ts';
import { showFatalError } from '../ui/fatal-error.ts';
import { TEST_HOOKS, setTestHook } from '../test-hooks.ts';

/** Side of the QR code in CSS pixels; its canvas has that × the device pixel ratio (crisp on HiDPI). */
const QR_CSS_PX = 220;

export async function mountProjector(root: HTMLElement, session: string, token: string, overlayOn: boolean): Promise<void> {
  document.body.classList.add('projector-body');
  const stageHost = h('div', { class: 'projector-stage' });
  const waiting = h('div', { class: 'projector-waiting' }, 'Waiting for the first image…');
  const badge = connectionBadge();
  const people = h('ul', { class: 'people' });
  const qr = h('canvas', { class: 'qr', 'aria-label': 'QR code of the join link', style: { width: `${QR_CSS_PX}px`, height: `${QR_CSS_PX}px` } });
  const joinUrl = h('div', { class: 'join-url' });
  const joinHint = h('div', { class: 'join-hint' });
  const viewBtn = h('button', { type: 'button', class: 'tool', 'aria-pressed': 'false', title: 'People who scan can watch' }, 'View only');
  const editBtn = h('button', { type: 'button', class: 'tool', 'aria-pressed': 'false', title: 'People who scan can paint and change everything' }, 'Join as editor');
  const overlay = h(
    'div',
    { class: 'projector-overlay', hidden: !overlayOn },
    h(
      'div',
      { class: 'overlay-card join-card' },
      h('div', { class: 'overlay-title' }, 'Join the studio'),
      h('div', { class: 'seg join-choice', role: 'group', 'aria-label': 'What the QR code grants' }, viewBtn, editBtn),
      qr,
      joinHint,
      joinUrl,
      badge.el,
    ),
    h('div', { class: 'overlay-card people-card' }, h('div', { class: 'overlay-title' }, 'Painting now'), people),
  );
  root.replaceChildren(h('div', { class: 'projector' }, stageHost, waiting, overlay));

  // ── join link: view-only by default, the editor link only when chosen ────
  let links: JoinLinks = { view: null, edit: null };
  let choice: JoinChoice | null = null;
  let drawn = '';
  const renderJoin = () => {
    viewBtn.disabled = !links.view;
    editBtn.disabled = !links.edit;
    viewBtn.title = links.view ? 'People who scan can watch' : 'No view-only link is known for this session';
    editBtn.title = links.edit ? 'People who scan can paint and change everything' : 'This screen was opened with the view-only link: open it with the editor link to offer editing';
    viewBtn.classList.toggle('on', choice === 'view');
    editBtn.classList.toggle('on', choice === 'edit');
    viewBtn.setAttribute('aria-pressed', String(choice === 'view'));
    editBtn.setAttribute('aria-pressed', String(choice === 'edit'));
    const url = choice ? links[choice] : null;
    overlay.dataset.join = choice ?? 'none';
    joinUrl.textContent = url ?? '';
    joinHint.textContent = !url ? (links.edit ? 'Pick "Join as editor" to show a link that lets people edit.' : 'Connecting…') : choice === 'edit' ? 'Anyone who scans this can edit.' : 'Scan to watch on your phone.';
    qr.hidden = !url;
    if (url && url !== drawn) {
      drawn = url;
      const dpr = Math.min(3, window.devicePixelRatio || 1);
      QRCode.toCanvas(qr, url, { margin: 1, width: Math.round(QR_CSS_PX * dpr), color: { dark: '#000000', light: '#ffffff' } })
        .then(() => Object.assign(qr.style, { width: `${QR_CSS_PX}px`, height: `${QR_CSS_PX}px` }))
        .catch(() => {
          joinHint.textContent = 'QR code unavailable: type the link below.';
          qr.hidden = true;
        });
    }
  };
  viewBtn.addEventListener('click', () => links.view && ((choice = 'view'), renderJoin()));
  editBtn.addEventListener('click', () => links.edit && ((choice = 'edit'), renderJoin()));
  renderJoin();

  const stage = await CrossfadeStage.create(stageHost);
  const conn = new Connection({ session, token, presence: null });
  const onState = (s: ConnectionState) => {
    badge.set(s);
    root.querySelector('.projector')?.setAttribute('data-conn', s);
  };
  conn.stateChanged.on(onState);
  onState(conn.state);
  const onStatus = (st: StatusPayload) => {
    const next = joinLinks({ session, ownToken: token, role: st.role, statusViewerToken: st.viewerToken }, location.origin);
    if (next.view === links.view && next.edit === links.edit) return;
    links = next;
    if (!choice || !links[choice]) choice = defaultJoinChoice(links);
    renderJoin();
  };
  conn.statusChanged.on(onStatus);
  if (conn.status) onStatus(conn.status);
  const showError = (e: { code: string; message: string }) => {
    if (showFatalError(root, e, session, 'projector')) {
      stage.destroy();
      conn.close();
      return;
    }
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
  if (TEST_HOOKS) setTestHook('atelier', { conn, stage });
}
