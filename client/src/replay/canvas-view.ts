/**
 * The content canvas as it was at a moment of the replay: the content photo (stretched to the
 * canvas size, as the server does) or the background colour, with the strokes drawn on top in
 * document order. Strokes go on their own layer so an eraser (`destination-out`) removes earlier
 * strokes and reveals the photo, never erases the photo itself — the server's rule (S20).
 * The style regions painted with style brushes (C102) go on a third layer, each stroke in its
 * author's colour (as the studio's region overlay, C99), half transparent over the canvas unless
 * hidden.
 */
import { api, type HistoryDocState } from '../../../shared/protocol.ts';
import { colorForName } from '../util/color.ts';

/** Longest side drawn, in canvas pixels (bigger canvases are scaled down). */
const MAX_SIDE = 1024;
/** Opacity of the style regions over the canvas (the studio's overlay uses the same). */
const REGION_ALPHA = 0.45;

export class ReplayCanvas {
  readonly el: HTMLCanvasElement;
  private layer = document.createElement('canvas');
  private regionLayer = document.createElement('canvas');
  /** Whether the style regions are drawn over the canvas (C102). */
  showRegions = true;
  private images = new Map<string, Promise<HTMLImageElement>>();
  private drawId = 0;

  constructor() {
    this.el = document.createElement('canvas');
    this.el.className = 'replay-canvas';
  }

  private image(id: string): Promise<HTMLImageElement> {
    let p = this.images.get(id);
    if (!p) {
      p = new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error(`could not load image ${id.slice(0, 8)}…`));
        img.src = api.image(id);
      });
      p.catch(() => this.images.delete(id));
      this.images.set(id, p);
    }
    return p;
  }

  /** Draws `state`; a later call wins over an earlier one still loading its photo. */
  async draw(state: HistoryDocState, highlight?: ReadonlySet<string>): Promise<void> {
    const id = ++this.drawId;
    const { content, strokes } = state;
    const s = Math.min(1, MAX_SIDE / Math.max(content.width, content.height));
    const w = Math.max(1, Math.round(content.width * s));
    const h = Math.max(1, Math.round(content.height * s));
    let photo: HTMLImageElement | null = null;
    if (content.imageId) {
      try {
        photo = await this.image(content.imageId);
      } catch {
        photo = null;
      }
    }
    if (id !== this.drawId) return;
    for (const c of [this.el, this.layer, this.regionLayer]) {
      if (c.width !== w) c.width = w;
      if (c.height !== h) c.height = h;
    }
    const ctx = this.el.getContext('2d')!;
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = 'source-over';
    ctx.fillStyle = content.background;
    ctx.fillRect(0, 0, w, h);
    if (photo) ctx.drawImage(photo, 0, 0, w, h);

    const lc = this.layer.getContext('2d')!;
    lc.clearRect(0, 0, w, h);
    lc.lineCap = 'round';
    lc.lineJoin = 'round';
    for (const st of strokes) {
      const p = st.points;
      if (p.length < 2 || st.opacity <= 0) continue;
      lc.globalCompositeOperation = st.tool === 'eraser' ? 'destination-out' : 'source-over';
      lc.globalAlpha = st.opacity;
      lc.strokeStyle = st.color;
      lc.fillStyle = st.color;
      lc.lineWidth = Math.max(0.5, st.size * s);
      lc.beginPath();
      if (p.length === 2) {
        lc.arc(p[0] * s, p[1] * s, (st.size * s) / 2, 0, Math.PI * 2);
        lc.fill();
        continue;
      }
      lc.moveTo(p[0] * s, p[1] * s);
      for (let i = 2; i < p.length; i += 2) lc.lineTo(p[i] * s, p[i + 1] * s);
      lc.stroke();
    }
    lc.globalCompositeOperation = 'source-over';
    lc.globalAlpha = 1;
    ctx.drawImage(this.layer, 0, 0);

    if (this.showRegions && state.regions?.length) {
      const rc = this.regionLayer.getContext('2d')!;
      rc.clearRect(0, 0, w, h);
      rc.lineCap = 'round';
      rc.lineJoin = 'round';
      for (const r of state.regions) {
        // Later strokes cover earlier ones and the region eraser gives the area back (S34).
        rc.globalCompositeOperation = r.tool === 'eraser' ? 'destination-out' : 'source-over';
        const color = r.tool === 'eraser' ? '#ffffff' : colorForName(r.author || 'Anonymous');
        paintPath(rc, r.points, r.size, s, color);
      }
      rc.globalCompositeOperation = 'source-over';
      ctx.globalAlpha = REGION_ALPHA;
      ctx.drawImage(this.regionLayer, 0, 0);
      ctx.globalAlpha = 1;
    }

    // Outline the strokes the current edit touched, so "who did what" is visible on the canvas.
    if (highlight?.size) {
      ctx.save();
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.5;
      for (const st of strokes) {
        if (!highlight.has(st.id) || st.points.length < 4) continue;
        ctx.beginPath();
        ctx.moveTo(st.points[0] * s, st.points[1] * s);
        for (let i = 2; i < st.points.length; i += 2) ctx.lineTo(st.points[i] * s, st.points[i + 1] * s);
        ctx.stroke();
      }
      ctx.restore();
    }
  }
}

/** A round-brush path of flat points (content pixels) scaled by `s`; one point is a dot. */
function paintPath(c: CanvasRenderingContext2D, p: readonly number[], size: number, s: number, color: string): void {
  if (p.length < 2) return;
  c.strokeStyle = color;
  c.fillStyle = color;
  c.lineWidth = Math.max(0.5, size * s);
  c.beginPath();
  if (p.length === 2) {
    c.arc(p[0] * s, p[1] * s, (size * s) / 2, 0, Math.PI * 2);
    c.fill();
    return;
  }
  c.moveTo(p[0] * s, p[1] * s);
  for (let i = 2; i < p.length; i += 2) c.lineTo(p[i] * s, p[i + 1] * s);
  c.stroke();
}
