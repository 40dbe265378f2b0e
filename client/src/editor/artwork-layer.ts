/**
 * The artwork as the optimizer sees it: background colour, content photo, and every stroke on
 * top, in content-pixel coordinates. Strokes are drawn into a render texture so the eraser's
 * 'erase' blend removes paint only (revealing the photo), never the photo itself. Used by the
 * content canvas and by the "before" half of the output split view.
 */
import { Container, Graphics, Sprite, RenderTexture, type Renderer, type Texture } from 'pixi.js';
import { DEFAULT_CONTENT, type ContentEntry, type Stroke } from '../../../shared/schema.ts';
import { hexToNumber } from '../util/color.ts';
import { imageUrl } from '../net/api.ts';
import { loadBitmap, textureFromBitmap } from '../ui/pixi-app.ts';
import { DrawnStrokes } from './drawn-strokes.ts';

/** Longest side of the stroke render texture; larger content is drawn at reduced resolution. */
const MAX_RT_SIDE = 2048;

export class ArtworkLayer {
  /** Local coordinates are content pixels. */
  readonly view = new Container();
  private readonly background = new Graphics();
  private readonly photo = new Sprite();
  private readonly strokesSprite = new Sprite();
  private readonly strokesRoot = new Container();
  private rt: RenderTexture | null = null;
  private rtScale = 1;
  private readonly drawn = new DrawnStrokes<Stroke>(
    (s) => `${s.tool}|${s.color}|${s.size}|${s.opacity}|${s.points.length}|${s.points.at(-2)}|${s.points.at(-1)}`,
    drawStroke,
  );
  private live: Stroke | null = null;
  private lastStrokes: readonly Stroke[] = [];
  private liveG = new Graphics();
  private dirty = true;
  private content: ContentEntry = { ...DEFAULT_CONTENT };
  private photoId: string | undefined;
  private photoTexture: Texture | null = null;
  private photoRequest = 0;
  /** Called when the content photo finished loading (so owners can re-render). */
  onChange: () => void = () => {};

  constructor(private readonly renderer: Renderer) {
    this.view.addChild(this.background, this.photo, this.strokesSprite);
  }

  get width(): number {
    return this.content.width;
  }
  get height(): number {
    return this.content.height;
  }

  setContent(c: ContentEntry): void {
    const sizeChanged = c.width !== this.content.width || c.height !== this.content.height;
    this.content = c;
    this.background.clear().rect(0, 0, c.width, c.height).fill(hexToNumber(c.background));
    this.photo.width = c.width;
    this.photo.height = c.height;
    if (sizeChanged || !this.rt) this.allocateTarget();
    if (c.imageId !== this.photoId) this.loadPhoto(c.imageId);
    else if (this.photoTexture) {
      this.photo.setSize(c.width, c.height);
    }
    this.dirty = true;
  }

  /** Sets every committed stroke; unchanged strokes keep their geometry. Returns whether anything changed. */
  setStrokes(strokes: readonly Stroke[]): boolean {
    this.lastStrokes = strokes;
    const changed = this.drawn.update(strokes, this.live?.id); // the live stroke is drawn from the local copy
    // Re-rendering the stroke texture is the expensive part: only when something changed.
    if (changed) this.dirty = true;
    return changed;
  }

  /** The stroke being drawn locally, rendered immediately (before the doc round-trip). */
  setLiveStroke(s: Stroke | null): void {
    const wasErasing = this.live?.tool === 'eraser';
    const hadLive = this.live !== null;
    this.live = s;
    if (s) drawStroke(this.liveG.clear(), s);
    // A live brush stroke is drawn straight over the stroke texture (cheap, no re-render);
    // a live eraser must erase inside the texture, so it is rendered into it.
    const erasing = s?.tool === 'eraser';
    if (s && !erasing) {
      if (this.liveG.parent !== this.view) this.view.addChild(this.liveG);
    } else if (this.liveG.parent === this.view) this.view.removeChild(this.liveG);
    this.liveG.visible = s !== null;
    if (erasing || wasErasing) this.dirty = true;
    // The finished stroke is now drawn from the document copy, which setStrokes skipped.
    if (!s && hadLive) {
      this.setStrokes(this.lastStrokes);
      this.dirty = true;
    }
  }

  /** Re-renders the stroke texture if anything changed. Call once per animation frame. */
  update(): boolean {
    if (!this.dirty || !this.rt) return false;
    this.dirty = false;
    this.strokesRoot.removeChildren();
    for (const g of this.drawn.graphics()) this.strokesRoot.addChild(g);
    if (this.live?.tool === 'eraser') this.strokesRoot.addChild(this.liveG);
    this.strokesRoot.scale.set(this.rtScale);
    this.renderer.render({ container: this.strokesRoot, target: this.rt, clear: true, clearColor: [0, 0, 0, 0] });
    return true;
  }

  destroy(): void {
    this.photoRequest++;
    this.drawn.destroy();
    this.liveG.destroy();
    this.photoTexture?.destroy(true);
    this.rt?.destroy(true);
    this.view.destroy({ children: true });
  }

  private allocateTarget(): void {
    const { width, height } = this.content;
    this.rtScale = Math.min(1, MAX_RT_SIDE / Math.max(width, height));
    destroyLater(this.rt);
    this.rt = RenderTexture.create({
      width: Math.max(1, Math.round(width * this.rtScale)),
      height: Math.max(1, Math.round(height * this.rtScale)),
      antialias: true,
    });
    this.strokesSprite.texture = this.rt;
    this.strokesSprite.scale.set(1 / this.rtScale);
    this.dirty = true;
  }

  private loadPhoto(imageId: string | undefined): void {
    this.photoId = imageId;
    const req = ++this.photoRequest;
    const old = this.photoTexture;
    if (!imageId) {
      this.photo.visible = false;
      this.photoTexture = null;
      destroyLater(old);
      return;
    }
    loadBitmap(imageUrl(imageId))
      .then((bmp) => {
        if (req !== this.photoRequest) return bmp.close();
        const tex = textureFromBitmap(bmp);
        tex.once('destroy', () => bmp.close());
        this.photo.texture = tex;
        this.photo.setSize(this.content.width, this.content.height);
        this.photo.visible = true;
        this.photoTexture = tex;
        destroyLater(old);
        this.onChange();
      })
      .catch(() => {
        if (req === this.photoRequest) this.photo.visible = false;
      });
  }
}

/**
 * Destroys a texture that was just swapped out once the next renders are past it (Pixi 8 may
 * still reference it in reused draw instructions; see TextureTrash).
 */
function destroyLater(t: Texture | RenderTexture | null | undefined): void {
  if (t) setTimeout(() => t.destroy(true), 1000);
}

/** Draws one stroke as the engine rasterises it: round caps and joins, eraser = erase blend. */
export function drawStroke(g: Graphics, s: Stroke): void {
  const p = s.points;
  g.blendMode = s.tool === 'eraser' ? 'erase' : 'normal';
  const color = s.tool === 'eraser' ? 0xffffff : hexToNumber(s.color);
  if (p.length < 2) return;
  if (p.length === 2) {
    g.circle(p[0], p[1], s.size / 2).fill({ color, alpha: s.opacity });
    return;
  }
  g.moveTo(p[0], p[1]);
  for (let i = 2; i < p.length; i += 2) g.lineTo(p[i], p[i + 1]);
  g.stroke({ width: s.size, color, alpha: s.opacity, cap: 'round', join: 'round' });
}
