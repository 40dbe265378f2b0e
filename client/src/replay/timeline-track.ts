/**
 * The replay scrubber: one canvas with the session's time on x. Top lane: a tick per activity
 * line in its author's colour; middle: the total loss (log scale) as a faint curve; bottom lane:
 * keyframes. Dragging anywhere seeks; a click within a few pixels of an edit tick jumps to it.
 * It is a `role=slider` (C97): focusable, Home/End, PageUp/PageDown and the arrow keys (line by
 * line) move it, and it says its value (time, and the activity line there) to assistive tech.
 */
import type { HistoryResponse } from '../../../shared/protocol.ts';
import { authorColor, formatDuration, timelineKeyTarget, type ActivityItem } from './replay-model.ts';

const HEIGHT = 76;
const EDIT_LANE = [4, 26] as const;
const LOSS_LANE = [30, 58] as const;
const KEY_LANE = [62, 72] as const;
const PICK_PX = 5;
const PAD = 8;

export interface TrackEvents {
  seek(t: number): void;
  pick(item: ActivityItem): void;
}

export class TimelineTrack {
  readonly el: HTMLCanvasElement;
  private history: HistoryResponse | null = null;
  private items: ActivityItem[] = [];
  private t = 0;
  private current = -1;
  private dragging = false;
  private downAt: { x: number; y: number } | null = null;
  private resize: ResizeObserver;

  constructor(private events: TrackEvents) {
    this.el = document.createElement('canvas');
    this.el.className = 'replay-track';
    this.el.style.height = `${HEIGHT}px`;
    this.el.setAttribute('role', 'slider');
    this.el.setAttribute('aria-label', 'Replay time');
    this.el.tabIndex = 0;
    this.el.addEventListener('keydown', (e) => {
      const h = this.history;
      if (!h || e.altKey || e.ctrlKey || e.metaKey) return;
      const [a, b] = this.span;
      const target = timelineKeyTarget(e.key, this.t, this.items, a, b);
      if (!target) return;
      e.preventDefault();
      e.stopPropagation(); // the page's own arrow keys would move it a second time
      if (target.item) this.events.pick(target.item);
      else this.events.seek(target.t);
    });
    this.el.addEventListener('pointerdown', (e) => {
      this.el.setPointerCapture(e.pointerId);
      this.dragging = true;
      this.downAt = { x: e.offsetX, y: e.offsetY };
      this.events.seek(this.timeAt(e.offsetX));
    });
    this.el.addEventListener('pointermove', (e) => {
      if (this.dragging) this.events.seek(this.timeAt(e.offsetX));
      else this.el.title = this.itemNear(e.offsetX, e.offsetY)?.text ?? '';
    });
    this.el.addEventListener('pointerup', (e) => {
      this.dragging = false;
      const d = this.downAt;
      this.downAt = null;
      if (d && Math.abs(d.x - e.offsetX) < 3) {
        const item = this.itemNear(e.offsetX, e.offsetY);
        if (item) this.events.pick(item);
      }
    });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.el);
  }

  setData(history: HistoryResponse, items: ActivityItem[]): void {
    this.history = history;
    this.items = items;
    this.draw();
  }

  setTime(t: number, currentItem: number): void {
    this.t = t;
    this.current = currentItem;
    const [a, b] = this.span;
    this.el.setAttribute('aria-valuemin', '0');
    this.el.setAttribute('aria-valuemax', String(Math.round(b - a)));
    this.el.setAttribute('aria-valuenow', String(Math.round(t - a)));
    const line = this.items[currentItem];
    this.el.setAttribute('aria-valuetext', `${formatDuration(t - a)} of ${formatDuration(b - a)}${line ? `: ${line.text}` : ''}`);
    this.draw();
  }

  private get span(): [number, number] {
    const h = this.history;
    if (!h) return [0, 1];
    return [h.start, Math.max(h.end, h.start + 1)];
  }

  private xOf(t: number, width: number): number {
    const [a, b] = this.span;
    return PAD + ((t - a) / (b - a)) * (width - 2 * PAD);
  }

  private timeAt(x: number): number {
    const [a, b] = this.span;
    const w = this.el.clientWidth;
    return a + Math.min(1, Math.max(0, (x - PAD) / Math.max(1, w - 2 * PAD))) * (b - a);
  }

  private itemNear(x: number, y: number): ActivityItem | null {
    if (y > EDIT_LANE[1] + 6) return null;
    const w = this.el.clientWidth;
    let best: ActivityItem | null = null;
    let bestD = PICK_PX;
    for (const it of this.items) {
      const d = Math.abs(this.xOf(it.time, w) - x);
      if (d <= bestD) {
        best = it;
        bestD = d;
      }
    }
    return best;
  }

  draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const w = this.el.clientWidth || 600;
    if (this.el.width !== Math.round(w * dpr) || this.el.height !== Math.round(HEIGHT * dpr)) {
      this.el.width = Math.round(w * dpr);
      this.el.height = Math.round(HEIGHT * dpr);
    }
    const ctx = this.el.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, HEIGHT);
    ctx.fillStyle = '#14161a';
    ctx.fillRect(0, 0, w, HEIGHT);
    ctx.fillStyle = '#1c1f25';
    ctx.fillRect(PAD, EDIT_LANE[0], w - 2 * PAD, EDIT_LANE[1] - EDIT_LANE[0]);
    ctx.fillRect(PAD, KEY_LANE[0], w - 2 * PAD, KEY_LANE[1] - KEY_LANE[0]);
    const h = this.history;
    if (!h) return;

    // Loss curve (log of the total), scaled to its own range.
    const pts = h.losses.filter((l) => Number.isFinite(l.total) && l.total > 0);
    if (pts.length > 1) {
      const logs = pts.map((l) => Math.log10(l.total));
      const lo = Math.min(...logs);
      const hi = Math.max(...logs);
      const yOf = (v: number) => LOSS_LANE[1] - ((v - lo) / Math.max(1e-9, hi - lo)) * (LOSS_LANE[1] - LOSS_LANE[0]);
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(this.xOf(p.time, w), yOf(logs[i])) : ctx.moveTo(this.xOf(p.time, w), yOf(logs[i]))));
      ctx.strokeStyle = 'rgba(224, 163, 91, 0.55)';
      ctx.lineWidth = 1.25;
      ctx.stroke();
    }

    ctx.fillStyle = 'rgba(231, 231, 234, 0.55)';
    for (const k of h.keyframes) ctx.fillRect(Math.round(this.xOf(k.time, w)) - 0.5, KEY_LANE[0] + 2, 1, KEY_LANE[1] - KEY_LANE[0] - 4);

    this.items.forEach((it, i) => {
      const x0 = this.xOf(it.time, w);
      const x1 = Math.max(x0 + 2, this.xOf(it.endTime, w));
      ctx.fillStyle = authorColor(it.author);
      ctx.globalAlpha = i === this.current ? 1 : 0.8;
      const grow = i === this.current ? 0 : 4;
      ctx.fillRect(Math.round(x0) - 1, EDIT_LANE[0] + grow, Math.round(x1 - x0) + 1, EDIT_LANE[1] - EDIT_LANE[0] - 2 * grow);
    });
    ctx.globalAlpha = 1;

    const x = this.xOf(this.t, w);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(Math.round(x) - 1, 0, 2, HEIGHT);
    ctx.beginPath();
    ctx.moveTo(x - 5, 0);
    ctx.lineTo(x + 5, 0);
    ctx.lineTo(x, 6);
    ctx.fill();
  }

  destroy(): void {
    this.resize.disconnect();
  }
}
