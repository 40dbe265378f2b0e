/**
 * Turns the validated content entry + strokes into the RGB canvas the engine optimizes toward,
 * and style entries into decoded style inputs. Bases (the resized content photo or a solid
 * background) are cached per session so drawing a stroke costs one rasterization, not a decode.
 */
import sharp from 'sharp';
import type { RgbImage, StyleInput } from '../engine/api.ts';
import type { ContentEntry, Stroke, StyleEntry } from '../../shared/schema.ts';
import type { ImageStore } from '../images/store.ts';
import { CanvasComposer, solidImage } from './rasterize.ts';

/** Resizes to exactly width×height (the content entry's size is the canvas; strokes use its pixels). */
async function resizeExact(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const { data, info } = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export class CanvasBuilder {
  private baseKey = '';
  private base: Promise<RgbImage> | null = null;
  private composer = new CanvasComposer();

  constructor(private images: ImageStore) {}

  /** The canvas: content photo (or background colour) at content size with `strokes` painted on. */
  async build(content: ContentEntry, strokes: readonly Stroke[]): Promise<RgbImage> {
    const key = `${content.imageId ?? content.background}:${content.width}x${content.height}`;
    if (key !== this.baseKey || !this.base) {
      this.baseKey = key;
      this.base = content.imageId
        ? this.images.decode(content.imageId).then((img) => resizeExact(img, content.width, content.height))
        : Promise.resolve(solidImage(content.width, content.height, content.background));
      this.base.catch(() => {
        if (this.baseKey === key) this.base = null;
      });
    }
    const base = await this.base;
    return this.composer.compose(base, strokes);
  }

  /** Decoded style images with their weights and scales. */
  async styles(entries: readonly StyleEntry[]): Promise<StyleInput[]> {
    return Promise.all(entries.map(async (s) => ({ image: await this.images.decode(s.imageId), weight: s.weight, scale: s.scale })));
  }
}

/**
 * Runs an async task so that at most one instance is in flight and a call made while it runs
 * causes exactly one more run afterwards (latest state wins, intermediate ones are skipped).
 * With `minIntervalMs`, runs start at least that far apart: a stroke being drawn changes the
 * document dozens of times a second, and each run re-rasterizes the canvas on the main thread
 * and re-targets the engine's content features, so the rate is bounded rather than the backlog.
 */
export class Coalescer {
  private running: Promise<void> | null = null;
  private again = false;
  private lastStart = -Infinity;

  constructor(
    private task: () => Promise<void>,
    private minIntervalMs = 0,
  ) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const wait = this.lastStart + this.minIntervalMs - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          this.lastStart = performance.now();
          await this.task();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
