/**
 * The optimization's targets, computed lazily and cached by key (SPEC E3): the content image at
 * the working size, content features (one set per random shift, E25), per-style Gram matrices and
 * colour moments, and their weighted blend (E4, E26). The transfer asks for what the next step
 * needs; a key that did not change costs nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNetwork, LayerWeight, RgbImage, StyleInput, StyleRegion, TransferInputs } from './api.ts';
import type { Preset } from './presets.ts';
import {
  colorMoments,
  contentTargetsOf,
  layoutOf,
  disposeMap,
  gramTargetsOf,
  paletteTargetOf,
  shiftImage,
  targetEnergy,
  type FeatureTransform,
  type PaletteTarget,
} from './losses.ts';
import type { PaletteStack, SlicedParts } from './guided.ts';
import { colorStats, luminanceAsRgb, luminanceStats, matchColorHistogram, matchedLuminanceAsRgb, type ColorStats } from './color.ts';
import {
  PALETTE_CELL,
  PALETTE_DIRECTIONS,
  paletteDirections,
  paletteCells,
  readPaletteSamples,
  readPaletteSamplesSync,
  slicedPaletteTarget,
  PalettePairing,
  type PaletteSamples,
  type SlicedPaletteTarget,
} from './sliced-palette.ts';
import { imageFingerprint, resizeImage, rgbToTensor, sizeForLongSide } from './tensor-image.ts';
import { maskId, RegionMasks } from './regions.ts';

/** How often targets were (re)computed: lets tests and logs verify warm updates. */
export interface TargetCounters {
  /** Content feature targets computed (one per shift in use). */
  contentTargets: number;
  /** Per-style Gram sets computed (one per style image that changed). */
  styleGrams: number;
  /** Blends of the per-style Grams into the style targets. */
  styleBlends: number;
  /** Region mask sets built (E38: one per change of any region's mask, style set or the size). */
  regionMasks: number;
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
  /** The style's own palette target, made when a region uses it (E37). */
  palette?: PaletteTarget;
  /** Σ A² per layer, made when a region uses it (E34). */
  energy?: Map<string, tf.Scalar>;
}

export interface StyleTargets {
  grams: Map<string, tf.Tensor2D>;
  palette: PaletteTarget;
  /** Σ A² per layer (the relative loss's denominator), made when regions need it (E34). */
  energy?: Map<string, tf.Scalar>;
  /** The styles with their weights, for {@link TransferTargets.slicedPalette}. */
  paletteStyles: { entry: StyleEntry; weight: number }[];
}

/** Targets and masks of painted regions (E34–E38): parts 1…n, part 0 being the unpainted area. */
export interface RegionTargets {
  /** Per region: its style's Grams, their energies and its palette (owned by the style cache). */
  targets: { grams: Map<string, tf.Tensor2D>; energy: Map<string, tf.Scalar>; palette: PaletteTarget }[];
  masks: RegionMasks;
  /** Every part's palette target stacked (part 0: the global blend's, weight 0 without one) (E37). */
  palettes: PaletteStack;
}

/** Σ A² of every Gram of a set (E34: kept with the targets, not recomputed every step). */
export function energiesOf(grams: ReadonlyMap<string, tf.Tensor2D>): Map<string, tf.Scalar> {
  return new Map([...grams].map(([layer, g]) => [layer, targetEnergy(g)]));
}

export class TransferTargets {
  readonly counters: TargetCounters = { contentTargets: 0, styleGrams: 0, styleBlends: 0, regionMasks: 0 };
  private content: { key: string; tensor: tf.Tensor4D } | null = null;
  private layout: { key: string; tensor: tf.Tensor4D } | null = null;
  /** Content features per shift ("dy,dx"), all under the same `contentKey`. */
  private contentSets: { key: string; byShift: Map<string, Map<string, tf.Tensor4D>> } | null = null;
  private styles = new Map<string, StyleEntry>();
  private blend: { key: string; targets: StyleTargets | null } | null = null;
  /** Region masks by their key (the masks' fingerprints and the working size). */
  private regionMasks: RegionMasks | null = null;
  private paletteStack: { key: string; stack: PaletteStack } | null = null;
  /** The sliced palette term's parts (E37), keyed by the palette stack's key and the cell size. */
  private slicedParts: { key: string; parts: SlicedParts; directions: tf.Tensor2D } | null = null;
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

    const live = this.syncStyles();

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
   * E34, E38: the painted regions' targets — each region's style Grams and palette, from the same
   * per-style cache as the global styles (a style used globally and in a region is computed once),
   * and the regions' masks at the working size. Null when there are no regions. A new mask costs a
   * new mask set (host arithmetic), never a Gram.
   */
  regionTargets(): RegionTargets | null {
    const { inputs, size } = this.ctx();
    const regions = inputs.regions ?? [];
    if (regions.length === 0) {
      if (this.regionMasks) {
        this.disposeRegionMasks();
        this.syncStyles(); // frees the styles only regions used
      }
      return null;
    }
    const live = this.syncStyles();
    const targets = regions.map((r) => {
      const entry = live.get(this.styleKey(regionStyle(r)))!;
      entry.palette ??= paletteTargetOf([{ ...entry.moments, weight: 1 }]);
      entry.energy ??= energiesOf(entry.grams);
      return { grams: entry.grams, energy: entry.energy, palette: entry.palette };
    });
    const key = `${size.width}x${size.height}|${regions.map((r) => maskId(r.mask)).join(',')}`;
    if (this.regionMasks?.key !== key) {
      this.disposeRegionMasks();
      this.regionMasks = new RegionMasks(key, regions.map((r) => r.mask), size.width, size.height);
      this.counters.regionMasks += 1;
    }
    const blend = this.styleTargets();
    const paletteKey = `${this.blend?.key}|${key}|${regions.map((r) => this.styleKey(regionStyle(r))).join(';')}`;
    if (this.paletteStack?.key !== paletteKey) {
      this.disposePaletteStack();
      const fractions = this.regionMasks.atPixels().fractions;
      const stack = tf.tidy(() => ({
        mean: tf.stack([blend?.palette.mean ?? tf.zeros([3]), ...targets.map((t) => t.palette.mean)]) as tf.Tensor2D,
        covSqrt: tf.stack([blend?.palette.covSqrt ?? tf.eye(3), ...targets.map((t) => t.palette.covSqrt)]) as tf.Tensor3D,
        weights: tf.tensor1d(fractions.map((f, p) => (p === 0 && !blend ? 0 : f))),
      }));
      this.paletteStack = { key: paletteKey, stack };
    }
    return { targets, masks: this.regionMasks, palettes: this.paletteStack.stack };
  }

  private disposePaletteStack(): void {
    const s = this.paletteStack?.stack;
    if (s) tf.dispose([s.mean, s.covSqrt, s.weights]);
    this.paletteStack = null;
    this.disposeSlicedParts();
  }

  /**
   * The per-style cache brought to the styles in use (global styles with weight > 0 and region
   * styles): computes the missing ones, frees the ones no longer used. Keyed by {@link styleKey}.
   */
  private syncStyles(): Map<string, StyleEntry> {
    const { inputs } = this.ctx();
    const used = [...inputs.styles.filter((s) => s.weight > 0), ...(inputs.regions ?? []).map(regionStyle)];
    const live = new Map<string, StyleEntry>();
    for (const s of used) {
      const key = this.styleKey(s);
      if (!live.has(key)) live.set(key, this.styles.get(key) ?? this.computeStyle(s));
    }
    for (const [key, entry] of this.styles) if (!live.has(key)) disposeStyle(entry);
    this.styles = live;
    return live;
  }

  private disposeRegionMasks(): void {
    this.regionMasks?.dispose();
    this.regionMasks = null;
    this.disposePaletteStack();
  }

  /**
   * Reads the styles' cell colours back to the host without blocking (webgpu has no synchronous
   * read), so that {@link slicedPalette} finds them. Call before building an objective.
   */
  async preparePalette(): Promise<void> {
    const targets = this.styleTargets();
    // Painted regions' styles too (E37): every live style is either blended or painted.
    const entries = (this.ctx().inputs.regions ?? []).length ? [...this.syncStyles().values()] : (targets?.paletteStyles ?? []).map((p) => p.entry);
    for (const entry of entries) {
      if (!entry.samples) entry.samples = await readPaletteSamples(entry.cells);
    }
  }

  /**
   * E37 with the sliced palette distance: per part that owns cells (RegionMasks.atCells), its cells
   * and the sorted target of its own styles (part 0: the global blend's, left out without one;
   * region r: its style's) for that many cells. Cached with the region targets. Call after
   * {@link regionTargets}.
   */
  regionSlicedPalette(): SlicedParts | null {
    const regions = this.ctx().inputs.regions ?? [];
    const masks = this.regionMasks;
    if (!regions.length || !masks || !this.paletteStack) return null;
    const { size } = this.ctx();
    const cell = Math.min(PALETTE_CELL, size.width, size.height);
    const key = `${this.paletteStack.key}|${cell}`;
    if (this.slicedParts?.key === key) return this.slicedParts.parts;
    this.disposeSlicedParts();
    const { cells, parts } = masks.atCells(cell);
    const blend = this.styleTargets();
    const samples = (entry: StyleEntry) => (entry.samples ??= readPaletteSamplesSync(entry.cells));
    const styleOf = (p: number) =>
      p === 0
        ? (blend?.paletteStyles.map(({ entry, weight }) => ({ samples: samples(entry), weight })) ?? null)
        : [{ samples: samples(this.styles.get(this.styleKey(regionStyle(regions[p - 1])))!), weight: 1 }];
    const directions = tf.tensor2d(paletteDirections(), [3, PALETTE_DIRECTIONS]);
    const out: SlicedParts = { parts: [] };
    parts.forEach((rows, p) => {
      const n = rows ? rows.length : cells;
      const styles = styleOf(p);
      if (n === 0 || !styles) return;
      out.parts.push({
        rows: rows ? tf.tensor1d(rows, 'int32') : null,
        rows2d: rows ? tf.tensor2d(rows, [rows.length, 1], 'int32') : null,
        fraction: n / cells,
        target: { directions, sorted: slicedPaletteTarget(styles, n), pairing: new PalettePairing() },
      });
    });
    this.slicedParts = { key, parts: out, directions };
    return out;
  }

  private disposeSlicedParts(): void {
    const s = this.slicedParts;
    if (s) {
      for (const p of s.parts.parts) {
        tf.dispose([p.target.sorted, ...(p.rows ? [p.rows, p.rows2d!] : [])]);
        p.target.pairing?.dispose();
      }
      s.directions.dispose();
    }
    this.slicedParts = null;
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
        targets.paletteStyles.map(({ entry, weight }) => ({ samples: (entry.samples ??= readPaletteSamplesSync(entry.cells)), weight })),
        cells,
      ),
      pairing: new PalettePairing(),
    };
    this.sliced = { blendKey: this.blend!.key, cells, target };
    return target;
  }

  /** E26: one optimizer step completed; the kept sliced-palette assignments age by one. */
  advancePalettePairings(): void {
    this.sliced?.target.pairing?.advance();
    for (const p of this.slicedParts?.parts.parts ?? []) p.target.pairing?.advance();
  }

  dispose(): void {
    this.disposeRegionMasks();
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
    if (this.sliced) {
      tf.dispose([this.sliced.target.directions, this.sliced.target.sorted]);
      this.sliced.target.pairing?.dispose();
    }
    this.sliced = null;
  }

  private disposeBlend(): void {
    const t = this.blend?.targets;
    if (t) {
      disposeMap(t.grams);
      disposeMap(t.energy);
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
  if (s.palette) tf.dispose([s.palette.mean, s.palette.covSqrt]);
  disposeMap(s.energy);
}

/** A region's style as the style cache sees it (its weight plays no part in a region). */
const regionStyle = (r: StyleRegion): StyleInput => ({ image: r.image, weight: 1, scale: r.scale });

function loadResized(img: RgbImage, size: { width: number; height: number }, antialias: boolean): tf.Tensor4D {
  const raw = rgbToTensor(img);
  try {
    return resizeImage(raw, size.height, size.width, { antialias });
  } finally {
    raw.dispose();
  }
}
