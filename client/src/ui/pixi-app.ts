/**
 * PixiJS application setup shared by the content canvas, the output view and the projector:
 * WebGL (the most widely available renderer; WebGPU is opt-in in Pixi 8), sized to its host
 * element, crisp on high-DPI screens. Also the two image helpers every view needs.
 */
import 'pixi.js/unsafe-eval'; // the server's CSP forbids eval; Pixi then needs its no-eval shader/uniform code
import { Application, Texture, ImageSource } from 'pixi.js';

export async function createPixiApp(host: HTMLElement, background: string): Promise<Application> {
  const app = new Application();
  await app.init({
    preference: 'webgl',
    background,
    antialias: true,
    autoDensity: true,
    resolution: Math.min(2, window.devicePixelRatio || 1),
    resizeTo: host,
    preserveDrawingBuffer: false,
    // Rendering is on demand (see RenderScheduler): an idle studio costs no CPU/GPU.
    autoStart: false,
    sharedTicker: false,
  });
  app.canvas.classList.add('pixi-canvas');
  host.appendChild(app.canvas);
  // Pixi follows window resizes only; panels also change size with the layout.
  new ResizeObserver(() => app.resize()).observe(host);
  return app;
}

/**
 * Renders a Pixi application only when something changed. `frame` runs right before each
 * render (layout, texture updates) and returns true while it animates (e.g. a cross-fade).
 * Resizes of the renderer schedule a render by themselves.
 */
export class RenderScheduler {
  private pending = false;
  private destroyed = false;

  constructor(
    private readonly app: Application,
    private readonly frame: (now: number) => boolean,
  ) {
    app.renderer.on('resize', () => this.invalidate());
  }

  invalidate(): void {
    if (this.pending || this.destroyed) return;
    this.pending = true;
    requestAnimationFrame((now) => {
      this.pending = false;
      if (this.destroyed) return;
      const more = this.frame(now);
      this.app.render();
      if (more) this.invalidate();
    });
  }

  destroy(): void {
    this.destroyed = true;
  }
}

/** A texture from decoded pixels, outside Pixi's global cache (we destroy these ourselves). */
export function textureFromBitmap(bitmap: ImageBitmap): Texture {
  return new Texture({ source: new ImageSource({ resource: bitmap, alphaMode: 'premultiply-alpha-on-upload' }) });
}

/** Decodes encoded image bytes (a frame) off the main thread where the browser can. */
export function decodeImage(data: Uint8Array, mime: string): Promise<ImageBitmap> {
  return createImageBitmap(new Blob([data as BlobPart], { type: mime }));
}

/** Fetches and decodes an image by URL (content photos, style thumbnails). */
export async function loadBitmap(url: string): Promise<ImageBitmap> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`image ${url}: ${res.status}`);
  return createImageBitmap(await res.blob());
}

/** Fits a w×h box into a W×H area, centred ("contain"). */
export function containRect(w: number, h: number, W: number, H: number, pad = 0): { x: number; y: number; scale: number } {
  const scale = Math.max(1e-6, Math.min((W - 2 * pad) / w, (H - 2 * pad) / h));
  return { x: (W - w * scale) / 2, y: (H - h * scale) / 2, scale };
}

/**
 * Textures replaced on a sprite are destroyed only after a render has happened without them:
 * Pixi 8 may reuse the previous frame's draw instructions, and a texture destroyed right after
 * the swap fails there ("reading 'addressModeU'"). Call {@link nextFrame} at the start of each
 * frame callback; it returns true while textures still wait (keep rendering until they go).
 */
export class TextureTrash {
  private waiting: Texture[] = [];
  private ready: Texture[] = [];

  add(t: Texture | null | undefined): void {
    if (t) this.waiting.push(t);
  }

  nextFrame(): boolean {
    for (const t of this.ready) t.destroy(true);
    this.ready = this.waiting;
    this.waiting = [];
    return this.ready.length > 0;
  }

  destroyAll(): void {
    for (const t of [...this.ready, ...this.waiting]) t.destroy(true);
    this.ready = [];
    this.waiting = [];
  }
}
