/**
 * Feature networks by name. See SPEC.md in this folder for the rules every network follows
 * (input range, preprocessing, layer naming, disposal).
 */
import type { FeatureNetwork, LayerWeight } from '../api.ts';
import { loadTiny, TINY_DEFAULTS } from './tiny.ts';
import { loadNsfwjsNetwork, NSFWJS_DEFAULTS } from './nsfwjs-networks.ts';
import { loadVgg19, VGG19_DEFAULTS } from './vgg19.ts';
import { NETWORK_NAMES, type NetworkName } from '../../../shared/names.ts';

export { vgg19WeightsPath, VGG19_DEFAULT_WEIGHTS_PATH, VGG19_LAYERS } from './vgg19.ts';

/** The network names are the shared vocabulary's (shared/names.ts): the session models plus `tiny`. */
export { NETWORK_NAMES, type NetworkName } from '../../../shared/names.ts';

export interface LoadNetworkOptions {
  /** vgg19 only: the Keras notop HDF5 file (default: {@link vgg19WeightsPath}). */
  weightsPath?: string;
  /** tiny only: seed of the random weights (default 1). */
  seed?: number;
}

/** A starting choice of loss layers for a network; the engine's presets may override it. */
export interface DefaultLayers {
  contentLayers: LayerWeight[];
  styleLayers: LayerWeight[];
}

export const DEFAULT_LAYERS: Record<NetworkName, DefaultLayers> = {
  tiny: TINY_DEFAULTS,
  mobilenet_v2: NSFWJS_DEFAULTS.mobilenet_v2,
  inception_v3: NSFWJS_DEFAULTS.inception_v3,
  vgg19: VGG19_DEFAULTS,
};

/**
 * Loads (and builds) a feature network. Weights are plain tensors on the active tfjs backend, so
 * call `initBackend` first; `dispose()` frees them.
 */
export async function loadNetwork(model: NetworkName, opts: LoadNetworkOptions = {}): Promise<FeatureNetwork> {
  switch (model) {
    case 'tiny':
      return loadTiny(opts.seed ?? 1);
    case 'mobilenet_v2':
    case 'inception_v3':
      return loadNsfwjsNetwork(model);
    case 'vgg19':
      return loadVgg19(opts.weightsPath);
    default:
      throw new Error(`unknown network '${String(model)}' (expected one of ${NETWORK_NAMES.join(', ')})`);
  }
}
