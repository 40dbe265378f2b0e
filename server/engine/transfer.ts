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
import type { FeatureNetwork, LayerWeight, LossValues, RgbImage, StepOptions, StepResult, StyleTransfer, TransferInputs } from './api.ts';
import { getPreset, resolveLayers, validateInputs, type Preset } from './presets.ts';
import { shiftImage, transferLoss, type LossTerms, type Objective } from './losses.ts';
import { combineLuminanceAndChroma, luminanceAsRgb } from './color.ts';
import { noiseImage, resizeImage, rgbToTensor, sizeForLongSide, tensorToRgb } from './tensor-image.ts';
import { AdamGroup, LbfgsSingle, type VariablesOptimizer } from './optim/group.ts';
import { runInterruptible } from './interrupt.ts';
import { createParameterization, type ImageParameterization, type ParameterizationName } from './parameterization.ts';
import { energiesOf, imageId, TransferTargets, type TargetCounters } from './targets.ts';
import { changedFraction, changeMask, NEW_PICTURE_FRACTION } from './write-in.ts';
import { maskId } from './regions.ts';
import { regionObjective } from './guided.ts';
import { mulberry32 } from '../../shared/random.ts';

export interface CreateStyleTransferOptions {
  /** L-BFGS curvature pairs kept (each costs two image-sized tensors). Default 100. */
  lbfgsHistory?: number;
}

/** How often targets were (re)computed and the image rewritten: lets tests and logs verify warm updates. */
export interface TransferCounters extends TargetCounters {
  /** Times the image was (re)initialised. */
  inits: number;
  /** Content changes written into the image where the content changed (E24). */
  writeIns: number;
}

/** {@link StyleTransfer} plus read-only views for tests, logs and the coarse-to-fine driver. */
export interface EngineStyleTransfer extends StyleTransfer {
  readonly counters: Readonly<TransferCounters>;
  /** The optimizer in use (its state carries over across `update`). */
  readonly optimizer: VariablesOptimizer;
  /** The image parameterization in use (E23). */
  readonly parameterization: ImageParameterization;
  /** The inputs in effect (after the last applied `update`). */
  readonly inputs: Readonly<TransferInputs>;
  /** A copy of the current iterate, [1, H, W, 3] (the caller disposes it). */
  snapshot(): tf.Tensor4D;
  /**
   * The objective as a function of an image of the current size, with targets brought up to
   * date now (no random shift): for gradient checks and diagnostics. Call it inside `tf.tidy`/`tf.grad`.
   */
  lossFunction(): (x: tf.Tensor4D) => LossTerms;
}

/** Length of the seeded shift schedule (E25); content targets are cached per shift, one per entry. */
export const SHIFT_SCHEDULE_LENGTH = 16;

class StyleTransferImpl implements EngineStyleTransfer {
  private readonly writeIns = { inits: 0, writeIns: 0 };
  private current: TransferInputs;
  private preset: Preset;
  private layers: { content: LayerWeight[]; style: LayerWeight[] };
  private size: { width: number; height: number };
  private img: ImageParameterization;
  /** Exponential average of the iterates that `image()` shows (E26); null when the preset has none. */
  private average: tf.Tensor4D | null = null;
  /**
   * The image the variables render to, kept from the [0, 1] projection (E7) until they next change,
   * so that a step differentiates the loss w.r.t. this image and pulls the gradient back through
   * the parameterization's adjoint instead of rendering again under the tape: one render less per
   * step (~4 ms of ~100 for the 4-level pyramid at 256 px on wasm, `npm run bench:stylization`).
   */
  private rendered: tf.Tensor4D | null = null;
  private opt: VariablesOptimizer;
  private targets: TransferTargets;
  private iterCount = 0;
  private disposed = false;

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
    this.targets = new TransferTargets(network, () => ({
      inputs: this.current,
      preset: this.preset,
      layers: this.layers,
      transform: this.transform,
      size: this.size,
    }));
    const init = this.initialImage();
    this.img = createParameterization(this.parameterizationName(), init, { levels: this.preset.image.levels });
    this.resetAverage(init);
    init.dispose();
    this.writeIns.inits += 1;
    this.opt = this.createOptimizer();
  }

  get counters(): Readonly<TransferCounters> {
    return { ...this.targets.counters, ...this.writeIns };
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
  get optimizer(): VariablesOptimizer {
    return this.opt;
  }
  /** For inspection (tests): writing into it would bypass the kept render ({@link rendered}). */
  get parameterization(): ImageParameterization {
    return this.img;
  }
  get inputs(): Readonly<TransferInputs> {
    return this.current;
  }

  snapshot(): tf.Tensor4D {
    this.assertAlive();
    return this.img.render();
  }

  lossFunction(): (x: tf.Tensor4D) => LossTerms {
    this.assertAlive();
    const objective = this.objective(0, 0);
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
      const [dy, dx] = this.shiftFor(this.iterCount);
      await this.preparePalette();
      const objective = this.objective(dy, dx);
      const vars = this.img.variables;
      let report: tf.Tensor | null = null;
      let grads: tf.Tensor[];
      try {
        // E21: the gradient computation is the interruptible part; nothing has changed yet.
        grads = runInterruptible(
          () =>
            tf.tidy(() => {
              const [dImage] = tf.grads((x: tf.Tensor) => {
                const image = x as tf.Tensor4D;
                const terms = transferLoss(shiftImage(image, dy, dx), objective, image);
                report = tf.keep(tf.stack([terms.total, terms.style, terms.content, terms.tv]));
                return terms.total;
              })([this.currentImage()]);
              return this.img.pullback(dImage as tf.Tensor4D);
            }),
          options.interrupt,
        );
      } catch (err) {
        (report as tf.Tensor | null)?.dispose();
        throw err;
      }
      let values: Float32Array;
      try {
        this.forgetRender();
        values = await this.opt.step(vars, grads, report!);
      } finally {
        tf.dispose(grads);
        (report as tf.Tensor | null)?.dispose();
      }
      // E7: Adam keeps the image a valid image; L-BFGS runs unconstrained (clamped on output).
      if (this.opt.name === 'adam') this.clampImage();
      this.advanceAverage();
      this.targets.advancePalettePairings();
      this.iterCount += 1;
      return { iter: this.iterCount, losses: lossValues(values), ms: performance.now() - started };
    });
  }

  evaluate(): Promise<LossValues> {
    return this.exclusive(async () => {
      await this.preparePalette();
      const objective = this.objective(0, 0);
      const report = tf.tidy(() => {
        const t = transferLoss(this.img.render(), objective);
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
        const shown = this.average ? tf.clone(this.average) : this.img.render();
        if (this.current.params.colors !== 'luminance') return shown;
        // E9: luminance of the result, I/Q chroma of the content.
        return combineLuminanceAndChroma(shown, this.targets.contentImage());
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
    this.forgetRender();
    this.img.dispose();
    this.average?.dispose();
    this.average = null;
    this.opt.dispose();
    this.targets.dispose();
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
    // The content at the working size before the change (E24 compares it with the new one).
    const contentChanged = imageId(prev.content) !== imageId(next.content);
    const oldContent = contentChanged ? tf.clone(this.targets.contentImage()) : null;
    this.forgetRender(); // a change may write into the image (E24) or make a new one
    try {
      this.current = next;
      this.preset = getPreset(p1.preset);
      this.layers = resolveLayers(this.preset, this.network, p1);
      this.applyChanges(prev, oldContent);
    } finally {
      oldContent?.dispose();
    }
  }

  private applyChanges(prev: TransferInputs, oldContent: tf.Tensor4D | null): void {
    const next = this.current;
    const p0 = prev.params;
    const p1 = next.params;
    const presetChanged = p1.preset !== p0.preset;
    // E24: a new picture (another aspect ratio, or most pixels changed) starts over from it.
    const newPicture = oldContent !== null && changedFraction(prev.content, next.content) > NEW_PICTURE_FRACTION;
    const size = this.targetSize(next);
    const resized = size.width !== this.size.width || size.height !== this.size.height;
    const contentResized = prev.content.width !== next.content.width || prev.content.height !== next.content.height;
    this.size = size;

    const reinit =
      newPicture ||
      p1.init !== p0.init ||
      (p1.restart ?? 0) !== (p0.restart ?? 0) ||
      (p1.init === 'noise' && p1.seed !== p0.seed) ||
      (p1.init === 'image' && (next.initImage && imageId(next.initImage)) !== (prev.initImage && imageId(prev.initImage))) ||
      this.parameterizationName() !== this.img.name;
    if (reinit) {
      // E11, E24: a different start image restarts the run (iteration 0, fresh optimizer). A new
      // picture under a resumed run (init 'image') starts from the new content.
      const init = this.initialImage(newPicture && p1.init === 'image');
      if (this.parameterizationName() !== this.img.name || resized) {
        this.img.dispose();
        this.img = createParameterization(this.parameterizationName(), init, { levels: this.preset.image.levels });
      } else {
        this.img.assign(init);
      }
      this.resetAverage(init);
      init.dispose();
      this.writeIns.inits += 1;
      this.iterCount = 0;
    } else if (resized) {
      // E10: resolution change: resample the image, the optimizer state and the shown average.
      this.img.resize(size.height, size.width);
      this.opt.resize(this.img.variables.map((v) => v.shape));
      if (this.average) {
        const a = resizeImage(this.average, size.height, size.width);
        this.average.dispose();
        this.average = a;
      }
    } else if (oldContent && !contentResized) {
      // (A content that only changed size, e.g. the canvas composed at a new working size, is a
      // resize: E10 above; there is nothing to write in.)
      this.writeIn(oldContent);
    }

    if (reinit || p1.optimizer !== p0.optimizer || presetChanged) {
      this.opt.dispose();
      this.opt = this.createOptimizer();
      if (p1.optimizer === 'adam' && p0.optimizer !== 'adam') this.clampImage();
    } else {
      if (p1.learningRate !== p0.learningRate && this.opt instanceof AdamGroup) this.opt.setLearningRate(p1.learningRate);
      if (objectiveKey(prev, this.network) !== objectiveKey(next, this.network) || resized) this.opt.objectiveChanged();
    }
  }

  /**
   * E24: writes the content's change into the image where it changed (feathered), forgets the
   * optimizer's state there and in the shown average, so a stroke shows in the next frame and is
   * then stylized like the rest.
   */
  private writeIn(oldContent: tf.Tensor4D): void {
    const fresh = this.targets.contentImage();
    const mask = changeMask(oldContent, fresh);
    try {
      tf.tidy(() => this.img.add(tf.mul(tf.sub(fresh, this.img.render()), mask)));
      const masks = this.img.variableMasks(mask);
      this.opt.forget(masks);
      tf.dispose(masks.filter((m): m is tf.Tensor4D => m !== null));
      if (this.average) {
        const a = tf.tidy(() => tf.add(this.average!, tf.mul(tf.sub(fresh, this.average!), mask)) as tf.Tensor4D);
        this.average.dispose();
        this.average = a;
      }
      this.writeIns.writeIns += 1;
    } finally {
      mask.dispose();
    }
  }

  private parameterizationName(): ParameterizationName {
    const p = this.current.params;
    // E23: L-BFGS needs one flat vector of unknowns; it always optimizes pixels.
    if (p.optimizer === 'lbfgs') return 'pixels';
    return p.parameterization ?? this.preset.image.parameterization;
  }

  /** E25: the seeded random shift of step `iter` (0, 0 when the preset or params have none). */
  private shiftFor(iter: number): [number, number] {
    const max = this.current.params.jitter ?? this.preset.image.jitter;
    // L-BFGS builds its curvature pairs from one fixed function: under shifts they are noise and
    // the content reconstruction from noise stayed noise (docs/STYLIZATION.md).
    if (max <= 0 || this.current.params.optimizer === 'lbfgs') return [0, 0];
    const rand = mulberry32((this.current.params.seed * 7919 + (iter % SHIFT_SCHEDULE_LENGTH)) | 0);
    const pick = () => Math.floor(rand() * (2 * max + 1)) - max;
    return [pick(), pick()];
  }

  private resetAverage(init: tf.Tensor4D): void {
    this.average?.dispose();
    this.average = this.preset.image.average > 0 ? tf.clone(init) : null;
  }

  /** E26: the average shown by `image()` follows the iterate with decay `preset.image.average`. */
  private advanceAverage(): void {
    if (!this.average) return;
    const decay = this.preset.image.average;
    const a = tf.tidy(() => {
      const x = this.img.render();
      return tf.add(this.average!, tf.mul(tf.sub(x, this.average!), 1 - decay)) as tf.Tensor4D;
    });
    this.average.dispose();
    this.average = a;
  }

  private targetSize(inputs: TransferInputs): { width: number; height: number } {
    const { content, params } = inputs;
    return sizeForLongSide(content.width, content.height, params.resolution, getPreset(params.preset).resize.rounding);
  }

  private createOptimizer(): VariablesOptimizer {
    const p = this.current.params;
    if (p.optimizer === 'adam') return new AdamGroup(this.img.variables.length, { ...this.preset.adam, learningRate: p.learningRate });
    return new LbfgsSingle({ learningRate: this.preset.lbfgsLearningRate, historySize: this.options.lbfgsHistory ?? 100 });
  }

  /** The start image at the working size: `init`'s, or the content when `fromContent`. */
  private initialImage(fromContent = false): tf.Tensor4D {
    const { params, initImage } = this.current;
    const { width, height } = this.size;
    if (!fromContent && params.init === 'noise') return noiseImage(height, width, params.seed);
    if (!fromContent && params.init === 'image') {
      const t = rgbToTensor(initImage!);
      try {
        return resizeImage(t, height, width, { antialias: this.preset.resize.antialias });
      } finally {
        t.dispose();
      }
    }
    return tf.clone(this.targets.contentImage());
  }

  /** E7: the image back into [0, 1]; the projected image is what the variables now render to. */
  private clampImage(): void {
    this.forgetRender();
    this.rendered = tf.tidy(() => {
      const x = this.img.render();
      const clamped = tf.clipByValue(x, 0, 1);
      this.img.add(tf.sub(clamped, x));
      return clamped;
    });
  }

  /** What the variables render to now (kept until they change; the caller must not dispose it). */
  private currentImage(): tf.Tensor4D {
    if (!this.rendered) this.rendered = tf.keep(this.img.render());
    return this.rendered;
  }

  private forgetRender(): void {
    this.rendered?.dispose();
    this.rendered = null;
  }

  private get transform() {
    return this.current.params.featureTransform ?? this.preset.featureTransform;
  }

  private weights(): { content: number; style: number; tv: number; palette: number; layout: number } {
    const p = this.current.params;
    const mode = p.mode ?? 'transfer';
    const style = mode === 'reconstruct-content' ? 0 : this.preset.base.style * p.styleWeight;
    return {
      content: mode === 'synthesize-style' ? 0 : this.preset.base.content * p.contentWeight,
      // E27: part of the content, as the content loss a photo reconstruction does not need.
      layout: mode !== 'transfer' ? 0 : this.preset.base.layout * p.contentWeight,
      style,
      tv: this.preset.base.tv * p.tvWeight,
      // E26: part of the style; meaningless in luminance mode, where the output's colours are the content's.
      palette:
        mode === 'reconstruct-content' || p.colors === 'luminance' ? 0 : this.preset.base.palette * p.styleWeight * (p.paletteWeight ?? 1),
    };
  }

  /** The sliced palette term's style colours, read back without blocking (E26). */
  private async preparePalette(): Promise<void> {
    if (this.preset.palette === 'sliced' && this.weights().palette !== 0) await this.targets.preparePalette();
  }

  /** Brings the needed targets up to date (E3) and returns the objective for an image shifted by (dy, dx). */
  private objective(dy: number, dx: number): Objective {
    const w = this.weights();
    const p = this.current.params;
    const luminanceMode = p.colors === 'luminance';
    const style = w.style !== 0 || w.palette !== 0 ? this.targets.styleTargets() : null;
    const regions = w.style !== 0 || w.palette !== 0 ? this.targets.regionTargets() : null;
    return {
      network: this.network,
      pooling: p.pooling,
      transform: this.transform,
      contentLayers: this.layers.content,
      styleLayers: this.layers.style,
      contentTargets: w.content !== 0 ? this.targets.contentTargets(dy, dx) : null,
      styleTargets: w.style !== 0 ? (style?.grams ?? null) : null,
      styleEnergies: w.style !== 0 && style ? (style.energy ??= energiesOf(style.grams)) : null,
      styleGram: this.preset.styleGram,
      contentLoss: this.preset.contentLoss,
      styleLoss: this.preset.styleLoss,
      averaging: this.preset.averaging,
      tv: this.preset.tv,
      tvColorWeights: this.preset.tvColorWeights,
      contentWeight: w.content,
      styleWeight: w.style,
      tvWeight: w.tv,
      networkView: luminanceMode ? luminanceAsRgb : undefined,
      paletteTarget: w.palette !== 0 ? (style?.palette ?? null) : null,
      paletteWeight: w.palette,
      slicedPalette: w.palette !== 0 && this.preset.palette === 'sliced' ? this.targets.slicedPalette() : null,
      layoutTarget: w.layout !== 0 ? this.targets.layoutTarget() : null,
      layoutWeight: w.layout,
      // E34–E37: part 0, the unpainted area, keeps the global blend (E4); the masks are shifted
      // as the image the network sees is (E36).
      regions:
        regions &&
        regionObjective(
          [style ? { grams: style.grams, energy: (style.energy ??= energiesOf(style.grams)), palette: style.palette } : null, ...regions.targets],
          (h, w) => regions.masks.atLayer(dy, dx, h, w),
          regions.masks.atPixels(),
          w.palette !== 0 ? regions.palettes : null,
          this.preset.styleLoss,
          w.palette !== 0 && this.preset.palette === 'sliced' ? this.targets.regionSlicedPalette() : null,
        ),
    };
  }
}

function lossValues(v: Float32Array): LossValues {
  return { total: v[0], style: v[1], content: v[2], tv: v[3] };
}

function mergeInputs(prev: TransferInputs, changes: Partial<TransferInputs>): TransferInputs {
  return {
    content: changes.content ?? prev.content,
    styles: changes.styles ?? prev.styles,
    regions: changes.regions ?? prev.regions,
    params: changes.params ?? prev.params,
    initImage: 'initImage' in changes ? changes.initImage : prev.initImage,
  };
}

/** Copies the containers (not the pixels), so later mutation of the caller's arrays is harmless. */
function snapshotInputs(i: TransferInputs): TransferInputs {
  return {
    content: i.content,
    styles: i.styles.map((s) => ({ ...s })),
    regions: i.regions?.map((r) => ({ ...r })),
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
    (i.regions ?? []).map((r) => [imageId(r.image), r.scale, maskId(r.mask)]),
    p.preset,
    p.contentWeight,
    p.styleWeight,
    p.tvWeight,
    p.resolution,
    p.pooling,
    p.colors,
    p.mode ?? 'transfer',
    p.featureTransform ?? '',
    p.paletteWeight ?? 1,
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
