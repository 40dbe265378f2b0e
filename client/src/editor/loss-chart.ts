/**
 * Live loss chart: total, style, content and TV loss per iteration on a log scale, drawn on a
 * small 2D canvas (redrawn at most once per animation frame). Data logic is in loss-history.ts.
 */
import type { LossTerms } from '../../../shared/protocol.ts';
import { LossHistory, LOSS_SERIES, logAxisFor, logPosition, type LossSeries } from './loss-history.ts';
import { formatNumber } from '../util/log-scale.ts';
import { h } from '../ui/dom.ts';

const COLORS: Record<LossSeries, string> = { total: '#f2f2f2', style: '#e0a35b', content: '#5bb4e0', tv: '#9be05b' };

export class LossChart {
  readonly el: HTMLElement;
  private readonly canvas = h('canvas', { class: 'loss-canvas', 'aria-label': 'loss chart (log scale)' });
  private readonly history = new LossHistory();
  private scheduled = false;
  private readonly resize = new ResizeObserver(() => this.schedule());

  constructor() {
    const legend = h(
      'div',
      { class: 'loss-legend' },
      ...LOSS_SERIES.map((s) => h('span', { class: 'legend-item' }, h('i', { style: { background: COLORS[s] } }), s === 'tv' ? 'TV' : s)),
    );
    this.el = h('div', { class: 'loss-chart' }, this.canvas, legend);
    this.resize.observe(this.canvas);
  }

  destroy(): void {
    this.resize.disconnect();
  }

  push(iter: number, losses: LossTerms): void {
    this.history.push(iter, losses);
    this.schedule();
  }

  clear(): void {
    this.history.clear();
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  private draw(): void {
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const cssW = this.canvas.clientWidth || 300;
    const cssH = this.canvas.clientHeight || 120;
    if (this.canvas.width !== Math.round(cssW * dpr) || this.canvas.height !== Math.round(cssH * dpr)) {
      this.canvas.width = Math.round(cssW * dpr);
      this.canvas.height = Math.round(cssH * dpr);
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const samples = this.history.all();
    const axis = logAxisFor(samples);
    const left = 34;
    const right = 6;
    const top = 6;
    const bottom = 16;
    const pw = cssW - left - right;
    const ph = cssH - top - bottom;
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#8b8f9a';
    if (!axis || samples.length === 0) {
      ctx.fillText('waiting for the first frame…', left, top + ph / 2);
      return;
    }
    // Decade grid lines.
    ctx.strokeStyle = '#2a2d35';
    ctx.lineWidth = 1;
    const decades = axis.hi - axis.lo;
    const every = Math.max(1, Math.ceil(decades / 4));
    for (let d = axis.lo; d <= axis.hi; d += every) {
      const y = top + ph - ((d - axis.lo) / decades) * ph;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + pw, y);
      ctx.stroke();
      ctx.fillText(formatNumber(10 ** d), 2, y + 3);
    }
    const i0 = samples[0].iter;
    const i1 = Math.max(i0 + 1, samples.at(-1)!.iter);
    ctx.fillText(`iter ${i0}`, left, cssH - 3);
    const endLabel = `${i1}`;
    ctx.fillText(endLabel, left + pw - ctx.measureText(endLabel).width, cssH - 3);
    for (const series of LOSS_SERIES) {
      ctx.strokeStyle = COLORS[series];
      ctx.lineWidth = series === 'total' ? 1.8 : 1.2;
      ctx.beginPath();
      let pen = false;
      for (const s of samples) {
        const t = logPosition(axis, s[series]);
        if (t === null) {
          pen = false;
          continue;
        }
        const x = left + ((s.iter - i0) / (i1 - i0)) * pw;
        const y = top + ph - t * ph;
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
    }
  }
}
