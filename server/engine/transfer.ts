/**
 * {@link createStyleTransfer}: one running Gatys-style optimization of an image tf.Variable,
 * re-targetable warm. Rules are numbered in SPEC.md (E1...).
 *
 * Targets are computed lazily and cached by key: `update()` only records what changed, and the
 * next `step()`/`evaluate()` recomputes exactly the targets whose key changed (content features,
 * the Grams of the styles that changed, the blend). Images are compared by content (size and a
 * 64-bit pixel hash, cached per object), so a re-sent copy of an unchanged image costs one hash.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  FeatureNetwork,
  LayerWeight,
  LossValues,
  RgbImage,
  StepOptions,
  StepResult,
  StyleInput,
  StyleTransfer,
  TransferInputs,
} from './api.ts';
import { getPreset, resolveLayers, validateInputs, type Preset } from './presets.ts';
import { contentTargetsOf, disposeMap, gramTargetsOf, transferLoss, type LossTerms, type Objective } from './losses.ts';
import {
  colorStats,
  combineLuminanceAndChroma,
  luminanceAsRgb,
  luminanceStats,
  matchColorHistogram,
  matchedLuminanceAsRgb,
  type ColorStats,
} from './color.ts';
import { imageFingerprint, noiseImage, resizeImage, rgbToTensor, sizeForLongSide, tensorToRgb } from './tensor-image.ts';
import { KerasAdam } from './optim/adam.ts';
import { runInterruptible } from './interrupt.ts';
import { Lbfgs } from './optim/lbfgs.ts';
import type { ImageOptimizer } from './optim/types.ts';

export interface CreateStyleTransferOptions {
  /** L-BFGS curvature pairs kept (each costs two image-sized tensors). Default 100. */
  lbfgsHistory?: number;
}

/** How often targets were (re)computed: lets tests and logs verify warm updates. */
export interface TransferCounters {
  /** Content feature targets computed. */
  contentTargets: number;
  /** Per-style Gram sets computed (one per style image that changed). */
  styleGrams: number;
  /** Blends of the per-style Grams into the style targets. */
  styleBlends: number;
  /** Times the image was (re)initialised. */
  inits: number;
}

/** {@link StyleTransfer} plus read-only views for tests, logs and the coarse-to-fine driver. */
export interface EngineStyleTransfer extends StyleTransfer {
  readonly counters: Readonly<TransferCounters>;
  /** The optimizer in use (its state carries over across `update`). */
  readonly optimizer: ImageOptimizer;
  /** The inputs in effect (after the last applied `update`). */
  readonly inputs: Readonly<TransferInputs>;
  /** A copy of the optimized image variable, [1, H, W, 3] (the caller disposes it). */
  snapshot(): tf.Tensor4D;
  /**
   * The objective as a function of an image of the current size, with targets brought up to
   * date now: for gradient checks and diagnostics. Call it inside `tf.tidy`/`tf.grad`.
   */
  lossFunction(): (x: tf.Tensor4D) => LossTerms;
}

/** Smallest long side a style image is scaled to, whatever its scale. */
const MIN_STYLE_SIDE = 16;

/** Images are identified by content (see imageFingerprint), so re-sent copies hit the caches. */
const imageId = imageFingerprint;

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

interface StyleGrams {
  key: string;
  grams: Map<string, tf.Tensor2D>;
}

class StyleTransferImpl implements EngineStyleTransfer {
  readonly counters: TransferCounters = { contentTargets: 0, styleGrams: 0, styleBlends: 0, inits: 0 };
  private current: TransferInputs;
  private preset: Preset;
  private layers: { content: LayerWeight[]; style: LayerWeight[] };
  private size: { width: number; height: number };
  private x: tf.Variable<tf.Rank.R4>;
  private opt: ImageOptimizer;
  private iterCount = 0;
  private disposed = false;

  private contentImage: { key: string; tensor: tf.Tensor4D } | null = null;
  private contentTargets: { key: string; map: Map<string, tf.Tensor4D> } | null = null;
  private styleGrams = new Map<string, StyleGrams>();
  private styleTargets: { key: string; map: Map<string, tf.Tensor2D> | null } | null = null;

  private chain: Promise<unknown> = Promise.resolve();
  private busy = 0;
  private pending: Partial<TransferInputs> | null = null;

  constructor(
    private readonly network: FeatureNetwork,
    inputs: TransferInputs,
    private readonly options: CreateStyleTransferOptions,
  ) {
    validateInputs(inputs);
    this.current = snapshotInputs(inputs);
    this.preset = getPreset(inputs.params.preset);
    this.layers = resolveLayers(this.preset, network, inputs.params);
    this.size = this.targetSize(this.current);
    this.x = ownedVariable(this.initialImage());
    this.counters.inits += 1;
    this.opt = this.createOptimizer();
  }

  get iter(): number {
    return this.iterCount;
  }
  get width(): number {
    return this.size.width;
  }
  get height(): number {
    return this.size.height;
  }
  get optimizer(): ImageOptimizer {
    return this.opt;
  }
  get inputs(): Readonly<TransferInputs> {
    return this.current;
  }

  snapshot(): tf.Tensor4D {
    this.assertAlive();
    return tf.clone(this.x);
  }

  lossFunction(): (x: tf.Tensor4D) => LossTerms {
    this.assertAlive();
    const objective = this.objective();
    return (x) => transferLoss(x, objective);
  }

  update(changes: Partial<TransferInputs>): void {
    this.assertAlive();
    const merged = { ...this.pending, ...changes };
    const next = mergeInputs(this.current, merged);
    validateInputs(next);
    resolveLayers(getPreset(next.params.preset), this.network, next.params); // layer errors now, not later
    if (this.busy > 0) {
      // E12: applied when the running step/evaluate/image finishes, never in the middle of one.
      this.pending = merged;
      return;
    }
    this.pending = null;
    this.apply(merged);
  }

  step(options: StepOptions = {}): Promise<StepResult> {
    return this.exclusive(async () => {
      const started = performance.now();
      const objective = this.objective();
      const x = this.x;
      let report: tf.Tensor | null = null;
      let grad: tf.Tensor;
      try {
        // E21: the gradient computation is the interruptible part; nothing has changed yet.
        grad = runInterruptible(
          () =>
            tf.tidy(() => {
              const { grads } = tf.variableGrads(() => {
                const terms = transferLoss(x, objective);
                report = tf.keep(tf.stack([terms.total, terms.style, terms.content, terms.tv]));
                return terms.total;
              }, [x]);
              return grads[x.name];
            }),
          options.interrupt,
        );
      } catch (err) {
        (report as tf.Tensor | null)?.dispose();
        throw err;
      }
      let values: Float32Array;
      try {
        values = await this.opt.step(x, grad, report!);
      } finally {
        grad.dispose();
        (report as tf.Tensor | null)?.dispose();
      }
      // E7: Adam keeps the image a valid image; L-BFGS runs unconstrained (clamped on output).
      if (this.opt.name === 'adam') this.clipImage();
      this.iterCount += 1;
      return { iter: this.iterCount, losses: lossValues(values), ms: performance.now() - started };
    });
  }

  evaluate(): Promise<LossValues> {
    return this.exclusive(async () => {
      const objective = this.objective();
      const report = tf.tidy(() => {
        const t = transferLoss(this.x, objective);
        return tf.stack([t.total, t.style, t.content, t.tv]);
      });
      try {
        return lossValues((await report.data()) as Float32Array);
      } finally {
        report.dispose();
      }
    });
  }

  image(): Promise<RgbImage> {
    return this.exclusive(async () => {
      const out = tf.tidy(() => {
        if (this.current.params.colors !== 'luminance') return tf.clone(this.x);
        // E9: luminance of the result, I/Q chroma of the content.
        return combineLuminanceAndChroma(this.x, this.ensureContentImage());
      });
      try {
        return await tensorToRgb(out, this.preset.quantize);
      } finally {
        out.dispose();
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pending = null;
    // E16: an operation in flight still uses the tensors; they are freed when it settles.
    if (this.busy === 0) this.free();
  }

  // ---- internals -------------------------------------------------------------------------

  private free(): void {
    this.x.dispose();
    this.opt.dispose();
    this.contentImage?.tensor.dispose();
    disposeMap(this.contentTargets?.map);
    for (const s of this.styleGrams.values()) disposeMap(s.grams);
    disposeMap(this.styleTargets?.map);
    this.contentImage = this.contentTargets = this.styleTargets = null;
    this.styleGrams.clear();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('StyleTransfer used after dispose()');
  }

  /** Serialises async operations; pending updates are applied between them. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.assertAlive();
    this.busy += 1;
    const run = this.chain.then(async () => {
      try {
        this.assertAlive();
        return await fn();
      } finally {
        this.busy -= 1;
        if (this.disposed) {
          if (this.busy === 0) this.free();
        } else if (this.pending) {
          const p = this.pending;
          this.pending = null;
          this.apply(p);
        }
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private apply(changes: Partial<TransferInputs>): void {
    const prev = this.current;
    const next = snapshotInputs(mergeInputs(prev, changes));
    const p0 = prev.params;
    const p1 = next.params;
    const layers = resolveLayers(getPreset(p1.preset), this.network, p1);
    this.current = next;
    const presetChanged = p1.preset !== p0.preset;
    this.preset = getPreset(p1.preset);
    this.layers = layers;

    const size = this.targetSize(next);
    const resized = size.width !== this.size.width || size.height !== this.size.height;
    if (resized) {
      // E10: resolution (or aspect) change: resample the image and the optimizer state.
      this.size = size;
      const old = this.x;
      this.x = ownedVariable(resizeImage(old, size.height, size.width));
      old.dispose();
      this.opt.resize(this.x.shape);
    }

    const reinit =
      p1.init !== p0.init ||
      (p1.restart ?? 0) !== (p0.restart ?? 0) ||
      (p1.init === 'noise' && p1.seed !== p0.seed) ||
      (p1.init === 'image' && (next.initImage && imageId(next.initImage)) !== (prev.initImage && imageId(prev.initImage)));
    if (reinit) {
      // E11: a different start image restarts the run (iteration 0, fresh optimizer).
      const init = this.initialImage();
      this.x.assign(init);
      init.dispose();
      this.counters.inits += 1;
      this.iterCount = 0;
    }

    if (reinit || p1.optimizer !== p0.optimizer || presetChanged) {
      this.opt.dispose();
      this.opt = this.createOptimizer();
      if (p1.optimizer === 'adam' && p0.optimizer !== 'adam') this.clipImage();
    } else {
      if (p1.learningRate !== p0.learningRate && this.opt instanceof KerasAdam) this.opt.setLearningRate(p1.learningRate);
      if (objectiveKey(prev, this.network) !== objectiveKey(next, this.network) || resized) this.opt.objectiveChanged();
    }
  }

  private targetSize(inputs: TransferInputs): { width: number; height: number } {
    const { content, params } = inputs;
    return sizeForLongSide(content.width, content.height, params.resolution, getPreset(params.preset).resize.rounding);
  }

  private createOptimizer(): ImageOptimizer {
    const p = this.current.params;
    if (p.optimizer === 'adam') return new KerasAdam({ ...this.preset.adam, learningRate: p.learningRate });
    return new Lbfgs({ learningRate: this.preset.lbfgsLearningRate, historySize: this.options.lbfgsHistory ?? 100 });
  }

  private initialImage(): tf.Tensor4D {
    const { params, initImage } = this.current;
    const { width, height } = this.size;
    if (params.init === 'noise') return noiseImage(height, width, params.seed);
    if (params.init === 'image') {
      const t = rgbToTensor(initImage!);
      try {
        return resizeImage(t, height, width, { antialias: this.preset.resize.antialias });
      } finally {
        t.dispose();
      }
    }
    return tf.clone(this.ensureContentImage());
  }

  private clipImage(): void {
    tf.tidy(() => this.x.assign(tf.clipByValue(this.x, 0, 1)));
  }

  /** The content image at the current size, colour as given. Cached. */
  private ensureContentImage(): tf.Tensor4D {
    const { content } = this.current;
    const { width, height } = this.size;
    const key = `${imageId(content)}|${width}x${height}|${this.preset.resize.antialias}`;
    if (this.contentImage?.key === key) return this.contentImage.tensor;
    const raw = rgbToTensor(content);
    const tensor = resizeImage(raw, height, width, { antialias: this.preset.resize.antialias });
    raw.dispose();
    this.contentImage?.tensor.dispose();
    this.contentImage = { key, tensor };
    return tensor;
  }

  private get transform() {
    return this.current.params.featureTransform ?? this.preset.featureTransform;
  }

  private weights(): { content: number; style: number; tv: number } {
    const p = this.current.params;
    const mode = p.mode ?? 'transfer';
    return {
      content: mode === 'synthesize-style' ? 0 : this.preset.base.content * p.contentWeight,
      style: mode === 'reconstruct-content' ? 0 : this.preset.base.style * p.styleWeight,
      tv: this.preset.base.tv * p.tvWeight,
    };
  }

  /** Brings the needed targets up to date (E3) and returns the objective for this image. */
  private objective(): Objective {
    const w = this.weights();
    const p = this.current.params;
    const luminanceMode = p.colors === 'luminance';
    return {
      network: this.network,
      pooling: p.pooling,
      transform: this.transform,
      contentLayers: this.layers.content,
      styleLayers: this.layers.style,
      contentTargets: w.content !== 0 ? this.ensureContentTargets() : null,
      styleTargets: w.style !== 0 ? this.ensureStyleTargets() : null,
      contentLoss: this.preset.contentLoss,
      styleLoss: this.preset.styleLoss,
      averaging: this.preset.averaging,
      tv: this.preset.tv,
      contentWeight: w.content,
      styleWeight: w.style,
      tvWeight: w.tv,
      networkView: luminanceMode ? luminanceAsRgb : undefined,
    };
  }

  private ensureContentTargets(): Map<string, tf.Tensor4D> {
    const p = this.current.params;
    const image = this.ensureContentImage();
    const key = [this.contentImage!.key, p.pooling, this.transform, p.colors === 'luminance', layersKey(this.layers.content)].join('|');
    if (this.contentTargets?.key === key) return this.contentTargets.map;
    const seen = p.colors === 'luminance' ? luminanceAsRgb(image) : image;
    const map = contentTargetsOf(this.network, seen, this.layers.content, p.pooling, this.transform);
    if (seen !== image) seen.dispose();
    disposeMap(this.contentTargets?.map);
    this.contentTargets = { key, map };
    this.counters.contentTargets += 1;
    return map;
  }

  private styleKey(style: StyleInput): string {
    const { params, content } = this.current;
    return [
      imageId(style.image),
      style.scale,
      params.resolution,
      params.pooling,
      this.transform,
      params.colors,
      params.colors === 'style' ? '' : imageId(content), // colour modes match the style to the content
      this.preset.resize.rounding,
      this.preset.resize.antialias,
      layersKey(this.layers.style),
    ].join('|');
  }

  private computeStyleGrams(style: StyleInput): Map<string, tf.Tensor2D> {
    const { params, content } = this.current;
    const side = Math.max(MIN_STYLE_SIDE, Math.round(style.scale * params.resolution));
    const size = sizeForLongSide(style.image.width, style.image.height, side, this.preset.resize.rounding);
    const prepared = tf.tidy(() => {
      const raw = rgbToTensor(style.image);
      const resized = resizeImage(raw, size.height, size.width, { antialias: this.preset.resize.antialias });
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
      return gramTargetsOf(this.network, prepared, this.layers.style, params.pooling, this.transform);
    } finally {
      prepared.dispose();
    }
  }

  /**
   * E4: blended Gram targets A = sum_i w_i G_i / sum_i w_i over styles with w_i > 0 (the Gram of
   * the weighted mixture of the styles' feature distributions). Null when no style has weight.
   */
  private ensureStyleTargets(): Map<string, tf.Tensor2D> | null {
    const active = this.current.styles.filter((s) => s.weight > 0);
    const keys = active.map((s) => this.styleKey(s));
    const blendKey = active.map((s, i) => `${keys[i]}*${s.weight}`).join(';');
    if (this.styleTargets?.key === blendKey) return this.styleTargets.map;

    const live = new Map<string, StyleGrams>();
    active.forEach((s, i) => {
      const key = keys[i];
      const cached = this.styleGrams.get(key) ?? live.get(key);
      live.set(key, cached ?? { key, grams: this.computeStyleGrams(s) });
    });
    for (const [key, entry] of this.styleGrams) if (!live.has(key)) disposeMap(entry.grams);
    this.styleGrams = live;

    let map: Map<string, tf.Tensor2D> | null = null;
    if (active.length > 0) {
      const total = active.reduce((sum, s) => sum + s.weight, 0);
      map = new Map();
      for (const { layer } of this.layers.style) {
        if (map.has(layer)) continue;
        const blended = tf.tidy(() =>
          active.reduce<tf.Tensor2D>(
            (acc, s, i) => tf.add(acc, tf.mul(live.get(keys[i])!.grams.get(layer)!, s.weight / total)),
            tf.zerosLike(live.get(keys[0])!.grams.get(layer)!),
          ),
        );
        map.set(layer, blended);
      }
    }
    disposeMap(this.styleTargets?.map);
    this.styleTargets = { key: blendKey, map };
    this.counters.styleBlends += 1;
    return map;
  }
}

/** A trainable variable holding `init`'s values; `init` itself is disposed. */
function ownedVariable(init: tf.Tensor4D): tf.Variable<tf.Rank.R4> {
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

function lossValues(v: Float32Array): LossValues {
  return { total: v[0], style: v[1], content: v[2], tv: v[3] };
}

function mergeInputs(prev: TransferInputs, changes: Partial<TransferInputs>): TransferInputs {
  return {
    content: changes.content ?? prev.content,
    styles: changes.styles ?? prev.styles,
    params: changes.params ?? prev.params,
    initImage: 'initImage' in changes ? changes.initImage : prev.initImage,
  };
}

/** Copies the containers (not the pixels), so later mutation of the caller's arrays is harmless. */
function snapshotInputs(i: TransferInputs): TransferInputs {
  return {
    content: i.content,
    styles: i.styles.map((s) => ({ ...s })),
    params: {
      ...i.params,
      contentLayers: i.params.contentLayers?.map((l) => ({ ...l })),
      styleLayers: i.params.styleLayers?.map((l) => ({ ...l })),
    },
    initImage: i.initImage,
  };
}

/** Everything that defines the objective (not the optimizer's step size or the start image). */
function objectiveKey(i: TransferInputs, network: FeatureNetwork): string {
  const p = i.params;
  const layers = resolveLayers(getPreset(p.preset), network, p);
  return JSON.stringify([
    imageId(i.content),
    i.styles.map((s) => [imageId(s.image), s.weight, s.scale]),
    p.preset,
    p.contentWeight,
    p.styleWeight,
    p.tvWeight,
    p.resolution,
    p.pooling,
    p.colors,
    p.mode ?? 'transfer',
    p.featureTransform ?? '',
    layers,
  ] satisfies unknown[]);
}

/**
 * Starts an optimization of `inputs` on `network` (E1). The image starts as `params.init` says;
 * nothing is computed until the first `step()`/`evaluate()`. The network is borrowed: `dispose()`
 * frees everything else but not the network.
 */
export function createStyleTransfer(
  network: FeatureNetwork,
  inputs: TransferInputs,
  options: CreateStyleTransferOptions = {},
): EngineStyleTransfer {
  return new StyleTransferImpl(network, inputs, options);
}
