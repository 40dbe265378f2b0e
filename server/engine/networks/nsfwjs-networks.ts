/**
 * MobileNetV2 and InceptionV3 feature networks built from the Keras models shipped with nsfwjs.
 *
 * Preprocessing: none beyond what nsfwjs does, which is `pixel / 255` — i.e. exactly our RGB
 * [0, 1] input (nsfwjs also resizes to 224/299; we do not: the trunks are fully convolutional,
 * only the classifier head needs the trained size).
 */
import type { LayerWeight } from '../api.ts';
import type { LayerGraph } from './graph.ts';
import { buildKerasGraph } from './keras.ts';
import { loadNsfwjsModel, type NsfwjsModel } from './nsfwjs.ts';

/** Layers after which the classifier head starts; nothing from there on is selectable. */
const HEAD_START: Record<NsfwjsModel, string> = {
  mobilenet_v2: 'average_pooling2d_1',
  inception_v3: 'average_pooling2d_10',
};

/** Size nsfwjs feeds each model (the classifier head only works at this size). */
export const NSFWJS_INPUT_SIZE: Record<NsfwjsModel, number> = { mobilenet_v2: 224, inception_v3: 299 };

/** Name of the softmax output node of each model (for tests; not a feature layer). */
export const NSFWJS_OUTPUT = 'dense_3';

function selectable(model: NsfwjsModel, nodeNames: string[], classOf: Map<string, string>): string[] {
  const headAt = nodeNames.indexOf(HEAD_START[model]);
  const trunk = headAt >= 0 ? nodeNames.slice(0, headAt) : nodeNames;
  if (model === 'mobilenet_v2') {
    // ReLU6 outputs (Conv1_relu, block_N_expand_relu, block_N_depthwise_relu, out_relu), residual
    // sums (block_N_add) and linear bottleneck outputs (block_N_project_BN)
    return trunk.filter((n) => classOf.get(n) === 'ReLU' || classOf.get(n) === 'Add' || n.endsWith('project_BN'));
  }
  // activation_N (ReLU after every conv), mixedN block outputs and the stem's max pools
  return trunk.filter((n) => ['Activation', 'Concatenate', 'MaxPooling2D'].includes(classOf.get(n) ?? ''));
}

/**
 * Suggested loss layers. MobileNetV2: the wide ReLU6 expansions from 1/4 to 1/32 resolution for
 * style (block_3, 6, 10, 13, 16), the 1/8-resolution expansion for content — the analogue of
 * VGG's conv4_2. The shallow layers (Conv1_relu, block_1 at 1/2) were dropped after a visual
 * comparison (docs/STYLIZATION.md): they mostly turned style into pixel-level colour speckle,
 * while the deeper expansions give brush-stroke texture. InceptionV3: stem activations and the
 * first mixed blocks for style, mixed2 for content (its blocky artefacts did not go away with any
 * layer set, TV weight, pooling or feature transform tried).
 */
export const NSFWJS_DEFAULTS: Record<NsfwjsModel, { contentLayers: LayerWeight[]; styleLayers: LayerWeight[] }> = {
  mobilenet_v2: {
    contentLayers: [{ layer: 'block_6_expand_relu', weight: 1 }],
    styleLayers: ['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu'].map((layer) => ({ layer, weight: 1 })),
  },
  inception_v3: {
    contentLayers: [{ layer: 'mixed2', weight: 1 }],
    styleLayers: ['activation_1', 'activation_3', 'activation_5', 'mixed0', 'mixed1', 'mixed3'].map((layer) => ({ layer, weight: 1 })),
  },
};

/** Builds one of the nsfwjs networks (weights parsed once per process, tensors per call). */
export async function loadNsfwjsNetwork(model: NsfwjsModel, options: { fold?: boolean } = {}): Promise<LayerGraph> {
  const parsed = await loadNsfwjsModel(model);
  return buildKerasGraph(parsed.config, parsed.weights, {
    name: model,
    selectable: (names, classOf) => selectable(model, names, classOf),
    supportsPooling: model === 'inception_v3',
    preprocess: (image) => image,
    fold: options.fold,
  });
}
