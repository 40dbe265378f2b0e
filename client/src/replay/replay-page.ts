/**
 * The replay page, `/s/:id/replay?token=…` (editor or viewer token): scrub or play a session's
 * history. Left: the content canvas with the strokes as they were; middle: the optimization's
 * output (the keyframe at or before that moment); right: params, styles and who did what.
 * Bottom: play/pause, speed 1×–32×, the scrubber with edit markers in each author's colour,
 * the loss curve and keyframes. "Fork from here" starts a new session from that moment;
 * "Export" renders a timelapse on the server and offers the download.
 */
import { api, EXPORT_FORMATS, type ExportFormat, type HistoryResponse, type HistoryStateResponse } from '../../../shared/protocol.ts';
import { PARAM_LABELS } from '../doc/activity.ts';
import { ApiError } from '../net/api.ts';
import { h, toast } from '../ui/dom.ts';
import { showFatalError } from '../ui/fatal-error.ts';
import { formatNumber } from '../util/log-scale.ts';
import { ReplayCanvas } from './canvas-view.ts';
import { exportStatus, fetchHistory, fetchStateAt, forkAt, keyframeSrc, startExport } from './replay-api.ts';
import {
  PlaybackClock,
  SPEEDS,
  authorColor,
  authorName,
  formatDuration,
  groupActivity,
  lastIndexAtOrBefore,
  type ActivityItem,
} from './replay-model.ts';
import { injectReplayStyles } from './replay-styles.ts';
import { TimelineTrack } from './timeline-track.ts';
import { TEST_HOOKS, setTestHook } from '../test-hooks.ts';

/** What tests and screenshot scripts can read (`window.atelierReplay`, test builds only: test-hooks.ts). */
export interface ReplayDebug {
  ready: boolean;
  t: number;
  /** Seq of the state shown (after its canvas was drawn). */
  shownSeq: number;
  keyframeId: number | null;
  edits: number;
  /** Style-brush strokes in the state shown (C102). */
  regions: number;
}

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : (e as Error).message ?? String(e));
const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export async function mountReplay(root: HTMLElement, session: string, token: string): Promise<void> {
  injectReplayStyles();
  const debug: ReplayDebug = { ready: false, t: 0, shownSeq: -1, keyframeId: null, edits: 0, regions: 0 };
  if (TEST_HOOKS) setTestHook('atelierReplay', debug);

  let history: HistoryResponse;
  try {
    history = await fetchHistory(session, token);
  } catch (e) {
    // A wrong token or unknown session gets the same lasting screen as the studio (C94).
    if (e instanceof ApiError && showFatalError(root, { code: e.code, message: e.message }, session, 'replay')) return;
    throw e;
  }
  const items: ActivityItem[] = groupActivity(history.edits);
  debug.edits = history.edits.length;
  const playback = new PlaybackClock(history.start, history.end);

  // ── layout ───────────────────────────────────────────────────────────────
  const canvas = new ReplayCanvas();
  const output = h('img', { class: 'replay-output', alt: 'Output at this moment' });
  const outputEmpty = h('div', { class: 'replay-empty' }, 'No keyframe yet at this moment');
  const canvasSub = h('span', { class: 'replay-sub' });
  const regionsToggle = h('input', { type: 'checkbox', checked: true, 'aria-label': 'Show style regions' });
  const regionsLabel = h('label', { class: 'replay-sub replay-regions-toggle', title: 'Show the style regions painted with style brushes' }, regionsToggle, ' regions');
  const outputSub = h('span', { class: 'replay-sub' });
  const paramsList = h('dl', { class: 'replay-params' });
  const stylesRow = h('div', { class: 'replay-styles' });
  const activity = h('ol', { class: 'replay-activity', 'aria-label': 'Who did what' });
  const playBtn = h('button', { type: 'button', class: 'btn primary replay-play', title: 'Play / pause (space)' }, '▶');
  const speed = h('select', { 'aria-label': 'Playback speed', class: 'btn' }, ...SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
  speed.value = '8';
  playback.speed = 8;
  const timeLabel = h('span', { class: 'replay-time' });
  const legend = h('div', { class: 'replay-legend' });
  const forkBtn = h('button', { type: 'button', class: 'btn', title: 'Start a new session from this moment' }, 'Fork from here');
  const formatSel = h('select', { 'aria-label': 'Export format' }, ...EXPORT_FORMATS.map((f) => h('option', { value: f }, f === 'png' ? 'PNG (final image)' : `${f.toUpperCase()} timelapse`)));
  const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Export');
  const exportState = h('span', { class: 'replay-export-state' });
  const editorPath = api.editorPage(session, token);
  const track = new TimelineTrack({ seek: (t) => seek(t), pick: (it) => jumpTo(it) });

  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { href: '/', class: 'brand' }, 'Atelier'),
    h('span', { class: 'session-id', title: 'Session id' }, session),
    h('span', { class: 'replay-tag' }, 'Replay'),
    h('span', { class: 'spacer' }),
    h('span', { class: 'replay-export' }, formatSel, exportBtn, exportState),
    forkBtn,
    h('a', { class: 'btn', href: editorPath }, 'Back to live'),
  );
  const main = h(
    'main',
    { class: 'replay-main' },
    h('section', { class: 'replay-stage' }, h('h2', {}, 'Canvas', canvasSub, regionsLabel), h('div', { class: 'replay-view' }, canvas.el)),
    h('section', { class: 'replay-stage' }, h('h2', {}, 'Output', outputSub), h('div', { class: 'replay-view' }, output, outputEmpty)),
    h(
      'aside',
      { class: 'replay-side' },
      h('div', { class: 'replay-box' }, h('h2', {}, 'Parameters'), paramsList),
      h('div', { class: 'replay-box' }, h('h2', {}, 'Styles'), stylesRow),
      h('div', { class: 'replay-box grow' }, h('h2', {}, 'Who did what'), activity),
    ),
  );
  const transport = h(
    'footer',
    { class: 'replay-transport' },
    h('div', { class: 'replay-controls' }, playBtn, speed, timeLabel, h('span', { class: 'spacer' }), legend),
    track.el,
  );
  root.replaceChildren(h('div', { class: 'replay' }, header, main, transport));
  output.hidden = true;

  // ── activity list and legend ─────────────────────────────────────────────
  let rows: HTMLLIElement[] = [];
  const renderActivity = () => {
    rows = items.map((it) =>
      h(
        'li',
        { onclick: () => jumpTo(it), title: new Date(it.time).toLocaleString() },
        h('i', { class: 'dot', style: { background: authorColor(it.author) } }),
        h('span', { class: 'who' }, authorName(it.author)),
        h('span', { class: 'what' }, it.text),
        h('span', { class: 'when' }, `+${formatDuration(it.time - history.start)} · ${clock(it.time)}`),
      ),
    );
    activity.replaceChildren(...rows);
    const names = [...new Set(items.map((i) => authorName(i.author)))];
    legend.replaceChildren(
      ...names.map((n) => h('span', {}, h('i', { style: { background: authorColor(n) } }), n)),
      h('span', {}, h('i', { style: { background: 'rgba(224,163,91,.6)', height: '2px' } }), 'loss'),
      h('span', {}, h('i', { style: { background: 'rgba(231,231,234,.55)', width: '2px' } }), 'keyframes'),
    );
  };
  renderActivity();
  track.setData(history, items);

  // ── state at t (latest request wins) ─────────────────────────────────────
  let inFlight = false;
  let wanted: number | null = null;
  let lastState: HistoryStateResponse | null = null;
  regionsToggle.addEventListener('change', () => {
    canvas.showRegions = regionsToggle.checked;
    if (lastState) void canvas.draw(lastState.state);
  });
  const requestState = (t: number) => {
    wanted = t;
    if (inFlight) return;
    void (async () => {
      while (wanted !== null) {
        const next = wanted;
        wanted = null;
        inFlight = true;
        try {
          const st = await fetchStateAt(session, token, next);
          await showState(st);
        } catch (e) {
          toast(`Could not load the state: ${errorText(e)}`, 'error');
        } finally {
          inFlight = false;
        }
      }
    })();
  };

  const showState = async (st: HistoryStateResponse) => {
    const prev = lastState;
    lastState = st;
    const idx = lastIndexAtOrBefore(items, st.t, (i) => i.time);
    const cur = idx >= 0 ? items[idx] : null;
    const touched = new Set<string>();
    if (cur && st.t - cur.endTime < 3000) {
      for (let k = cur.index; k <= cur.lastIndex; k++) for (const c of history.edits[k].changes) if ('id' in c) touched.add(c.id);
    }
    await canvas.draw(st.state, touched);
    const c = st.state.content;
    const nRegions = st.state.regions?.length ?? 0;
    canvasSub.textContent = `${c.width}×${c.height} · ${st.state.strokes.length} stroke${st.state.strokes.length === 1 ? '' : 's'}${nRegions ? ` · ${nRegions} style brush stroke${nRegions === 1 ? '' : 's'}` : ''}`;
    debug.regions = nRegions;
    paramsList.replaceChildren(
      ...Object.entries(st.state.params).flatMap(([k, v]) => {
        const changed = prev && prev.state.params[k] !== v;
        return [h('dt', {}, (PARAM_LABELS as Record<string, string>)[k] ?? k), h('dd', { class: changed ? 'changed' : '' }, typeof v === 'number' ? formatNumber(v) : String(v))];
      }),
    );
    const styleKey = JSON.stringify(st.state.styles);
    if (stylesRow.dataset.key !== styleKey) {
      stylesRow.dataset.key = styleKey;
      stylesRow.replaceChildren(
        ...(st.state.styles.length
          ? st.state.styles.map((s) => h('figure', { title: `weight ${s.weight}, scale ${s.scale}` }, h('img', { src: api.image(s.imageId), alt: 'style' }), h('figcaption', {}, `×${formatNumber(s.weight)}`)))
          : [h('span', { class: 'replay-empty' }, 'No style')]),
      );
    }
    debug.shownSeq = st.seq;
  };

  // ── time ─────────────────────────────────────────────────────────────────
  let currentRow = -1;
  const showTime = (follow: boolean) => {
    const t = playback.t;
    debug.t = t;
    timeLabel.replaceChildren(h('b', {}, formatDuration(t - history.start)), ` / ${formatDuration(history.end - history.start)} · ${clock(t)}`);
    const idx = lastIndexAtOrBefore(items, t, (i) => i.time);
    track.setTime(t, idx);
    if (idx !== currentRow) {
      rows[currentRow]?.classList.remove('current');
      rows[idx]?.classList.add('current');
      currentRow = idx;
      if (follow) rows[idx]?.scrollIntoView({ block: 'nearest' });
    }
    rows.forEach((r, i) => r.classList.toggle('future', i > idx));
    const k = lastIndexAtOrBefore(history.keyframes, t, (x) => x.time);
    const kf = k >= 0 ? history.keyframes[k] : null;
    if (kf) {
      if (debug.keyframeId !== kf.id) output.src = keyframeSrc(kf.url, token);
      const loss = history.losses[lastIndexAtOrBefore(history.losses, t, (l) => l.time)];
      outputSub.textContent = `iteration ${kf.iter}${loss ? ` · loss ${formatNumber(loss.total)}` : ''}`;
    } else {
      outputSub.textContent = '';
    }
    output.hidden = !kf;
    outputEmpty.hidden = !!kf;
    debug.keyframeId = kf?.id ?? null;
    requestState(t);
  };

  function seek(t: number): void {
    playback.seek(t);
    showTime(true);
  }
  function jumpTo(it: ActivityItem): void {
    playback.playing = false;
    playBtn.textContent = '▶';
    playback.seek(it.endTime);
    showTime(true);
  }

  let lastFrame = 0;
  const tick = (now: number) => {
    const dt = lastFrame ? now - lastFrame : 0;
    lastFrame = now;
    if (playback.advance(dt)) showTime(true);
    if (!playback.playing) {
      playBtn.textContent = '▶';
      lastFrame = 0;
      return;
    }
    requestAnimationFrame(tick);
  };
  const togglePlay = () => {
    playback.toggle();
    playBtn.textContent = playback.playing ? '❚❚' : '▶';
    if (playback.playing) requestAnimationFrame(tick);
  };
  playBtn.addEventListener('click', togglePlay);
  speed.addEventListener('change', () => (playback.speed = Number(speed.value)));
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === ' ') {
      e.preventDefault();
      togglePlay();
    } else if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const idx = lastIndexAtOrBefore(items, playback.t, (i) => i.time);
      const next = items[e.key === 'ArrowRight' ? idx + 1 : Math.max(0, idx - (items[idx]?.time === playback.t ? 1 : 0))];
      if (next) jumpTo(next);
    }
  });

  // ── fork and export ──────────────────────────────────────────────────────
  forkBtn.addEventListener('click', async () => {
    forkBtn.disabled = true;
    try {
      const fork = await forkAt(session, token, playback.t);
      toast(`Forked at ${clock(playback.t)}: the new session opens in a new tab.`);
      const win = window.open(new URL(fork.editorUrl).pathname + new URL(fork.editorUrl).search, '_blank', 'noopener');
      if (!win) location.href = fork.editorUrl;
    } catch (e) {
      toast(e instanceof ApiError && e.status === 403 ? 'Forking needs the editor link; this one is view-only.' : `Fork failed: ${errorText(e)}`, 'error', 6000);
    } finally {
      forkBtn.disabled = false;
    }
  });

  exportBtn.addEventListener('click', async () => {
    const format = formatSel.value as ExportFormat;
    exportBtn.disabled = true;
    const bar = h('progress', { max: 1, value: 0 });
    exportState.replaceChildren(bar);
    try {
      const { jobId } = await startExport(session, token, format, 12);
      for (;;) {
        await new Promise((r) => setTimeout(r, 400));
        const st = await exportStatus(jobId);
        bar.value = st.progress;
        if (st.state === 'error') throw new Error(st.message ?? 'the export failed');
        if (st.state === 'done' && st.url) {
          const kb = st.bytes ? ` (${Math.max(1, Math.round(st.bytes / 1024))} kB)` : '';
          exportState.replaceChildren(h('a', { href: st.url, download: `${session}.${format}` }, `Download ${format.toUpperCase()}${kb}`));
          break;
        }
      }
    } catch (e) {
      exportState.replaceChildren();
      toast(`Export failed: ${errorText(e)}`, 'error', 6000);
    } finally {
      exportBtn.disabled = false;
    }
  });

  // Start at the end: the session as it is now.
  playback.seek(history.end);
  showTime(true);
  debug.ready = true;
  if (!history.edits.length) toast('This session has no history yet.');
}
