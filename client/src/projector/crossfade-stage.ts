/**
 * Fullscreen frame display for the projector: the image is fitted inside the screen (contain,
 * dark background) and each new frame cross-fades over the previous one. A frame that arrives
 * mid-fade finishes the running fade at once, so the newest image is never delayed.
 */
import { Sprite, type Application, type Texture } from 'pixi.js';
import { containRect, createPixiApp, destroyPixiApp, textureFromBitmap, RenderScheduler, TextureTrash, viewSize } from '../ui/pixi-app.ts';

export const CROSSFADE_MS = 350;

export class CrossfadeStage {
  private readonly back = new Sprite();
  private readonly front = new Sprite();
  private backTex: Texture | null = null;
  private frontTex: Texture | null = null;
  private fadeStart = -1;
  private size = { w: 1, h: 1 };
  latest: ImageBitmap | null = null;
  private readonly scheduler: RenderScheduler;
  private readonly trash = new TextureTrash();

  private constructor(readonly app: Application) {
    app.stage.addChild(this.back, this.front);
    this.front.alpha = 0;
    this.scheduler = new RenderScheduler(app, () => {
      const trashWaiting = this.trash.nextFrame();
      this.layout();
      return this.tick() || trashWaiting;
    });
  }

  static async create(host: HTMLElement): Promise<CrossfadeStage> {
    return new CrossfadeStage(await createPixiApp(host, '#000000'));
  }

  show(bitmap: ImageBitmap): void {
    if (this.fadeStart >= 0) this.settle();
    const tex = textureFromBitmap(bitmap);
    // The bitmap lives exactly as long as its texture (it may not be uploaded yet).
    tex.once('destroy', () => bitmap.close());
    this.latest = bitmap;
    this.size = { w: bitmap.width, h: bitmap.height };
    if (!this.backTex) {
      this.backTex = tex;
      this.back.texture = tex;
    } else {
      this.frontTex = tex;
      this.front.texture = tex;
      this.front.alpha = 0;
      this.fadeStart = performance.now();
    }
    this.scheduler.invalidate();
  }

  destroy(): void {
    this.scheduler.destroy();
    this.trash.destroyAll();
    this.backTex?.destroy(true);
    this.frontTex?.destroy(true);
    destroyPixiApp(this.app);
  }

  /** Advances the fade; true while it still runs. */
  private tick(): boolean {
    if (this.fadeStart < 0) return false;
    const t = (performance.now() - this.fadeStart) / CROSSFADE_MS;
    if (t >= 1) {
      this.settle();
      return false;
    }
    this.front.alpha = t * t * (3 - 2 * t); // smoothstep
    return true;
  }

  /** Ends the fade: the front image becomes the back one. */
  private settle(): void {
    if (!this.frontTex) return;
    const old = this.backTex;
    this.backTex = this.frontTex;
    this.back.texture = this.frontTex;
    this.frontTex = null;
    this.front.alpha = 0;
    this.fadeStart = -1;
    this.trash.add(old);
    this.layout();
  }

  private layout(): void {
    const { width: W, height: H } = viewSize(this.app);
    for (const s of [this.back, this.front]) {
      const tw = s.texture.width || this.size.w;
      const th = s.texture.height || this.size.h;
      const fit = containRect(tw, th, W, H);
      s.position.set(fit.x, fit.y);
      s.scale.set(fit.scale);
    }
  }
}
