/**
 * The live output: streamed frames in a PixiJS sprite, with a before/after split. Left of the
 * split line shows the artwork as it goes into the optimizer (content photo + strokes), right
 * of it the current result; both are fitted to the same rectangle (the frame's aspect).
 */
import { Container, Graphics, Sprite, type Application, type Texture } from 'pixi.js';
import type { ContentEntry, Stroke } from '../../../shared/schema.ts';
import { ArtworkLayer } from './artwork-layer.ts';
import { createPixiApp, destroyPixiApp, containRect, textureFromBitmap, RenderScheduler, TextureTrash, viewSize } from '../ui/pixi-app.ts';

export class OutputView {
  private readonly before: ArtworkLayer;
  private readonly beforeMask = new Graphics();
  private readonly result = new Sprite();
  private readonly splitLine = new Graphics();
  private readonly root = new Container();
  private texture: Texture | null = null;
  private bitmap: ImageBitmap | null = null;
  private frameDims: { w: number; h: number } | null = null;
  /** 0 = all result, 1 = all before. */
  private split = 0;
  private needsLayout = true;
  private readonly scheduler: RenderScheduler;
  private readonly trash = new TextureTrash();

  private constructor(readonly app: Application) {
    this.before = new ArtworkLayer(app.renderer);
    this.before.view.mask = this.beforeMask;
    this.root.addChild(this.result, this.before.view, this.beforeMask, this.splitLine);
    app.stage.addChild(this.root);
    this.scheduler = new RenderScheduler(app, () => {
      const trashWaiting = this.trash.nextFrame();
      // The "before" artwork is hidden while the split is closed: don't re-render its strokes.
      if (this.split > 0 || !this.hasFrame) this.before.update();
      if (this.needsLayout) this.layout();
      return trashWaiting;
    });
    app.renderer.on('resize', () => (this.needsLayout = true));
    this.before.onChange = () => this.invalidate();
    this.invalidate();
  }

  private invalidate(): void {
    this.needsLayout = true;
    this.scheduler.invalidate();
  }

  static async create(host: HTMLElement): Promise<OutputView> {
    return new OutputView(await createPixiApp(host, '#0d0e11'));
  }

  /** Size of the frame shown (the optimizer's resolution), or null before the first frame. */
  get frameSize(): { w: number; h: number } | null {
    return this.frameDims;
  }

  get hasFrame(): boolean {
    return this.bitmap !== null;
  }

  /** The newest decoded frame (the view owns and eventually closes it). */
  showFrame(bitmap: ImageBitmap): void {
    const old = this.texture;
    const oldBitmap = this.bitmap;
    this.texture = textureFromBitmap(bitmap);
    this.bitmap = bitmap;
    this.result.texture = this.texture;
    if (!this.frameDims || this.frameDims.w !== bitmap.width || this.frameDims.h !== bitmap.height) {
      this.frameDims = { w: bitmap.width, h: bitmap.height };
    }
    this.invalidate();
    if (old && oldBitmap) old.once('destroy', () => oldBitmap.close());
    this.trash.add(old);
  }

  setContent(c: ContentEntry): void {
    this.before.setContent(c);
    this.invalidate();
  }

  setStrokes(strokes: readonly Stroke[]): void {
    if (this.before.setStrokes(strokes) && (this.split > 0 || !this.hasFrame)) this.scheduler.invalidate();
  }

  /** 0…1: how much of the width shows the "before" artwork. */
  setSplit(fraction: number): void {
    this.split = Math.min(1, Math.max(0, fraction));
    this.invalidate();
  }

  /**
   * The current image as PNG at the frame's own resolution (what the optimizer produced, not
   * the screen's scaled copy).
   */
  async toPng(): Promise<Blob | null> {
    if (!this.bitmap) return null;
    const c = document.createElement('canvas');
    c.width = this.bitmap.width;
    c.height = this.bitmap.height;
    const ctx = c.getContext('2d');
    if (!ctx) return null;
    ctx.drawImage(this.bitmap, 0, 0);
    return new Promise((resolve) => c.toBlob((b) => resolve(b), 'image/png'));
  }

  destroy(): void {
    this.scheduler.destroy();
    this.trash.destroyAll();
    this.before.destroy();
    this.texture?.destroy(true);
    this.bitmap?.close();
    destroyPixiApp(this.app);
  }

  private layout(): void {
    this.needsLayout = false;
    const { width: W, height: H } = viewSize(this.app);
    const aspectW = this.frameDims?.w ?? this.before.width;
    const aspectH = this.frameDims?.h ?? this.before.height;
    const fit = containRect(aspectW, aspectH, W, H, 8);
    const dw = aspectW * fit.scale;
    const dh = aspectH * fit.scale;
    this.result.visible = this.hasFrame;
    this.result.position.set(fit.x, fit.y);
    this.result.setSize(dw, dh);
    this.before.view.position.set(fit.x, fit.y);
    this.before.view.scale.set(dw / this.before.width, dh / this.before.height);
    // Without a frame yet, show the input in full so the panel is not empty.
    const split = this.hasFrame ? this.split : 1;
    this.beforeMask.clear().rect(fit.x, fit.y, dw * split, dh).fill(0xffffff);
    this.splitLine.clear();
    if (this.hasFrame && split > 0 && split < 1) {
      const x = fit.x + dw * split;
      this.splitLine.moveTo(x, fit.y).lineTo(x, fit.y + dh).stroke({ width: 2, color: 0xffffff, alpha: 0.85 });
      this.splitLine.circle(x, fit.y + dh / 2, 7).fill(0xffffff);
    }
  }
}
