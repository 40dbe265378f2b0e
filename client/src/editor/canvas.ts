/**
 * The content canvas: the artwork (photo + strokes) fitted into its panel, the style regions over
 * it (can be hidden), a brush preview under the pointer, and everyone else's live cursors (with
 * the style a person's style brush paints). Input is pointer events (mouse, pen and
 * touch alike; `touch-action: none` on the canvas), reported in content pixels to the painter.
 */
import { Container, Graphics, Sprite, Text, type Application, type Texture } from 'pixi.js';
import type { ContentEntry, RegionStroke, Stroke } from '../../../shared/schema.ts';
import { ArtworkLayer } from './artwork-layer.ts';
import { RegionOverlay } from './region-overlay.ts';
import { createPixiApp, destroyPixiApp, containRect, loadBitmap, RenderScheduler, textureFromBitmap, viewSize } from '../ui/pixi-app.ts';
import { imageUrl } from '../net/api.ts';
import { hexToNumber, contrastText } from '../util/color.ts';

export interface RemoteCursor {
  clientId: number;
  name: string;
  color: string;
  x: number;
  y: number;
  /** The style their style brush paints, if they hold one. */
  style?: string;
}

export interface CanvasInput {
  /** Pointer went down on the artwork; return false to ignore the gesture (read-only, wrong button). */
  start(x: number, y: number): boolean;
  /** Pointer moved while drawing (coalesced events included, in order). */
  move(points: Array<{ x: number; y: number }>): void;
  end(): void;
  /** Pointer position over the artwork for presence, or null when it left. */
  hover(p: { x: number; y: number } | null): void;
}

export class ContentCanvas {
  readonly artwork: ArtworkLayer;
  readonly regions: RegionOverlay;
  private thumbs = new Map<string, Promise<Texture>>();
  private readonly world = new Container();
  private readonly cursors = new Container();
  private readonly brushPreview = new Graphics();
  private readonly border = new Graphics();
  private cursorViews = new Map<number, { root: Container; dot: Graphics; label: Text; key: string }>();
  private fit = { x: 0, y: 0, scale: 1 };
  private brushSize = 8;
  private brushLook = { color: '#000000', eraser: false };
  private drawingPointer: number | null = null;
  private needsLayout = true;
  private readonly scheduler: RenderScheduler;

  private constructor(
    readonly app: Application,
    private readonly input: CanvasInput,
  ) {
    this.artwork = new ArtworkLayer(app.renderer);
    this.regions = new RegionOverlay(app.renderer);
    this.world.addChild(this.border, this.artwork.view, this.regions.view, this.brushPreview, this.cursors);
    app.stage.addChild(this.world);
    this.brushPreview.visible = false;
    this.scheduler = new RenderScheduler(app, () => {
      if (this.needsLayout) this.layout();
      this.artwork.update();
      this.regions.update();
      return false;
    });
    app.renderer.on('resize', () => (this.needsLayout = true));
    this.artwork.onChange = () => this.invalidate(true);
    this.bindPointer(app.canvas);
    this.invalidate(true);
  }

  static async create(host: HTMLElement, input: CanvasInput): Promise<ContentCanvas> {
    const app = await createPixiApp(host, '#15161a');
    return new ContentCanvas(app, input);
  }

  /** Schedules a render (and a re-layout when the geometry changed). */
  invalidate(layout = false): void {
    if (layout) this.needsLayout = true;
    this.scheduler.invalidate();
  }

  setContent(c: ContentEntry): void {
    this.artwork.setContent(c);
    this.regions.setSize(c.width, c.height);
    this.invalidate(true);
  }

  setRegions(regions: readonly RegionStroke[]): void {
    if (this.regions.setRegions(regions)) this.invalidate();
  }

  setLiveRegion(r: RegionStroke | null): void {
    this.regions.setLiveRegion(r);
    this.invalidate();
  }

  /** Shows or hides the style regions (C99). */
  setRegionsVisible(visible: boolean): void {
    this.regions.visible = visible;
    this.invalidate();
  }

  /** A style's thumbnail as a texture (cached; for the cursors of people holding a style brush). */
  private thumb(imageId: string): Promise<Texture> {
    let t = this.thumbs.get(imageId);
    if (!t) {
      t = loadBitmap(imageUrl(imageId)).then(textureFromBitmap);
      t.catch(() => this.thumbs.delete(imageId));
      this.thumbs.set(imageId, t);
    }
    return t;
  }

  setStrokes(strokes: readonly Stroke[]): void {
    if (this.artwork.setStrokes(strokes)) this.invalidate();
  }

  setLiveStroke(s: Stroke | null): void {
    this.artwork.setLiveStroke(s);
    this.invalidate();
  }

  setBrush(size: number, color: string, eraser: boolean): void {
    this.brushSize = size;
    this.brushLook = { color, eraser };
    this.drawBrushPreview();
    this.invalidate();
  }

  private drawBrushPreview(): void {
    const { color, eraser } = this.brushLook;
    this.brushPreview
      .clear()
      .circle(0, 0, this.brushSize / 2)
      .stroke({ width: 1.5 / this.fit.scale, color: eraser ? 0xffffff : hexToNumber(color), alpha: 0.9 });
  }

  setReadOnly(readOnly: boolean): void {
    this.app.canvas.style.cursor = readOnly ? 'default' : 'none';
    if (readOnly) this.brushPreview.visible = false;
    this.invalidate();
  }

  setCursors(list: readonly RemoteCursor[]): void {
    const seen = new Set<number>();
    for (const c of list) {
      seen.add(c.clientId);
      let v = this.cursorViews.get(c.clientId);
      const key = `${c.name}|${c.color}|${c.style ?? ''}`;
      if (!v || v.key !== key) {
        v?.root.destroy({ children: true });
        const root = new Container();
        const dot = new Graphics().circle(0, 0, 5).fill(hexToNumber(c.color)).stroke({ width: 1.5, color: 0xffffff });
        const label = new Text({
          text: c.name,
          style: { fontFamily: 'system-ui, sans-serif', fontSize: 12, fill: contrastText(c.color) },
        });
        const bg = new Graphics().roundRect(0, 0, label.width + 10, label.height + 4, 4).fill(hexToNumber(c.color));
        const tag = new Container();
        tag.addChild(bg, label);
        label.position.set(5, 2);
        tag.position.set(8, 6);
        root.addChild(dot, tag);
        if (c.style) {
          // C100: a style brush shows its style's thumbnail under the name
          const swatch = new Sprite();
          const frame = new Graphics().rect(-1, -1, 22, 22).fill(hexToNumber(c.color));
          const holder = new Container();
          holder.addChild(frame, swatch);
          holder.position.set(8, 8 + label.height + 4);
          root.addChild(holder);
          void this.thumb(c.style).then((tex) => {
            if (swatch.destroyed) return;
            swatch.texture = tex;
            swatch.setSize(20, 20);
            this.invalidate();
          }, () => {});
        }
        this.cursors.addChild(root);
        v = { root, dot, label, key };
        this.cursorViews.set(c.clientId, v);
      }
      v.root.position.set(c.x, c.y);
      v.root.scale.set(1 / this.fit.scale);
    }
    for (const [id, v] of this.cursorViews) {
      if (!seen.has(id)) {
        v.root.destroy({ children: true });
        this.cursorViews.delete(id);
      }
    }
    this.invalidate();
  }

  /** Screen (client) coordinates → content pixels. */
  toContent(clientX: number, clientY: number): { x: number; y: number } {
    const r = this.app.canvas.getBoundingClientRect();
    return { x: (clientX - r.left - this.fit.x) / this.fit.scale, y: (clientY - r.top - this.fit.y) / this.fit.scale };
  }

  destroy(): void {
    this.scheduler.destroy();
    this.artwork.destroy();
    this.regions.destroy();
    destroyPixiApp(this.app);
  }

  private layout(): void {
    this.needsLayout = false;
    const { width: W, height: H } = viewSize(this.app);
    this.fit = containRect(this.artwork.width, this.artwork.height, W, H, 12);
    this.world.position.set(this.fit.x, this.fit.y);
    this.world.scale.set(this.fit.scale);
    this.border
      .clear()
      .rect(-1 / this.fit.scale, -1 / this.fit.scale, this.artwork.width + 2 / this.fit.scale, this.artwork.height + 2 / this.fit.scale)
      .stroke({ width: 1 / this.fit.scale, color: 0x3a3d46 });
    for (const v of this.cursorViews.values()) v.root.scale.set(1 / this.fit.scale);
    this.drawBrushPreview();
  }

  private bindPointer(el: HTMLCanvasElement): void {
    el.style.touchAction = 'none';
    const inside = (p: { x: number; y: number }) =>
      p.x >= -this.brushSize && p.y >= -this.brushSize && p.x <= this.artwork.width + this.brushSize && p.y <= this.artwork.height + this.brushSize;
    el.addEventListener('pointerdown', (e) => {
      if (this.drawingPointer !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
      const p = this.toContent(e.clientX, e.clientY);
      if (!inside(p) || !this.input.start(p.x, p.y)) return;
      this.drawingPointer = e.pointerId;
      el.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    el.addEventListener('pointermove', (e) => {
      const p = this.toContent(e.clientX, e.clientY);
      this.brushPreview.position.set(p.x, p.y);
      this.brushPreview.visible = this.app.canvas.style.cursor === 'none' && inside(p);
      this.invalidate();
      this.input.hover(inside(p) ? p : null);
      if (e.pointerId !== this.drawingPointer) return;
      const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      const pts = (events.length ? events : [e]).map((ev) => this.toContent(ev.clientX, ev.clientY));
      this.input.move(pts);
    });
    const finish = (e: PointerEvent) => {
      if (e.pointerId !== this.drawingPointer) return;
      this.drawingPointer = null;
      if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      this.input.end();
    };
    el.addEventListener('pointerup', finish);
    el.addEventListener('pointercancel', finish);
    el.addEventListener('pointerleave', () => {
      this.brushPreview.visible = false;
      this.invalidate();
      if (this.drawingPointer === null) this.input.hover(null);
    });
  }
}
