/**
 * Turns the validated content entry + strokes into the RGB canvas the engine optimizes toward,
 * and style entries into decoded style inputs. Bases (the content photo or a solid background)
 * are cached per session so drawing a stroke costs one incremental rasterization, not a decode.
 *
 * Working size (S25): the engine optimizes at `params.resolution` (long side), so the canvas is
 * composed at the content size scaled down to that long side (never up): the photo is decoded
 * straight to that size and strokes are painted in scaled coordinates. A 4096² canvas with
 * resolution 256 costs 256² pixels of memory and painting, not 4096². Style images are decoded
 * to the power-of-two bucket at or above the side the engine resizes them to.
 */
import type { RgbImage, StyleInput } from '../engine/api.ts';
import type { ContentEntry, Stroke, StyleEntry } from '../../shared/schema.ts';
import type { ImageStore } from '../images/store.ts';
import { CanvasComposer, solidImage } from './rasterize.ts';

/** The size the canvas is composed at, and the factor from content pixels to canvas pixels. */
export function workingSize(content: Pick<ContentEntry, 'width' | 'height'>, resolution?: number): { width: number; height: number; scale: number } {
  const long = Math.max(content.width, content.height);
  const scale = resolution ? Math.min(1, resolution / long) : 1;
  return { width: Math.max(1, Math.round(content.width * scale)), height: Math.max(1, Math.round(content.height * scale)), scale };
}

/** Smallest style side the engine uses (engine/transfer.ts MIN_STYLE_SIDE). */
const MIN_STYLE_SIDE = 16;

/** The side the engine resizes a style to: its scale × resolution (at least 16). */
export function styleSide(scale: number, resolution: number): number {
  return Math.max(MIN_STYLE_SIDE, Math.round(scale * resolution));
}

/** Long side a style is decoded at: the power of two at or above {@link styleSide}. */
export function styleDecodeSide(scale: number, resolution: number): number {
  return 2 ** Math.ceil(Math.log2(styleSide(scale, resolution)));
}

export class CanvasBuilder {
  private baseKey = '';
  private base: Promise<RgbImage> | null = null;
  private composer = new CanvasComposer();

  constructor(private images: ImageStore) {}

  /** Pixels the last build painted (strokes' clipped segment areas). */
  get lastPaintCost(): number {
    return this.composer.lastCost;
  }

  /**
   * The canvas: content photo (or background colour) with `strokes` painted on, at the working
   * size for `resolution` (full content size when omitted, as the CLI wants). Painting is sliced
   * (it yields to the event loop); null when `cancelled()` turned true meanwhile.
   */
  async build(content: ContentEntry, strokes: readonly Stroke[], resolution?: number, cancelled?: () => boolean): Promise<RgbImage | null> {
    const size = workingSize(content, resolution);
    const key = `${content.imageId ?? content.background}:${size.width}x${size.height}`;
    if (key !== this.baseKey || !this.base) {
      this.baseKey = key;
      this.base = content.imageId
        ? this.images.decode(content.imageId, { width: size.width, height: size.height })
        : Promise.resolve(solidImage(size.width, size.height, content.background));
      this.base.catch(() => {
        if (this.baseKey === key) this.base = null;
      });
    }
    const base = await this.base;
    return this.composer.composeSliced(base, strokes, size.scale, cancelled);
  }

  /** Decoded style images with their weights and scales, decoded at the size `resolution` needs (full size when omitted). */
  async styles(entries: readonly StyleEntry[], resolution?: number): Promise<StyleInput[]> {
    return Promise.all(
      entries.map(async (s) => ({
        image: await this.images.decode(s.imageId, resolution ? { maxSide: styleDecodeSide(s.scale, resolution) } : undefined),
        weight: s.weight,
        scale: s.scale,
      })),
    );
  }
}

/**
 * Runs an async task so that at most one instance is in flight and a call made while it runs
 * causes exactly one more run afterwards (latest state wins, intermediate ones are skipped).
 * With `minIntervalMs`, runs start at least that far apart: a stroke being drawn changes the
 * document dozens of times a second, and each run re-rasterizes the canvas on the main thread
 * and re-targets the engine's content features, so the rate is bounded rather than the backlog.
 * `extraDelayMs` (read after each run) lengthens the wait after a costly run (paint budget S24).
 */
export class Coalescer {
  private running: Promise<void> | null = null;
  private again = false;
  private lastStart = -Infinity;
  private lastEnd = -Infinity;

  constructor(
    private task: () => Promise<void>,
    private minIntervalMs = 0,
    private extraDelayMs: () => number = () => 0,
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
          const wait = Math.max(this.lastStart + this.minIntervalMs, this.lastEnd + this.extraDelayMs()) - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          this.lastStart = performance.now();
          try {
            await this.task();
          } finally {
            this.lastEnd = performance.now();
          }
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
