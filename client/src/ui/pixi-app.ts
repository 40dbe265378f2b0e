/**
 * PixiJS application setup shared by the content canvas, the output view and the projector:
 * WebGL (the most widely available renderer; WebGPU is opt-in in Pixi 8), sized to its host
 * element, crisp on high-DPI screens. Also the two image helpers every view needs.
 *
 * Units (C92): everything the views lay out is in CSS pixels. Pixi 8 with `autoDensity` keeps the
 * canvas backing store at CSS size × `resolution` and maps stage coordinates 1:1 to CSS pixels,
 * so a view's size is {@link viewSize} (`app.screen`, CSS pixels) and never
 * `renderer.width / resolution` (`renderer.width` is already in CSS pixels in Pixi 8: dividing
 * again drew the artwork at half size in the top-left corner at device pixel ratio 2).
 */
import 'pixi.js/unsafe-eval'; // the server's CSP forbids eval; Pixi then needs its no-eval shader/uniform code
import { Application, Texture, ImageSource } from 'pixi.js';

/**
 * Backing-store pixels per CSS pixel: the device pixel ratio, capped at 2. At 3 (many phones)
 * a full-resolution canvas costs 2.25× the fill of 2 for no visible gain here: frames are at
 * most 2048 px and usually 256–512 px, so they are upscaled on a phone either way.
 */
export function renderResolution(dpr = window.devicePixelRatio || 1): number {
  return Math.min(2, Math.max(1, dpr));
}

/** The view's size in CSS pixels: the coordinate space of the stage and of pointer events. */
export function viewSize(app: Application): { width: number; height: number } {
  return { width: app.screen.width, height: app.screen.height };
}

/** What {@link destroyPixiApp} releases besides the app: its resize observer and DPR watcher. */
const releasers = new WeakMap<Application, () => void>();

export async function createPixiApp(host: HTMLElement, background: string): Promise<Application> {
  const app = new Application();
  await app.init({
    preference: 'webgl',
    background,
    antialias: true,
    autoDensity: true,
    resolution: renderResolution(),
    resizeTo: host,
    preserveDrawingBuffer: false,
    // Rendering is on demand (see RenderScheduler): an idle studio costs no CPU/GPU.
    autoStart: false,
    sharedTicker: false,
  });
  app.canvas.classList.add('pixi-canvas');
  host.appendChild(app.canvas);
  // Pixi follows window resizes only; panels also change size with the layout.
  const observer = new ResizeObserver(() => {
    if (!app.renderer) return observer.disconnect(); // destroyed
    app.resize();
  });
  observer.observe(host);
  const dprWatch = new AbortController();
  followDevicePixelRatio(app, dprWatch.signal);
  releasers.set(app, () => {
    observer.disconnect();
    dprWatch.abort();
  });
  return app;
}

/** Destroys an app made by {@link createPixiApp} with everything it watches (views call this on unmount). */
export function destroyPixiApp(app: Application): void {
  releasers.get(app)?.();
  releasers.delete(app);
  app.destroy(true, { children: true });
}

/**
 * The device pixel ratio changes when the window moves to another screen or the page is zoomed;
 * the backing store follows (the layout, in CSS pixels, does not change).
 */
function followDevicePixelRatio(app: Application, signal: AbortSignal): void {
  const watch = () => {
    const dpr = window.devicePixelRatio || 1;
    const mq = window.matchMedia(`(resolution: ${dpr}dppx)`);
    mq.addEventListener(
      'change',
      () => {
        if (!app.renderer) return; // destroyed meanwhile
        const r = renderResolution();
        if (r !== app.renderer.resolution) {
          app.renderer.resolution = r;
          app.resize();
        }
        watch();
      },
      { once: true, signal },
    );
  };
  watch();
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
