/**
 * The optimization's targets, computed lazily and cached by key (SPEC E3): the content image at
 * the working size, content features (one set per random shift, E25), per-style Gram matrices and
 * colour moments, and their weighted blend (E4, E26). The transfer asks for what the next step
 * needs; a key that did not change costs nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNetwork, LayerWeight, RgbImage, StyleInput, TransferInputs } from './api.ts';
import type { Preset } from './presets.ts';
import {
  colorMoments,
  contentTargetsOf,
  layoutOf,
  disposeMap,
  gramTargetsOf,
  paletteTargetOf,
  shiftImage,
  type FeatureTransform,
  type PaletteTarget,
} from './losses.ts';
import { colorStats, luminanceAsRgb, luminanceStats, matchColorHistogram, matchedLuminanceAsRgb, type ColorStats } from './color.ts';
import {
  PALETTE_CELL,
  PALETTE_DIRECTIONS,
  paletteDirections,
  paletteCells,
  slicedPaletteTarget,
  type PaletteSamples,
  type SlicedPaletteTarget,
} from './sliced-palette.ts';
import { imageFingerprint, resizeImage, rgbToTensor, sizeForLongSide } from './tensor-image.ts';

/** How often targets were (re)computed: lets tests and logs verify warm updates. */
export interface TargetCounters {
  /** Content feature targets computed (one per shift in use). */
  contentTargets: number;
  /** Per-style Gram sets computed (one per style image that changed). */
  styleGrams: number;
  /** Blends of the per-style Grams into the style targets. */
  styleBlends: number;
}

/** What the targets depend on, read fresh on every call (the transfer's current state). */
export interface TargetContext {
  readonly inputs: TransferInputs;
  readonly preset: Preset;
  readonly layers: { content: LayerWeight[]; style: LayerWeight[] };
  readonly transform: FeatureTransform;
  readonly size: { width: number; height: number };
}

/** Smallest long side a style image is scaled to, whatever its scale. */
const MIN_STYLE_SIDE = 16;

/** Content feature sets kept for different shifts (E25): the shift schedule cycles through 16. */
const MAX_SHIFTED_CONTENT_TARGETS = 16;

/** Images are identified by content (see imageFingerprint), so re-sent copies hit the caches. */
export const imageId = imageFingerprint;

const colorStatsCache = new Map<string, ColorStats>();
function cachedColorStats(img: RgbImage): ColorStats {
  const key = imageId(img);
  let s = colorStatsCache.get(key);
  if (!s) {
    s = colorStats(img);
    if (colorStatsCache.size >= 64) colorStatsCache.delete(colorStatsCache.keys().next().value!);
    colorStatsCache.set(key, s);
  }
  return s;
}

const layersKey = (ls: readonly LayerWeight[]): string => ls.map((l) => l.layer).join(',');

interface StyleEntry {
  grams: Map<string, tf.Tensor2D>;
  /** Raw colour moments of the prepared style image (palette term). */
  moments: { mean: tf.Tensor1D; second: tf.Tensor2D };
  /** Its 4×4-cell colours (sliced palette term), and the same on the host once read back. */
  cells: tf.Tensor2D;
  samples: PaletteSamples | null;
}

export interface StyleTargets {
  grams: Map<string, tf.Tensor2D>;
  palette: PaletteTarget;
  /** The styles with their weights, for {@link TransferTargets.slicedPalette}. */
  paletteStyles: { entry: StyleEntry; weight: number }[];
}

export class TransferTargets {
  readonly counters: TargetCounters = { contentTargets: 0, styleGrams: 0, styleBlends: 0 };
  private content: { key: string; tensor: tf.Tensor4D } | null = null;
  private layout: { key: string; tensor: tf.Tensor4D } | null = null;
  /** Content features per shift ("dy,dx"), all under the same `contentKey`. */
  private contentSets: { key: string; byShift: Map<string, Map<string, tf.Tensor4D>> } | null = null;
  private styles = new Map<string, StyleEntry>();
  private blend: { key: string; targets: StyleTargets | null } | null = null;
  /** The sliced palette target of the current blend, for an output of `cells` cells. */
  private sliced: { blendKey: string; cells: number; target: SlicedPaletteTarget } | null = null;

  constructor(
    private readonly network: FeatureNetwork,
    private readonly ctx: () => TargetContext,
  ) {}

  /** The content image at the working size, colours as given. Cached; owned here. */
  contentImage(): tf.Tensor4D {
    const { inputs, size, preset } = this.ctx();
    const key = `${imageId(inputs.content)}|${size.width}x${size.height}|${preset.resize.antialias}`;
    if (this.content?.key === key) return this.content.tensor;
    const tensor = loadResized(inputs.content, size, preset.resize.antialias);
    this.content?.tensor.dispose();
    this.content = { key, tensor };
    return tensor;
  }

  /** The content's coarse luminance layout (losses.ts layoutOf), owned here. */
  layoutTarget(): tf.Tensor4D {
    const image = this.contentImage();
    if (this.layout?.key === this.content!.key) return this.layout.tensor;
    this.layout?.tensor.dispose();
    this.layout = { key: this.content!.key, tensor: layoutOf(image) };
    return this.layout.tensor;
  }

  /** Content feature targets of the content image shifted by (dy, dx) (E25). Owned here. */
  contentTargets(dy = 0, dx = 0): Map<string, tf.Tensor4D> {
    const { inputs, layers, transform } = this.ctx();
    const p = inputs.params;
    const image = this.contentImage();
    const key = [this.content!.key, p.pooling, transform, p.colors === 'luminance', layersKey(layers.content)].join('|');
    if (this.contentSets?.key !== key) {
      this.disposeContentSets();
      this.contentSets = { key, byShift: new Map() };
    }
    const shiftKey = `${dy},${dx}`;
    const cached = this.contentSets.byShift.get(shiftKey);
    if (cached) return cached;
    const seen = tf.tidy(() => {
      const shifted = shiftImage(image, dy, dx);
      return p.colors === 'luminance' ? luminanceAsRgb(shifted) : shifted === image ? tf.clone(image) : shifted;
    });
    const map = contentTargetsOf(this.network, seen, layers.content, p.pooling, transform);
    seen.dispose();
    const sets = this.contentSets.byShift;
    if (sets.size >= MAX_SHIFTED_CONTENT_TARGETS) {
      const oldest = sets.keys().next().value!;
      disposeMap(sets.get(oldest));
      sets.delete(oldest);
    }
    sets.set(shiftKey, map);
    this.counters.contentTargets += 1;
    return map;
  }

  /**
   * E4: blended Gram targets A = Σᵢ wᵢ Gᵢ / Σᵢ wᵢ over styles with wᵢ > 0 (the Gram of the weighted
   * mixture of the styles' feature distributions), and the palette of the same mixture (E26).
   * Null when no style has weight.
   */
  styleTargets(): StyleTargets | null {
    const { inputs, layers } = this.ctx();
    const active = inputs.styles.filter((s) => s.weight > 0);
    const keys = active.map((s) => this.styleKey(s));
    const blendKey = active.map((s, i) => `${keys[i]}*${s.weight}`).join(';');
    if (this.blend?.key === blendKey) return this.blend.targets;

    const live = new Map<string, StyleEntry>();
    active.forEach((s, i) => {
      const key = keys[i];
      live.set(key, this.styles.get(key) ?? live.get(key) ?? this.computeStyle(s));
    });
    for (const [key, entry] of this.styles) if (!live.has(key)) disposeStyle(entry);
    this.styles = live;

    let targets: StyleTargets | null = null;
    if (active.length > 0) {
      const total = active.reduce((sum, s) => sum + s.weight, 0);
      const grams = new Map<string, tf.Tensor2D>();
      for (const { layer } of layers.style) {
        if (grams.has(layer)) continue;
        const blended = tf.tidy(() =>
          active.reduce<tf.Tensor2D>(
            (acc, s, i) => tf.add(acc, tf.mul(live.get(keys[i])!.grams.get(layer)!, s.weight / total)),
            tf.zerosLike(live.get(keys[0])!.grams.get(layer)!),
          ),
        );
        grams.set(layer, blended);
      }
      const palette = paletteTargetOf(active.map((s, i) => ({ ...live.get(keys[i])!.moments, weight: s.weight })));
      const paletteStyles = active.map((s, i) => ({ entry: live.get(keys[i])!, weight: s.weight }));
      targets = { grams, palette, paletteStyles };
    }
    this.disposeBlend();
    this.blend = { key: blendKey, targets };
    this.counters.styleBlends += 1;
    return targets;
  }

  /**
   * Reads the styles' cell colours back to the host without blocking (webgpu has no synchronous
   * read), so that {@link slicedPalette} finds them. Call before building an objective.
   */
  async preparePalette(): Promise<void> {
    const targets = this.styleTargets();
    for (const { entry } of targets?.paletteStyles ?? []) {
      if (!entry.samples) entry.samples = { cells: (await entry.cells.data()) as Float32Array, count: entry.cells.shape[0] };
    }
  }

  /**
   * E26: the sorted target of the sliced palette term for the current styles and working size
   * (sliced-palette.ts), or null without active styles. Cached until either changes.
   */
  slicedPalette(): SlicedPaletteTarget | null {
    const targets = this.styleTargets();
    if (!targets) return null;
    const { size } = this.ctx();
    const cell = Math.min(PALETTE_CELL, size.width, size.height);
    const cells = Math.floor(size.width / cell) * Math.floor(size.height / cell);
    if (this.sliced?.blendKey === this.blend!.key && this.sliced.cells === cells) return this.sliced.target;
    this.disposeSliced();
    const target = {
      directions: tf.tensor2d(paletteDirections(), [3, PALETTE_DIRECTIONS]),
      sorted: slicedPaletteTarget(
        // Read synchronously only when preparePalette() did not run first (cpu/wasm diagnostics).
        targets.paletteStyles.map(({ entry, weight }) => ({ samples: (entry.samples ??= samplesNow(entry.cells)), weight })),
        cells,
      ),
    };
    this.sliced = { blendKey: this.blend!.key, cells, target };
    return target;
  }

  dispose(): void {
    this.disposeSliced();
    this.content?.tensor.dispose();
    this.content = null;
    this.layout?.tensor.dispose();
    this.layout = null;
    this.disposeContentSets();
    for (const s of this.styles.values()) disposeStyle(s);
    this.styles.clear();
    this.disposeBlend();
  }

  private disposeContentSets(): void {
    for (const m of this.contentSets?.byShift.values() ?? []) disposeMap(m);
    this.contentSets = null;
  }

  private disposeSliced(): void {
    if (this.sliced) tf.dispose([this.sliced.target.directions, this.sliced.target.sorted]);
    this.sliced = null;
  }

  private disposeBlend(): void {
    const t = this.blend?.targets;
    if (t) {
      disposeMap(t.grams);
      tf.dispose([t.palette.mean, t.palette.covSqrt]);
    }
    this.blend = null;
  }

  private styleKey(style: StyleInput): string {
    const { inputs, preset, layers, transform } = this.ctx();
    const { params, content } = inputs;
    return [
      imageId(style.image),
      style.scale,
      params.resolution,
      params.pooling,
      transform,
      params.colors,
      params.colors === 'style' ? '' : imageId(content), // colour modes match the style to the content
      preset.resize.rounding,
      preset.resize.antialias,
      layersKey(layers.style),
    ].join('|');
  }

  private computeStyle(style: StyleInput): StyleEntry {
    const { inputs, preset, layers, transform } = this.ctx();
    const { params, content } = inputs;
    const side = Math.max(MIN_STYLE_SIDE, Math.round(style.scale * params.resolution));
    const size = sizeForLongSide(style.image.width, style.image.height, side, preset.resize.rounding);
    const prepared = tf.tidy(() => {
      const resized = loadResized(style.image, size, preset.resize.antialias);
      if (params.colors === 'histogram') {
        return matchColorHistogram(resized, cachedColorStats(style.image), cachedColorStats(content));
      }
      if (params.colors === 'luminance') {
        return matchedLuminanceAsRgb(resized, luminanceStats(style.image), luminanceStats(content));
      }
      return resized;
    });
    try {
      this.counters.styleGrams += 1;
      return {
        grams: gramTargetsOf(this.network, prepared, layers.style, params.pooling, transform),
        moments: colorMoments(prepared),
        cells: paletteCells(prepared),
        samples: null,
      };
    } finally {
      prepared.dispose();
    }
  }
}

function disposeStyle(s: StyleEntry): void {
  disposeMap(s.grams);
  tf.dispose([s.moments.mean, s.moments.second, s.cells]);
}

function samplesNow(cells: tf.Tensor2D): PaletteSamples {
  return { cells: cells.dataSync() as Float32Array, count: cells.shape[0] };
}

function loadResized(img: RgbImage, size: { width: number; height: number }, antialias: boolean): tf.Tensor4D {
  const raw = rgbToTensor(img);
  try {
    return resizeImage(raw, size.height, size.width, { antialias });
  } finally {
    raw.dispose();
  }
}
