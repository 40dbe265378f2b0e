/**
 * Presets: the loss conventions that turn the document's weights (multipliers, 1 = the preset's
 * own choice) into an objective. A preset fixes layers, Gram/content normalisation, layer
 * averaging, base weights, the total-variation form, Adam constants and how images are resized;
 * the run parameters (optimizer, learning rate, pooling, init) stay the caller's, and
 * {@link presetSuggestedParams} gives the values that reproduce the preset's source.
 */
import type { FeatureNetwork, LayerWeight, OptimizerName, Pooling, InitMode, TransferInputs, TransferParams } from './api.ts';
import type { FeatureTransform, LayerAveraging, LayerLossKind, StyleGramForm, TvKind } from './losses.ts';
import { assertRgbImage, type Quantize, type SizeRounding } from './tensor-image.ts';
import { DEFAULT_LAYERS } from './networks/index.ts';
import { PARAMETERIZATION_NAMES, type ParameterizationName } from './parameterization.ts';
import { assertMaskImage } from './regions.ts';
import { COLOR_MODES, EXPERIMENT_MODES, FEATURE_TRANSFORMS, INIT_MODES, OPTIMIZER_NAMES, POOLING_NAMES, PRESET_NAMES, type PresetName } from '../../shared/names.ts';

/** Most painted regions one optimization takes (each is a Gram set and a guided Gram per layer, E34). */
export const MAX_REGIONS = 16;

export { PRESET_NAMES, type PresetName } from '../../shared/names.ts';

/** Adam constants in Keras' "epsilon hat" form (see optim/adam.ts). */
export interface AdamConstants {
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface Preset {
  name: PresetName;
  description: string;
  /** Layers for VGG19 (Keras names); null = the network's suggested layers. */
  contentLayers: readonly LayerWeight[] | null;
  styleLayers: readonly LayerWeight[] | null;
  contentLoss: LayerLossKind;
  styleLoss: LayerLossKind;
  averaging: LayerAveraging;
  tv: TvKind;
  /** TV on weighted YIQ channels instead of RGB (losses.ts); absent = RGB. */
  tvColorWeights?: readonly [number, number, number];
  /**
   * Base weights; TransferParams.contentWeight etc. multiply these. `palette` weighs the pixel
   * palette term (losses.ts paletteLoss) and is multiplied by styleWeight, since it is part of
   * "the style"; `layout` the coarse-luminance layout term (losses.ts layoutLoss), multiplied by
   * contentWeight; 0 = none.
   */
  base: { content: number; style: number; tv: number; palette: number; layout: number };
  /**
   * The palette term's distance (E26): `gaussian` compares mean and covariance of the RGB pixels,
   * `sliced` the whole distribution of 4×4-cell colours along 16 directions (sliced-palette.ts).
   * Absent = gaussian.
   */
  palette?: 'gaussian' | 'sliced';
  adam: AdamConstants;
  /** L-BFGS step size (torch's `lr`); TransferParams.learningRate is Adam's only. */
  lbfgsLearningRate: number;
  resize: { rounding: SizeRounding; antialias: boolean };
  /** How `image()` turns floats into bytes. */
  quantize: Quantize;
  /** Feature transform when TransferParams.featureTransform is omitted. */
  featureTransform: FeatureTransform;
  /**
   * How a layer's style loss is computed (E6): `gram` always forms the C×C Gram, as the source
   * does, so float32 rounding follows it (the reference presets: with the row form the tutorial's
   * 10-step curve at 128 px was no longer bit-identical to the previous release's, its largest
   * loss difference to the reference 4.3e-3 instead of 3.9e-3, docs/REFERENCE.md); `fastest` goes
   * through the row Gram where a layer has fewer positions than channels (same value, faster).
   */
  styleGram: StyleGramForm;
  /**
   * How the image is optimized (E23–E26): its parameterization (`pyramid` levels), random shifts of
   * up to `jitter` px before the network sees it (0 = none), and the exponential average of the
   * iterates that `image()` shows (`average` = its decay per step, 0 = the iterate itself).
   */
  image: { parameterization: ParameterizationName; levels: number; jitter: number; average: number };
  /** Run parameters that reproduce the preset's source (for UIs and the CLI). */
  suggested: { optimizer: OptimizerName; learningRate: number; pooling: Pooling; init: InitMode };
}

const VGG_STYLE_LAYERS = ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1', 'block5_conv1'];

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'tf-tutorial': {
    name: 'tf-tutorial',
    description:
      'The TensorFlow "Neural style transfer" tutorial: VGG19, content block5_conv2, style block1..5_conv1, ' +
      'mean-squared Gram/feature errors, style 1e-2, content 1e4, TV 30, Keras Adam(0.02, 0.99, 0.999, 1e-1).',
    contentLayers: [{ layer: 'block5_conv2', weight: 1 }],
    styleLayers: VGG_STYLE_LAYERS.map((layer) => ({ layer, weight: 1 })),
    contentLoss: 'mse',
    styleLoss: 'mse',
    averaging: 'count',
    tv: 'sum',
    base: { content: 1e4, style: 1e-2, tv: 30, palette: 0, layout: 0 },
    adam: { beta1: 0.99, beta2: 0.999, epsilon: 1e-1 },
    lbfgsLearningRate: 1,
    resize: { rounding: 'floor', antialias: false },
    quantize: 'truncate',
    featureTransform: 'none',
    styleGram: 'gram',
    image: { parameterization: 'pixels', levels: 1, jitter: 0, average: 0 },
    suggested: { optimizer: 'adam', learningRate: 0.02, pooling: 'max', init: 'content' },
  },
  gatys2015: {
    name: 'gatys2015',
    description:
      'Gatys, Ecker & Bethge 2015: content conv4_2, style conv1_1..conv5_1 (1/5 each), average pooling, ' +
      'content 1/2 sum (F-P)^2, style 1/(4N^2M^2) sum (G-A)^2, alpha/beta = 1e-3, L-BFGS, no TV.',
    contentLayers: [{ layer: 'block4_conv2', weight: 1 }],
    styleLayers: VGG_STYLE_LAYERS.map((layer) => ({ layer, weight: 1 / 5 })),
    contentLoss: 'gatys',
    styleLoss: 'gatys',
    averaging: 'none',
    tv: 'sum',
    // alpha = 1, beta = 1e3 (alpha/beta = 1e-3). The paper has no TV term: tvWeight has no effect.
    base: { content: 1, style: 1e3, tv: 0, palette: 0, layout: 0 },
    adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    lbfgsLearningRate: 1,
    resize: { rounding: 'round', antialias: true },
    quantize: 'round',
    featureTransform: 'none',
    styleGram: 'gram',
    image: { parameterization: 'pixels', levels: 1, jitter: 0, average: 0 },
    suggested: { optimizer: 'lbfgs', learningRate: 0.02, pooling: 'avg', init: 'noise' },
  },
  default: {
    name: 'default',
    description:
      "For the embedded networks: the network's suggested layers, errors relative to the target's energy " +
      '(scale free across networks), weights normalised over layers, a 4-level pyramid in a decorrelated ' +
      'colour basis under random shifts, a sliced-Wasserstein palette term and a layout term, TV on YIQ, Adam.',
    contentLayers: null,
    styleLayers: null,
    contentLoss: 'relative',
    styleLoss: 'relative',
    averaging: 'weight-sum',
    tv: 'mean',
    // Chosen by the comparison in docs/STYLIZATION.md (candidates P3, P4; 9 content/style pairs, 6 of
    // them held out, 256 px, 50/150/300 Adam steps at 0.01): pixel-space Adam on these networks
    // gave "photo with grain" (palette distance 1.02 on chelsea x The Starry Night); the
    // decorrelated pyramid with ±8 px shifts and the palette term paints (0.25), TV on YIQ with
    // chroma x6 keeps colour speckle below the paintings' own (0.83 on astronaut x The Scream,
    // 1.26 with chroma x4 and the layout term), and the layout term keeps the composition
    // (layout 0.93-0.98; 0.74-0.82 without it).
    tvColorWeights: [1, 6, 6],
    // Candidates P4, P5: the sliced palette matches each painting's colour families, where the
    // Gaussian one (P3) matched their blend: palette distance after 150 steps 0.10-0.33 on all 9
    // pairs (P3: 0.25-0.68; giraffe x The Great Wave 0.33 vs 0.68), speckle lower too; layout 2
    // (P5) keeps Chambord x Kandinsky's composition (0.85 -> 0.92) for +0.00-0.03 of palette.
    base: { content: 2, style: 10, tv: 30, palette: 100, layout: 2 },
    palette: 'sliced',
    adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    lbfgsLearningRate: 1,
    resize: { rounding: 'round', antialias: true },
    quantize: 'round',
    featureTransform: 'none',
    styleGram: 'fastest',
    // Per-level Adam 0.01: 0.05 diverged to saturated blotches (issue probe), 0.02 speckles.
    image: { parameterization: 'pyramid-decorrelated', levels: 4, jitter: 8, average: 0 },
    suggested: { optimizer: 'adam', learningRate: 0.01, pooling: 'avg', init: 'content' },
  },
};

export function getPreset(name: string): Preset {
  const p = (PRESETS as Record<string, Preset | undefined>)[name];
  if (!p) throw new Error(`unknown preset '${name}' (expected one of ${PRESET_NAMES.join(', ')})`);
  return p;
}

/** Parameters that reproduce the preset's source with weights 1/1/1. */
export function presetSuggestedParams(name: PresetName): TransferParams {
  const p = getPreset(name);
  return {
    preset: name,
    contentWeight: 1,
    styleWeight: 1,
    tvWeight: 1,
    optimizer: p.suggested.optimizer,
    learningRate: p.suggested.learningRate,
    resolution: name === 'tf-tutorial' ? 512 : 256,
    pooling: p.suggested.pooling,
    colors: 'style',
    init: p.suggested.init,
    seed: 1,
  };
}

/**
 * Optional fields a {@link FeatureNetwork} may carry with its recommended layers (the embedded
 * networks do); read by duck typing so any network works.
 */
interface NetworkLayerHints {
  defaultContentLayers?: readonly LayerWeight[];
  defaultStyleLayers?: readonly LayerWeight[];
}

/**
 * The network's suggested layers: hints on the network object, else `DEFAULT_LAYERS[name]` of the
 * embedded networks, else a generic choice: content = the layer at 60% depth, style = up to five
 * layers spread evenly from the first to the deepest.
 */
export function suggestedLayers(network: FeatureNetwork): { content: LayerWeight[]; style: LayerWeight[] } {
  const hints = network as FeatureNetwork & NetworkLayerHints;
  const known = (DEFAULT_LAYERS as Record<string, { contentLayers: LayerWeight[]; styleLayers: LayerWeight[] } | undefined>)[
    network.name
  ];
  const names = network.layers;
  if (names.length === 0) throw new Error(`network '${network.name}' exposes no layers`);
  const pick = (...options: (readonly LayerWeight[] | undefined)[]) => options.find((o) => o != null && o.length > 0);
  const contentHint = pick(hints.defaultContentLayers, known?.contentLayers);
  const styleHint = pick(hints.defaultStyleLayers, known?.styleLayers);
  const content = contentHint
    ? contentHint.map((l) => ({ ...l }))
    : [{ layer: names[Math.min(names.length - 1, Math.floor(names.length * 0.6))], weight: 1 }];
  let style: LayerWeight[];
  if (styleHint) {
    style = styleHint.map((l) => ({ ...l }));
  } else {
    const count = Math.min(5, names.length);
    const picks = new Set<string>();
    for (let i = 0; i < count; i++) picks.add(names[Math.round((i * (names.length - 1)) / Math.max(count - 1, 1))]);
    style = [...picks].map((layer) => ({ layer, weight: 1 }));
  }
  return { content, style };
}

/**
 * Layers of `preset` on `network`: explicit overrides first, then the preset's own (when the
 * network has all of them, i.e. VGG19 for the paper presets), else the network's suggestion.
 */
export function resolveLayers(
  preset: Preset,
  network: FeatureNetwork,
  overrides: { contentLayers?: LayerWeight[]; styleLayers?: LayerWeight[] },
): { content: LayerWeight[]; style: LayerWeight[] } {
  const has = (ls: readonly LayerWeight[] | null): ls is readonly LayerWeight[] =>
    ls != null && ls.every((l) => network.layers.includes(l.layer));
  const suggestion = suggestedLayers(network);
  const content = overrides.contentLayers ?? (has(preset.contentLayers) ? [...preset.contentLayers] : suggestion.content);
  const style = overrides.styleLayers ?? (has(preset.styleLayers) ? [...preset.styleLayers] : suggestion.style);
  for (const [kind, ls] of [
    ['content', content],
    ['style', style],
  ] as const) {
    for (const l of ls) {
      if (!network.layers.includes(l.layer)) {
        throw new Error(`${kind} layer '${l.layer}' is not a layer of ${network.name} (layers: ${network.layers.join(', ')})`);
      }
      if (!Number.isFinite(l.weight) || l.weight < 0) {
        throw new Error(`${kind} layer '${l.layer}' has invalid weight ${l.weight} (must be finite and >= 0)`);
      }
    }
  }
  return { content: content.map((l) => ({ ...l })), style: style.map((l) => ({ ...l })) };
}

function oneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) {
    throw new Error(`params.${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
}

function finiteAtLeast(name: string, value: unknown, min: number, strict = false): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (strict && value === min)) {
    throw new Error(`${name} must be a finite number ${strict ? '>' : '>='} ${min} (got ${String(value)})`);
  }
}

/** E2: throws a clear error for malformed inputs (layers are checked against the network later). */
export function validateInputs(inputs: TransferInputs): void {
  if (inputs == null || typeof inputs !== 'object') throw new Error('transfer inputs must be an object');
  assertRgbImage(inputs.content, 'content');
  if (!Array.isArray(inputs.styles)) throw new Error('styles must be an array');
  inputs.styles.forEach((s, i) => {
    assertRgbImage(s?.image, `styles[${i}].image`);
    finiteAtLeast(`styles[${i}].weight`, s.weight, 0);
    finiteAtLeast(`styles[${i}].scale`, s.scale, 0, true);
  });
  if (inputs.regions !== undefined) {
    if (!Array.isArray(inputs.regions)) throw new Error('regions must be an array');
    if (inputs.regions.length > MAX_REGIONS) throw new Error(`at most ${MAX_REGIONS} regions (got ${inputs.regions.length})`);
    inputs.regions.forEach((r, i) => {
      assertRgbImage(r?.image, `regions[${i}].image`);
      finiteAtLeast(`regions[${i}].scale`, r.scale, 0, true);
      assertMaskImage(r.mask, `regions[${i}].mask`);
    });
  }
  const p = inputs.params;
  if (p == null || typeof p !== 'object') throw new Error('params must be an object');
  getPreset(p.preset);
  finiteAtLeast('params.contentWeight', p.contentWeight, 0);
  finiteAtLeast('params.styleWeight', p.styleWeight, 0);
  finiteAtLeast('params.tvWeight', p.tvWeight, 0);
  finiteAtLeast('params.learningRate', p.learningRate, 0, true);
  if (!Number.isInteger(p.resolution) || p.resolution < 8 || p.resolution > 8192) {
    throw new Error(`params.resolution must be an integer in [8, 8192] (got ${String(p.resolution)})`);
  }
  if (!Number.isInteger(p.seed)) throw new Error(`params.seed must be an integer (got ${String(p.seed)})`);
  oneOf('optimizer', p.optimizer, OPTIMIZER_NAMES);
  oneOf('pooling', p.pooling, POOLING_NAMES);
  oneOf('colors', p.colors, COLOR_MODES);
  oneOf('init', p.init, INIT_MODES);
  if (p.mode !== undefined) oneOf('mode', p.mode, EXPERIMENT_MODES);
  if (p.featureTransform !== undefined) oneOf('featureTransform', p.featureTransform, FEATURE_TRANSFORMS);
  if (p.parameterization !== undefined) oneOf('parameterization', p.parameterization, PARAMETERIZATION_NAMES);
  if (p.jitter !== undefined && !(Number.isInteger(p.jitter) && p.jitter >= 0 && p.jitter <= 64)) {
    throw new Error(`params.jitter must be an integer in [0, 64] (got ${String(p.jitter)})`);
  }
  if (p.paletteWeight !== undefined) finiteAtLeast('params.paletteWeight', p.paletteWeight, 0);
  if (p.restart !== undefined && !Number.isInteger(p.restart)) throw new Error(`params.restart must be an integer (got ${String(p.restart)})`);
  if (p.init === 'image') {
    if (inputs.initImage == null) throw new Error("params.init is 'image' but no initImage was given");
    assertRgbImage(inputs.initImage, 'initImage');
  }
}
