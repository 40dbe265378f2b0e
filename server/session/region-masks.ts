/**
 * Region strokes → one mask per painted style, at the working size (S25, S34), for the engine's
 * guided Gram matrices (engine SPEC E34). Region strokes never touch the content image.
 *
 * The masks are painted by the stroke rasterizer itself (rasterize.ts: the same round brush,
 * coverage and budgets as ordinary strokes, incremental repaints, sliced work), three styles per
 * RGB canvas, one per channel, on a black base: a brush stroke of the style in channel c paints
 * the colour with 255 in c and 0 elsewhere, which at coverage a moves that style's mask toward 1
 * and every other style's of the same canvas toward 0; on the other canvases it paints black
 * (their styles give the area up); an eraser paints black everywhere. So later strokes cover
 * earlier ones like paint, and the masks never add up to more than 1 (up to 8-bit rounding).
 */
import type { MaskImage, RgbImage } from '../engine/api.ts';
import type { ContentEntry, RegionStroke, Stroke } from '../../shared/schema.ts';
import { regionStrokePoints } from '../../shared/region-strokes.ts';
import { CanvasComposer, solidImage } from './rasterize.ts';
import { workingSize } from './canvas-builder.ts';

/** One painted style: its image id and its mask at the working size (non-empty). */
export interface BuiltRegion {
  style: string;
  mask: MaskImage;
}

const CHANNEL_COLORS = ['#ff0000', '#00ff00', '#0000ff'];
const BLACK = '#000000';

/** The distinct styles of the brush strokes, in order of first use. */
export function regionStyles(regions: readonly RegionStroke[]): string[] {
  const out: string[] = [];
  for (const r of regions) if (r.tool === 'brush' && r.style && !out.includes(r.style)) out.push(r.style);
  return out;
}

export class RegionMaskBuilder {
  private composers: CanvasComposer[] = [];
  private base: RgbImage | null = null;
  /** Each region stroke as one ordinary stroke per canvas, cached per stroke and style layout. */
  private mapped = new WeakMap<RegionStroke, { layout: string; strokes: Stroke[] }>();

  /** Pixels the last build painted (all canvases), for the paint-rate budget (S24). */
  lastPaintCost = 0;

  /**
   * The masks of the styles painted by `regions` (those whose mask is not empty), at the working
   * size of `content` for `resolution`. Sliced like the canvas (yields to the event loop); null
   * when `cancelled()` turned true meanwhile.
   */
  async build(content: ContentEntry, regions: readonly RegionStroke[], resolution?: number, cancelled: () => boolean = () => false): Promise<BuiltRegion[] | null> {
    const styles = regionStyles(regions);
    this.lastPaintCost = 0;
    if (styles.length === 0) return [];
    const size = workingSize(content, resolution);
    if (!this.base || this.base.width !== size.width || this.base.height !== size.height) this.base = solidImage(size.width, size.height, BLACK);
    const canvases = Math.ceil(styles.length / 3);
    while (this.composers.length < canvases) this.composers.push(new CanvasComposer());
    this.composers.length = canvases;
    const layout = styles.join(',');
    const perCanvas: Stroke[][] = Array.from({ length: canvases }, () => []);
    for (const r of regions) {
      let m = this.mapped.get(r);
      if (!m || m.layout !== layout) {
        m = { layout, strokes: Array.from({ length: canvases }, (_, k) => this.asStroke(r, styles, k)) };
        this.mapped.set(r, m);
      }
      m.strokes.forEach((s, k) => perCanvas[k].push(s));
    }
    const out: BuiltRegion[] = [];
    for (let k = 0; k < canvases; k++) {
      const img = await this.composers[k].composeSliced(this.base, perCanvas[k], size.scale, cancelled);
      if (!img) return null;
      this.lastPaintCost += this.composers[k].lastCost;
      for (let c = 0; c < 3 && 3 * k + c < styles.length; c++) {
        const data = new Uint8Array(img.width * img.height);
        let any = 0;
        for (let i = 0; i < data.length; i++) any |= data[i] = img.data[3 * i + c];
        if (any) out.push({ style: styles[3 * k + c], mask: { width: img.width, height: img.height, data } });
      }
    }
    return out;
  }

  /** Region stroke `r` as an ordinary stroke on canvas `k` (see the module comment). */
  private asStroke(r: RegionStroke, styles: readonly string[], k: number): Stroke {
    const slot = r.tool === 'brush' && r.style ? styles.indexOf(r.style) : -1;
    const color = slot >= 0 && Math.floor(slot / 3) === k ? CHANNEL_COLORS[slot % 3] : BLACK;
    return { id: r.id, author: r.author, tool: 'brush', color, size: r.size, opacity: 1, points: regionStrokePoints(r) };
  }
}
