/**
 * Every name list of Atelier, declared once and free of zod so the engine, the CLI and the
 * configuration can import it as well as the document schema (shared/schema.ts builds its zod
 * enums from these). shared/names.test.ts checks that every list built elsewhere from these
 * names (engine presets, the network registry, CLI choices, config) agrees with them.
 */

/** Models a session may choose (document `params.model`). `vgg19` needs a user-supplied weights file. */
export const MODEL_NAMES = ['mobilenet_v2', 'inception_v3', 'vgg19'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Feature networks the engine builds: the models plus `tiny` (random weights; tests, CLI and benchmarks). */
export const NETWORK_NAMES = [...MODEL_NAMES, 'tiny'] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

/** Presets bundle layer choices and loss conventions; `default` is the embedded-model setup. */
export const PRESET_NAMES = ['default', 'tf-tutorial', 'gatys2015'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** tfjs backends, in the order `auto` tries them. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export const OPTIMIZER_NAMES = ['adam', 'lbfgs'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export const POOLING_NAMES = ['max', 'avg'] as const;
export type Pooling = (typeof POOLING_NAMES)[number];

/** How the result's colours are kept: the style's, the content's luminance only, or histogram-matched. */
export const COLOR_MODES = ['style', 'luminance', 'histogram'] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

/** Where an optimization starts in a session document. */
export const DOC_INIT_MODES = ['content', 'noise'] as const;
/** The engine's starting points: the document's, plus a given image (CLI `--init-image`). */
export const INIT_MODES = [...DOC_INIT_MODES, 'image'] as const;
export type InitMode = (typeof INIT_MODES)[number];

/** What an engine run optimizes: the transfer, or one of its two halves alone (Gatys et al. fig. 1). */
export const EXPERIMENT_MODES = ['transfer', 'reconstruct-content', 'synthesize-style'] as const;
export type ExperimentMode = (typeof EXPERIMENT_MODES)[number];

/** Feature transform before the style Gram matrices. */
export const FEATURE_TRANSFORMS = ['none', 'softmax'] as const;
export type FeatureTransformName = (typeof FEATURE_TRANSFORMS)[number];

/** How the engine parameterizes the optimized image (engine SPEC E23). */
export const PARAMETERIZATION_NAMES = ['pixels', 'pyramid', 'pyramid-decorrelated'] as const;
export type ParameterizationName = (typeof PARAMETERIZATION_NAMES)[number];

/** Stroke tools of the content paint and of the style brush. */
export const STROKE_TOOLS = ['brush', 'eraser'] as const;
