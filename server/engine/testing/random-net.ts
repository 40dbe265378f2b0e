/**
 * A small seeded random convolutional {@link FeatureNetwork} built from plain tfjs ops, for the
 * engine-core tests: deterministic, fast at 8..64 px, and (with `tanh`) smooth, so finite
 * differences of the loss match its gradient. Layers: conv1, conv2, conv3 with a 2x2 pooling
 * (max or avg, per call) before conv2 and conv3.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNetwork, FeatureOptions, LayerWeight } from '../api.ts';
import { seededRandom } from '../tensor-image.ts';

export interface RandomNetOptions {
  seed?: number;
  /** Channels of conv1..conv3. Default [8, 12, 16]. */
  channels?: [number, number, number];
  activation?: 'relu' | 'tanh';
}

/** The network plus a log of `features` calls (layers requested, image shape) for spying. */
export interface RandomNet extends FeatureNetwork {
  readonly calls: { layers: string[]; shape: number[] }[];
  readonly defaultContentLayers: readonly LayerWeight[];
  readonly defaultStyleLayers: readonly LayerWeight[];
}

export function createRandomNet(options: RandomNetOptions = {}): RandomNet {
  const rand = seededRandom(options.seed ?? 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const channels = options.channels ?? [8, 12, 16];
  const activation = options.activation ?? 'relu';
  const ins = [3, channels[0], channels[1]];
  const kernels = channels.map((cout, i) => {
    const cin = ins[i];
    const std = Math.sqrt(2 / (9 * cin));
    const values = Float32Array.from({ length: 9 * cin * cout }, () => gauss() * std);
    return tf.tensor4d(values, [3, 3, cin, cout]);
  });
  const biases = channels.map((c) => tf.tensor1d(Float32Array.from({ length: c }, () => gauss() * 0.05)));
  const layers = ['conv1', 'conv2', 'conv3'] as const;
  let disposed = false;
  const calls: { layers: string[]; shape: number[] }[] = [];

  const act = (t: tf.Tensor4D): tf.Tensor4D => (activation === 'tanh' ? tf.tanh(t) : tf.relu(t));

  return {
    name: 'random-net',
    layers,
    supportsPooling: true,
    calls,
    defaultContentLayers: [{ layer: 'conv2', weight: 1 }],
    defaultStyleLayers: layers.map((layer) => ({ layer, weight: 1 })),
    features(image: tf.Tensor4D, requested: readonly string[], opts: FeatureOptions = {}) {
      if (disposed) throw new Error('random-net used after dispose()');
      if (requested.length === 0) throw new Error('random-net: no layers requested');
      for (const l of requested) {
        if (!layers.includes(l as (typeof layers)[number])) throw new Error(`random-net: unknown layer '${l}'`);
      }
      calls.push({ layers: [...requested], shape: [...image.shape] });
      const deepest = Math.max(...requested.map((l) => layers.indexOf(l as (typeof layers)[number])));
      const pool = (t: tf.Tensor4D) => (opts.pooling === 'avg' ? tf.avgPool(t, 2, 2, 'valid') : tf.maxPool(t, 2, 2, 'valid'));
      const picked = tf.tidy(() => {
        const results: tf.Tensor4D[] = [];
        let h: tf.Tensor4D = tf.sub(image, 0.5);
        for (let i = 0; i <= deepest; i++) {
          if (i > 0) h = pool(h);
          h = act(tf.add(tf.conv2d(h, kernels[i], 1, 'same'), biases[i]));
          results.push(h);
        }
        return requested.map((l) => results[layers.indexOf(l as (typeof layers)[number])]);
      });
      const out = new Map<string, tf.Tensor4D>();
      requested.forEach((l, i) => out.set(l, picked[i]));
      return out;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      kernels.forEach((k) => k.dispose());
      biases.forEach((b) => b.dispose());
    },
  };
}
