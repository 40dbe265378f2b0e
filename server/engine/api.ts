/**
 * Public types of the style-transfer engine.
 *
 * The engine is pure tensor code on @tensorflow/tfjs-core: it knows nothing of sockets, Yjs or
 * storage. The session layer (server/session) turns document changes into calls on
 * {@link StyleTransfer}; the CLI (server/cli) drives the same object from the command line.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ColorMode, ExperimentMode, FeatureTransformName, InitMode, OptimizerName, ParameterizationName, Pooling } from '../../shared/names.ts';

// The option names are Atelier's vocabulary, declared once in shared/names.ts.
export { BACKEND_NAMES, type BackendName, type ColorMode, type ExperimentMode, type FeatureTransformName, type InitMode, type OptimizerName, type Pooling } from '../../shared/names.ts';

/** 8-bit RGB pixels, row-major, 3 bytes per pixel, no alpha. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A layer of a feature network and how much it counts in a loss. */
export interface LayerWeight {
  layer: string;
  weight: number;
}

/**
 * A pretrained CNN seen as a differentiable map from an image to named feature maps.
 *
 * Implementations do their own input preprocessing (e.g. Keras VGG's BGR mean subtraction),
 * so callers always pass RGB in [0, 1].
 */
export interface FeatureNetwork {
  readonly name: string;
  /** Selectable layer names in forward order. */
  readonly layers: readonly string[];
  /** Whether {@link FeatureOptions.pooling} has any effect on this network. */
  readonly supportsPooling: boolean;
  /**
   * Runs the network on `image` ([1, H, W, 3], RGB in [0, 1]) up to the deepest requested
   * layer and returns the requested feature maps ([1, h, w, c]). Differentiable w.r.t. `image`.
   */
  features(image: tf.Tensor4D, layers: readonly string[], options?: FeatureOptions): Map<string, tf.Tensor4D>;
  dispose(): void;
}

export interface FeatureOptions {
  pooling?: Pooling;
}

/**
 * Everything that defines one optimization. Weights are multipliers on the preset's own loss
 * conventions (a preset fixes layers, Gram normalisation and base weights).
 */
export interface TransferParams {
  preset: string;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** Long side of the optimized image in pixels. */
  resolution: number;
  pooling: Pooling;
  colors: ColorMode;
  init: InitMode;
  seed: number;
  /**
   * Restart counter (E11): a change re-initialises the image from `init`, whatever the init mode.
   * Omitted = 0.
   */
  restart?: number;
  /** Overrides of the preset's layers; omitted = the preset's. */
  contentLayers?: LayerWeight[];
  styleLayers?: LayerWeight[];
  mode?: ExperimentMode;
  /**
   * Transform of feature maps before Gram matrices and content comparison; omitted = the preset's
   * (`none`). `softmax` is SWAG (Wang, Li & Vasconcelos, CVPR 2021), which helps non-VGG networks.
   */
  featureTransform?: FeatureTransformName;
  /** How the image is optimized (E23); omitted = the preset's. L-BFGS always optimizes pixels. */
  parameterization?: ParameterizationName;
  /** Largest random shift in pixels applied before the network each step (E25); omitted = the preset's. */
  jitter?: number;
  /** Multiplier on the preset's palette weight (E26); omitted = 1. */
  paletteWeight?: number;
}

export interface StyleInput {
  image: RgbImage;
  /** Blend weight; weights are normalised over all styles. */
  weight: number;
  /** Style image is resized by this factor before its features are taken. */
  scale: number;
}

/** 8-bit single-channel mask, row-major, one byte per pixel: 0 = outside, 255 = inside. */
export interface MaskImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * A style painted into one region of the image (guided Gram matrices, Gatys et al. CVPR 2017;
 * SPEC E34–E38). The mask covers the whole image (it is resized to the working size); where
 * several masks overlap they share the pixel, and the area no mask covers keeps the blend of
 * `styles`.
 */
export interface StyleRegion {
  image: RgbImage;
  /** As {@link StyleInput.scale}. */
  scale: number;
  mask: MaskImage;
}

export interface TransferInputs {
  /** The content image (already composited with strokes by the caller). */
  content: RgbImage;
  styles: StyleInput[];
  /** Styles of painted regions (E34); omitted or empty = the blend of `styles` everywhere. */
  regions?: StyleRegion[];
  params: TransferParams;
  /** Start image when `params.init` is `image` (e.g. a keyframe to resume from). */
  initImage?: RgbImage;
}

export interface LossValues {
  total: number;
  style: number;
  content: number;
  tv: number;
}

export interface StepResult {
  /** Iterations done so far; 0 is the initial image before any step. */
  iter: number;
  losses: LossValues;
  /** Wall time of this step in milliseconds. */
  ms: number;
}

export interface StepOptions {
  /**
   * Consulted once per layer while the step computes its gradient; returning true abandons the
   * step: it rejects with `StepInterrupted`, and the image, optimizer and `iter` are as before.
   * The server uses it to start over at once when the session's inputs change (E21).
   */
  interrupt?: () => boolean;
}

/**
 * One running optimization. `update` re-targets it warm: the current image and optimizer state
 * carry over and only what changed (e.g. style Gram targets) is recomputed.
 */
export interface StyleTransfer {
  readonly iter: number;
  /** Current size of the optimized image (changes when `resolution` does). */
  readonly width: number;
  readonly height: number;
  update(changes: Partial<TransferInputs>): void;
  /** Runs one optimizer step (one L-BFGS iteration or one Adam update). */
  step(options?: StepOptions): Promise<StepResult>;
  /** Losses of the current image without changing it. */
  evaluate(): Promise<LossValues>;
  /** The current image with the colour mode applied, as 8-bit RGB. */
  image(): Promise<RgbImage>;
  dispose(): void;
}
