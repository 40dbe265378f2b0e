/**
 * The style regions over the content canvas (C99): every style-brush stroke in its author's
 * presence colour, later strokes over earlier ones, the region eraser erasing, drawn into one
 * render texture shown half transparent, so the photo stays readable under it. It can be shown
 * or hidden (R); it is never part of the artwork, the output or the projector.
 */
import { Container, Graphics, RenderTexture, Sprite, type Renderer } from 'pixi.js';
import type { RegionStroke } from '../../../shared/schema.ts';
import { colorForName, hexToNumber } from '../util/color.ts';
import { DrawnStrokes } from './drawn-strokes.ts';

/** Longest side of the overlay texture (the overlay is a guide; it needs no more). */
const MAX_RT_SIDE = 1024;
/** Opacity of the overlay over the artwork. */
export const OVERLAY_ALPHA = 0.45;

export class RegionOverlay {
  /** Local coordinates are content pixels. */
  readonly view = new Container();
  private readonly sprite = new Sprite();
  private readonly root = new Container();
  private readonly liveG = new Graphics();
  private rt: RenderTexture | null = null;
  private rtScale = 1;
  private size = { width: 0, height: 0 };
  private readonly drawn = new DrawnStrokes<RegionStroke>(
    (r) => `${r.tool}|${r.author}|${r.size}|${r.points.length}|${r.points.at(-2)}|${r.points.at(-1)}`,
    drawRegion,
  );
  private live: RegionStroke | null = null;
  private last: readonly RegionStroke[] = [];
  private dirty = true;

  constructor(private readonly renderer: Renderer) {
    this.sprite.alpha = OVERLAY_ALPHA;
    this.view.addChild(this.sprite);
  }

  get visible(): boolean {
    return this.view.visible;
  }
  set visible(v: boolean) {
    this.view.visible = v;
  }

  setSize(width: number, height: number): void {
    if (width === this.size.width && height === this.size.height && this.rt) return;
    this.size = { width, height };
    this.rtScale = Math.min(1, MAX_RT_SIDE / Math.max(width, height));
    const old = this.rt;
    this.rt = RenderTexture.create({ width: Math.max(1, Math.round(width * this.rtScale)), height: Math.max(1, Math.round(height * this.rtScale)), antialias: true });
    this.sprite.texture = this.rt;
    this.sprite.scale.set(1 / this.rtScale);
    if (old) setTimeout(() => old.destroy(true), 1000);
    this.dirty = true;
  }

  /** Every committed region stroke; unchanged ones keep their geometry. Returns whether anything changed. */
  setRegions(regions: readonly RegionStroke[]): boolean {
    this.last = regions;
    const changed = this.drawn.update(regions, this.live?.id); // the live stroke is drawn from the local copy
    if (changed) this.dirty = true;
    return changed;
  }

  /** The region stroke being drawn here, shown before the document round trip. */
  setLiveRegion(r: RegionStroke | null): void {
    const had = this.live !== null;
    this.live = r;
    if (r) drawRegion(this.liveG.clear(), r);
    this.dirty = true;
    if (!r && had) this.setRegions(this.last);
  }

  /** Re-renders the overlay texture if anything changed. */
  update(): boolean {
    if (!this.dirty || !this.rt || !this.view.visible) return false;
    this.dirty = false;
    this.root.removeChildren();
    for (const g of this.drawn.graphics()) this.root.addChild(g);
    if (this.live) this.root.addChild(this.liveG);
    this.root.scale.set(this.rtScale);
    this.renderer.render({ container: this.root, target: this.rt, clear: true, clearColor: [0, 0, 0, 0] });
    return true;
  }

  destroy(): void {
    this.drawn.destroy();
    this.liveG.destroy();
    this.rt?.destroy(true);
    this.view.destroy({ children: true });
  }
}

/** The colour a region stroke is shown in: its author's presence colour (C4, derived from the name). */
export const regionColor = (r: Pick<RegionStroke, 'author'>): string => colorForName(r.author || 'Anonymous');

/** One region stroke as the server rasterizes it: round brush, full cover; the eraser erases. */
function drawRegion(g: Graphics, r: RegionStroke): void {
  const p = r.points;
  g.blendMode = r.tool === 'eraser' ? 'erase' : 'normal';
  const color = r.tool === 'eraser' ? 0xffffff : hexToNumber(regionColor(r));
  if (p.length < 2) return;
  if (p.length === 2) {
    g.circle(p[0], p[1], r.size / 2).fill({ color });
    return;
  }
  g.moveTo(p[0], p[1]);
  for (let i = 2; i < p.length; i += 2) g.lineTo(p[i], p[i + 1]);
  g.stroke({ width: r.size, color, cap: 'round', join: 'round' });
}
