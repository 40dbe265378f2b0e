/**
 * The editor (`/s/:id?token=…`): wires the connection, the shared document and every panel.
 * Editing is enabled only once the server's status confirms the editor role; with a viewer
 * token the whole UI stays read-only and the connection sends no writes.
 *
 * {@link mountEditor} returns the page's unmount: it closes the socket, destroys the Pixi views
 * and removes every window listener, timer and observer the page added, so mounting, unmounting
 * and mounting again leaks nothing (e2e/teardown.e2e.ts counts them).
 */
import * as Y from 'yjs';
import { api, type PresetImage, type FramePayload, type StatusPayload, type ErrorPayload } from '../../../shared/protocol.ts';
import { Connection } from '../net/connection.ts';
import { viewOnlyToken } from '../net/links.ts';
import { uploadImage, fetchPresets, ApiError } from '../net/api.ts';
import { LatestFrameQueue } from '../net/frame-queue.ts';
import { SessionDoc, LOCAL_ORIGIN } from '../doc/session-doc.ts';
import { createUndoManager, holdUndoGroup } from '../doc/undo.ts';
import { ActivityLog } from './activity-log.ts';
import { ContentCanvas } from './canvas.ts';
import { OutputView } from './output-view.ts';
import { Painter, isRegionTool, type BrushSettings } from './painter.ts';
import { Toolbar } from './toolbar.ts';
import { RegionBar, type StyleChoice } from './region-bar.ts';
import { regionColor } from './region-overlay.ts';
import { shortPresetName } from '../util/names.ts';
import { TransportBar } from './transport-bar.ts';
import { ParamsPanel } from './params-panel.ts';
import { StylesPanel } from './styles-panel.ts';
import { PresencePanel } from './presence-panel.ts';
import { LossChart } from './loss-chart.ts';
import { participantsOf, nameOf } from './presence.ts';
import { shortcutFor, stepBrushSize } from './shortcuts.ts';
import { h, toast, isTypingTarget, copyText } from '../ui/dom.ts';
import { connectionBadge } from '../ui/connection-badge.ts';
import { bindImageDrop } from '../ui/file-drop.ts';
import { decodeImage } from '../ui/pixi-app.ts';
import { myUser } from '../util/identity.ts';
import { rememberSession } from '../start/recent-sessions.ts';
import { showFatalError } from '../ui/fatal-error.ts';
import { TEST_HOOKS, setTestHook } from '../test-hooks.ts';

const CURSOR_INTERVAL_MS = 50;

function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Mounts the editor into `root`; resolves to its unmount (idempotent). */
export async function mountEditor(root: HTMLElement, session: string, token: string): Promise<() => void> {
  const user = myUser();
  const conn = new Connection({ session, token, presence: { user, cursor: null } });
  const sdoc = new SessionDoc(conn.doc);
  const undo = createUndoManager(sdoc);
  const report = (e: unknown) => toast(errorText(e), 'error');
  let editable = false;
  /** The page gave up (a link that cannot work) or was unmounted: nothing renders any more. */
  let closed = false;
  let lastIter = 0;

  // ── layout ───────────────────────────────────────────────────────────────
  const badge = connectionBadge();
  const roleBadge = h('span', { class: 'role-badge', hidden: true }, 'View only');
  const viewerStoreKey = `atelier.viewer.${session}`;
  const shareBtn = h('button', { type: 'button', class: 'btn', hidden: true }, 'Copy link');
  shareBtn.addEventListener('click', async () => {
    const ok = await copyText(location.href);
    toast(ok ? 'Editor link copied: anyone with it can edit.' : location.href);
  });
  // The view-only link (C93) and the projector (C87) need the view-only token: known from the
  // server's status (editors), from this browser (it created the session), or the own token
  // (viewers). Until it is known the projector button stays disabled rather than handing the
  // editor token to a wall.
  const viewerBtn = h('button', { type: 'button', class: 'btn', hidden: true }, 'Copy view-only link');
  const projectorBtn = h('a', { class: 'btn projector-link', target: '_blank', rel: 'noopener', 'aria-disabled': 'true' }, 'Projector ↗');
  let viewOnlyUrl: string | null = null;
  viewerBtn.addEventListener('click', async () => {
    if (!viewOnlyUrl) return;
    toast((await copyText(viewOnlyUrl)) ? 'View-only link copied: it shows the studio without editing.' : viewOnlyUrl);
  });
  const updateLinks = (st: StatusPayload | null) => {
    const viewToken = viewOnlyToken({ session, ownToken: token, role: st?.role ?? null, statusViewerToken: st?.viewerToken, storedViewerPath: localStorage.getItem(viewerStoreKey) });
    viewOnlyUrl = viewToken ? location.origin + api.editorPage(session, viewToken) : null;
    viewerBtn.hidden = !viewOnlyUrl;
    if (viewToken) {
      projectorBtn.href = api.projectorPage(session, viewToken);
      projectorBtn.removeAttribute('aria-disabled');
      projectorBtn.title = 'Open the live image for a wall or projector (view-only; its QR code offers the view-only link)';
    } else {
      projectorBtn.removeAttribute('href');
      projectorBtn.setAttribute('aria-disabled', 'true');
      projectorBtn.title = st ? 'This session’s view-only link is not known here (it was created before view-only links could be shared): ask its creator for it' : 'Connecting…';
    }
  };
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { href: '/', class: 'brand' }, 'Atelier'),
    h('span', { class: 'session-id', title: 'Session id' }, session),
    badge.el,
    roleBadge,
    h('span', { class: 'spacer' }),
    h('span', { class: 'me', title: 'Your name (change it on the start page)' }, h('i', { class: 'swatch', style: { background: user.color } }), user.name),
    shareBtn,
    viewerBtn,
    projectorBtn,
    h('a', { class: 'btn', href: api.replayPage(session, token), title: 'Scrub through the session history' }, 'Replay'),
  );
  updateLinks(null);

  const canvasHost = h('div', { class: 'stage canvas-stage', 'aria-label': 'Content canvas' });
  const outputHost = h('div', { class: 'stage output-stage', 'aria-label': 'Live output' });
  const split = h('input', { type: 'range', min: '0', max: '1000', value: '0', class: 'slider split-slider', 'aria-label': 'Before / after split' });
  const lossChart = new LossChart();
  const painterRef: { painter?: Painter } = {};

  const brushChanged = (b: BrushSettings) => {
    if (b.tool === 'style' && !b.style && styleChoices().length) return ensureBrushStyle(); // comes back here with a style
    if (painterRef.painter) painterRef.painter.brush = b;
    // The style brush's preview ring is in my presence colour, as its regions are drawn.
    canvas.setBrush(b.size, isRegionTool(b.tool) ? user.color : b.color, b.tool === 'eraser' || b.tool === 'style-eraser');
    regionBar.setVisible(isRegionTool(b.tool));
    regionBar.setChoices(styleChoices(), b.style);
    conn.setTool(b.tool === 'style' ? { kind: 'style', ...(b.style ? { style: b.style } : {}) } : { kind: b.tool });
  };
  const toolbar = new Toolbar(
    { tool: 'brush', size: 12, color: '#e0a35b', opacity: 1 },
    {
      brushChanged: (b) => brushChanged(b),
      regionsShown: (shown) => canvas.setRegionsVisible(shown),
      clear: () => guard(() => (sdoc.clearStrokes(), undo.stopCapturing())),
      undo: () => doUndo(),
      redo: () => doRedo(),
      uploadContent: (f) => void uploadContent(f),
      useContentPreset: (p: PresetImage) => guard(() => (sdoc.setContent({ imageId: p.imageId, width: p.width, height: p.height }), undo.stopCapturing())),
      blankContent: (bg) => guard(() => (sdoc.setContent({ imageId: undefined, background: bg }), undo.stopCapturing())),
      reject: (m) => toast(m, 'error'),
    },
  );
  // ── style brush (C98–C101) ───────────────────────────────────────────────
  let stylePresets: PresetImage[] = [];
  const styleName = (id: string) => {
    const p = stylePresets.find((x) => x.imageId === id);
    return p ? shortPresetName(p.name, 'style') : 'Uploaded style';
  };
  /** What the style brush can paint: the gallery's styles, then the session's own (uploaded) ones. */
  const styleChoices = (): StyleChoice[] => {
    const ids = [...stylePresets.map((p) => p.imageId)];
    for (const id of [...sdoc.getStyles().map((x) => x.imageId), ...sdoc.getRegions().flatMap((r) => (r.style ? [r.style] : []))]) if (!ids.includes(id)) ids.push(id);
    return ids.map((imageId) => ({ imageId, name: styleName(imageId) }));
  };
  /** The style brush starts on a style that is not already the blend's, so its first stroke shows. */
  const ensureBrushStyle = () => {
    if (toolbar.settings.style) return;
    const active = new Set(sdoc.getStyles().map((x) => x.imageId));
    const choice = styleChoices().find((c) => !active.has(c.imageId)) ?? styleChoices()[0];
    if (choice) toolbar.setStyle(choice.imageId);
  };
  const regionBar = new RegionBar({
    pick: (imageId) => {
      toolbar.setStyle(imageId);
      toolbar.setTool('style');
    },
    clear: () => guard(() => (sdoc.clearRegions(), undo.stopCapturing())),
  });
  const pickTool = (tool: BrushSettings['tool']) => {
    if (tool === 'style') ensureBrushStyle();
    toolbar.setTool(tool);
  };

  const transport = new TransportBar({
    toggleRun: () => guard(() => (sdoc.setParam('running', !sdoc.getParam('running')), undo.stopCapturing())),
    reset: () => guard(() => (sdoc.setParam('restart', sdoc.getParam('restart') + 1), undo.stopCapturing())),
    download: () => void download(),
  });
  const params = new ParamsPanel(sdoc, () => undo.stopCapturing(), report);
  const styles = new StylesPanel({
    sdoc,
    upload: (f) => uploadImage(session, token, f),
    stopUndoCapture: () => undo.stopCapturing(),
    onError: report,
    canEdit: () => editable,
  });
  const presence = new PresencePanel();

  const canvasPanel = h('section', { class: 'panel canvas-panel', 'aria-label': 'Content' }, toolbar.el, toolbar.contentBar, regionBar.el, canvasHost);
  const outputPanel = h('section', { class: 'panel output-panel', 'aria-label': 'Output' }, transport.el, outputHost, h('div', { class: 'split-row', title: 'Drag to compare: input on the left of the line, result on the right' }, h('span', { class: 'muted' }, 'before'), split, h('span', { class: 'muted' }, 'after')), lossChart.el);
  const side = h('aside', { class: 'side' }, presence.el, styles.el, params.el);
  root.replaceChildren(h('div', { class: 'editor' }, header, h('main', { class: 'workspace' }, canvasPanel, outputPanel, side)));

  const [canvas, output] = await Promise.all([
    ContentCanvas.create(canvasHost, {
      start: (x, y) => painterRef.painter?.start(x, y) ?? false,
      move: (p) => painterRef.painter?.move(p),
      end: () => painterRef.painter?.end(),
      hover: (p) => painterRef.painter?.hover(p),
    }),
    OutputView.create(outputHost),
  ]);

  // Cursor presence, throttled.
  let cursorTimer: ReturnType<typeof setTimeout> | undefined;
  let pendingCursor: { x: number; y: number } | null | undefined;
  const publishCursor = (p: { x: number; y: number } | null) => {
    pendingCursor = p ? { x: Math.round(p.x), y: Math.round(p.y) } : null;
    if (cursorTimer !== undefined) return;
    cursorTimer = setTimeout(() => {
      cursorTimer = undefined;
      if (pendingCursor !== undefined) conn.setCursor(pendingCursor);
      pendingCursor = undefined;
    }, CURSOR_INTERVAL_MS);
  };
  const painter = new Painter(sdoc, () => user.name, () => holdUndoGroup(undo), publishCursor, report);
  painter.brush = toolbar.settings;
  painter.canvas = canvas;
  painterRef.painter = painter;
  canvas.setBrush(painter.brush.size, painter.brush.color, false);
  split.addEventListener('input', () => output.setSplit(Number(split.value) / 1000));

  function guard(fn: () => void): void {
    if (!editable) return;
    try {
      fn();
    } catch (e) {
      report(e);
    }
  }
  function doUndo(): void {
    if (!editable || painter.drawing) return;
    undo.stopCapturing();
    undo.undo();
  }
  function doRedo(): void {
    if (!editable || painter.drawing) return;
    undo.redo();
  }
  async function uploadContent(f: File): Promise<void> {
    if (!editable) return;
    canvasPanel.classList.add('busy');
    try {
      const r = await uploadImage(session, token, f);
      sdoc.setContent({ imageId: r.imageId, width: r.width, height: r.height });
      undo.stopCapturing();
    } catch (e) {
      report(e);
    } finally {
      canvasPanel.classList.remove('busy');
    }
  }
  async function download(): Promise<void> {
    const blob = await output.toPng();
    if (!blob) return toast('No image yet.', 'error');
    const a = h('a', { href: URL.createObjectURL(blob), download: `atelier-${session}-iter${lastIter}.png` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
  bindImageDrop(canvasPanel, () => editable, (f) => void uploadContent(f), (m) => toast(m, 'error'));

  // ── document → UI ────────────────────────────────────────────────────────
  // Only the parts whose root changed are refreshed, once per animation frame.
  type Root = 'params' | 'styles' | 'content' | 'strokes' | 'regions';
  const dirty = new Set<Root>(['params', 'styles', 'content', 'strokes', 'regions']);
  let refreshScheduled = false;
  const refresh = (what?: Root) => {
    if (what) dirty.add(what);
    if (refreshScheduled) return;
    refreshScheduled = true;
    requestAnimationFrame(() => {
      refreshScheduled = false;
      if (closed) return;
      if (dirty.has('params')) {
        const p = sdoc.getParams();
        params.update(p);
        transport.setRunning(p.running);
      }
      if (dirty.has('styles')) styles.update();
      if (dirty.has('content')) {
        const content = sdoc.getContent();
        canvas.setContent(content);
        output.setContent(content);
        toolbar.setBackground(content.background);
      }
      if (dirty.has('strokes')) {
        const strokes = sdoc.getStrokes();
        canvas.setStrokes(strokes);
        output.setStrokes(strokes);
      }
      if (dirty.has('regions') || dirty.has('styles')) refreshRegions();
      dirty.clear();
    });
  };
  /** The overlay, the style choices and the legend of who painted which style. */
  function refreshRegions(): void {
    const regions = sdoc.getRegions();
    canvas.setRegions(regions);
    regionBar.setChoices(styleChoices(), toolbar.settings.style);
    const legend = new Map<string, Map<string, string>>();
    for (const r of regions) {
      if (r.tool !== 'brush' || !r.style) continue;
      const painters = legend.get(r.style) ?? new Map<string, string>();
      painters.set(r.author || 'Anonymous', regionColor(r));
      legend.set(r.style, painters);
    }
    regionBar.setLegend([...legend].map(([imageId, painters]) => ({ imageId, name: styleName(imageId), painters: [...painters].map(([name, color]) => ({ name, color })) })));
  }
  const roots = { params: sdoc.params, styles: sdoc.styles, content: sdoc.content, strokes: sdoc.strokes, regions: sdoc.regions };
  const activity = new ActivityLog({
    roots,
    awareness: conn.awareness,
    isLocal: (tr) => tr.origin === LOCAL_ORIGIN || tr.origin === undo,
    isLoad: (tr) => !conn.provider.synced && tr.origin === conn.provider,
    nameOf: (c) => nameOf(conn.awareness, c) ?? knownNames.get(c),
    changed: (items) => presence.setActivity(items),
  });
  for (const [which, r] of Object.entries(roots) as Array<[keyof typeof roots, Y.AbstractType<unknown>]>) {
    r.observeDeep((events, tr) => {
      refresh(which);
      activity.observe(which, events, tr);
    });
  }

  const updateUndoButtons = () => toolbar.setUndoState(undo.canUndo(), undo.canRedo(), editable);
  undo.on('stack-item-added', updateUndoButtons);
  undo.on('stack-item-popped', updateUndoButtons);
  undo.on('stack-cleared', updateUndoButtons);

  // ── presence ─────────────────────────────────────────────────────────────
  // Names outlive presence: an edit that arrives (e.g. after a reconnect) before its author's
  // presence does is still attributed.
  const knownNames = new Map<number, string>();
  const renderPresence = () => {
    if (closed) return;
    const people = participantsOf(conn.awareness);
    for (const p of people) knownNames.set(p.clientId, p.name);
    const clients = conn.status?.clients ?? people.length;
    presence.setParticipants(people, Math.max(0, clients - people.length));
    canvas.setCursors(
      people
        .filter((p) => !p.isMe && p.cursor)
        .map((p) => ({ clientId: p.clientId, name: p.name, color: p.color, x: p.cursor!.x, y: p.cursor!.y, style: p.tool?.kind === 'style' ? p.tool.style : undefined })),
    );
  };
  conn.awareness.on('change', renderPresence);

  // ── connection ───────────────────────────────────────────────────────────
  const setEditable = (e: boolean) => {
    editable = e;
    painter.enabled = e;
    canvas.setReadOnly(!e);
    toolbar.setDisabled(!e);
    regionBar.setDisabled(!e);
    params.setDisabled(!e);
    styles.setDisabled(!e);
    transport.setEditable(e);
    updateUndoButtons();
    shareBtn.hidden = !e;
  };
  setEditable(false);
  conn.stateChanged.on((s) => {
    badge.set(s);
    transport.setConnected(s === 'connected');
  });
  const onStatus = (st: StatusPayload) => {
    transport.setStatus(st);
    const isEditor = st.role === 'editor';
    roleBadge.hidden = isEditor;
    if (isEditor !== editable) setEditable(isEditor);
    updateLinks(st);
    rememberSession(localStorage, { id: session, path: location.pathname + location.search, role: st.role, lastOpened: Date.now() });
    renderPresence();
  };
  conn.statusChanged.on(onStatus);
  // The socket may have connected while the canvases were being created.
  badge.set(conn.state);
  if (conn.status) onStatus(conn.status);
  const frames = new LatestFrameQueue<FramePayload, ImageBitmap>(
    (f) => decodeImage(f.data, f.mime),
    (bmp, f) => {
      output.showFrame(bmp);
      lastIter = f.iter;
      lossChart.push(f.iter, f.losses);
      transport.setProgress(f.iter, f.stepsPerSec, f.backend);
      transport.setHasImage(true);
    },
  );
  conn.frames.on(({ frame, ack }) => frames.push(frame, ack));
  /** Stops the connection and the views (once): on a fatal error and on unmount. */
  const stop = () => {
    if (closed) return;
    closed = true;
    if (painter.drawing) painter.end(); // the stroke in progress is kept
    clearTimeout(cursorTimer);
    frames.close();
    conn.close();
    canvas.destroy();
    output.destroy();
  };
  const showError = (e: ErrorPayload) => {
    // A link that cannot work gets a lasting screen with what to do (C94), not a toast.
    if (!closed && showFatalError(root, e, session, 'editor')) {
      stop();
      return;
    }
    toast(`${e.message}${e.path ? ` (${e.path})` : ''}`, 'error', 6000);
  };
  conn.errors.on(showError);
  if (conn.lastError) showError(conn.lastError);

  // ── keyboard ─────────────────────────────────────────────────────────────
  const windowListeners = new AbortController();
  window.addEventListener('keydown', (e) => {
    const action = shortcutFor({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, shiftKey: e.shiftKey, altKey: e.altKey, inField: isTypingTarget(e.target) });
    if (!action) return;
    if (action === 'toggle-run' && e.target instanceof HTMLButtonElement) return; // Space activates the focused button
    e.preventDefault();
    switch (action) {
      case 'undo':
        return doUndo();
      case 'redo':
        return doRedo();
      case 'brush':
      case 'eraser':
      case 'style':
      case 'style-eraser':
        return pickTool(action);
      case 'toggle-regions':
        return toolbar.showRegions(!toolbar.regionsVisible);
      case 'size-up':
      case 'size-down':
        return toolbar.setSize(stepBrushSize(toolbar.settings.size, action === 'size-up' ? 1 : -1));
      case 'toggle-run':
        return guard(() => (sdoc.setParam('running', !sdoc.getParam('running')), undo.stopCapturing()));
    }
  }, { signal: windowListeners.signal });

  fetchPresets()
    .then((p) => {
      if (closed) return;
      styles.setPresets(p.images);
      toolbar.setContentPresets(p.images);
      stylePresets = p.images.filter((x) => x.kind === 'style');
      refresh('regions');
    })
    .catch((e) => toast(`Could not load the built-in images: ${errorText(e)}`, 'error'));
  refresh();
  renderPresence();
  // Recent sessions learn this link once the server accepted it (onStatus): a wrong token is
  // not remembered.
  if (TEST_HOOKS) setTestHook('atelier', { conn, sdoc, undo, output, canvas, toolbar });

  let unmounted = false;
  return () => {
    if (unmounted) return;
    unmounted = true;
    stop();
    windowListeners.abort();
    undo.destroy();
    presence.destroy();
    lossChart.destroy();
    root.replaceChildren();
    if (TEST_HOOKS) setTestHook('atelier', undefined);
  };
}
