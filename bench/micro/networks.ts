/**
 * Benchmark (not a test): forward and forward+backward time of each feature network on its
 * default style + content layers, with the custom conv gradients and with tfjs's builtin ones.
 *
 *   node --import tsx bench/micro/networks.ts [--backend wasm] [--size 256] [--repeat 3] [--models tiny,mobilenet_v2,inception_v3]
 *
 * The loss is a stand-in (sum of mean squared features) so only the network is measured. "n/a":
 * the builtin gradient needs a kernel the backend lacks (wasm: DepthwiseConv2dNativeBackpropInput).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../server/engine/platform/backend.ts';
import type { BackendName } from '../../server/engine/api.ts';
import { arg, timeBuiltinAndCustom, timeMs } from './timing.ts';
import { loadNetwork, DEFAULT_LAYERS, NETWORK_NAMES, type NetworkName } from '../../server/engine/networks/index.ts';

const backend = await initBackend(arg('backend', 'wasm') as BackendName);
const size = Number(arg('size', '256'));
const repeat = Number(arg('repeat', '3'));
const models = arg('models', 'tiny,mobilenet_v2,inception_v3').split(',') as NetworkName[];
for (const m of models) if (!NETWORK_NAMES.includes(m)) throw new Error(`unknown network ${m}`);
console.log(`backend ${backend}, ${size}x${size}, median of ${repeat} after 1 warm-up; ms`);
console.log(['network', 'layers', 'forward', 'fwd+bwd builtin', 'fwd+bwd custom'].join('\t'));
for (const model of models) {
  const net = await loadNetwork(model);
  const defaults = DEFAULT_LAYERS[model];
  const layers = [...new Set([...defaults.styleLayers, ...defaults.contentLayers].map((l) => l.layer))];
  const image = tf.randomUniform([1, size, size, 3]) as tf.Tensor4D;
  const forward = await timeMs(() => [...net.features(image, layers).values()], repeat);
  const loss = (x: tf.Tensor) => tf.addN([...net.features(x as tf.Tensor4D, layers).values()].map((f) => tf.mean(tf.square(f))));
  const withGrad = () => tf.grad(loss)(image);
  const { builtin, custom } = await timeBuiltinAndCustom(withGrad, repeat);
  const fmt = (v: number | null) => (v == null ? 'n/a' : v.toFixed(0));
  console.log([model, layers.length, fmt(forward), fmt(builtin), fmt(custom)].join('\t'));
  image.dispose();
  net.dispose();
}
