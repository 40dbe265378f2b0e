/**
 * `tiny`: a three-convolution random-weight network for fast tests of everything above the
 * feature network (losses, optimizers, the session loop). Deterministic for a given seed; its
 * features mean nothing perceptually.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerWeight } from '../api.ts';
import { Conv2D } from '../ops/conv.ts';
import { LayerGraph, pool2d, type GraphNode } from './graph.ts';

export const TINY_LAYERS = ['conv1', 'pool1', 'conv2', 'pool2', 'conv3'] as const;

/** Suggested loss layers for `tiny` (same shape of choice as for the real networks). */
export const TINY_DEFAULTS: { contentLayers: LayerWeight[]; styleLayers: LayerWeight[] } = {
  contentLayers: [{ layer: 'conv3', weight: 1 }],
  styleLayers: [
    { layer: 'conv1', weight: 1 },
    { layer: 'conv2', weight: 1 },
    { layer: 'conv3', weight: 1 },
  ],
};

/** He-normal kernel and small bias, seeded so two loads with one seed give the same network. */
function randomConv(kh: number, cin: number, cout: number, seed: number): Conv2D {
  const std = Math.sqrt(2 / (kh * kh * cin));
  return new Conv2D({
    kernel: tf.randomNormal([kh, kh, cin, cout], 0, std, 'float32', seed) as tf.Tensor4D,
    bias: tf.randomNormal([cout], 0, 0.05, 'float32', seed + 1) as tf.Tensor1D,
    strides: 1,
    padding: 'same',
    activation: 'relu',
  });
}

/** Builds `tiny` (conv1 3→8, pool1, conv2 8→16, pool2, conv3 16→32; 3×3 convs, 2×2 pools). */
export function loadTiny(seed = 1): LayerGraph {
  const convs = [randomConv(3, 3, 8, seed * 10 + 1), randomConv(3, 8, 16, seed * 10 + 3), randomConv(3, 16, 32, seed * 10 + 5)];
  const conv = (name: string, input: string, layer: Conv2D): GraphNode => ({
    name,
    inputs: [input],
    run: ([x]) => layer.apply(x as tf.Tensor4D),
  });
  const pool = (name: string, input: string): GraphNode => ({
    name,
    inputs: [input],
    run: ([x], options) => pool2d(x as tf.Tensor4D, [2, 2], [2, 2], 'valid', options.pooling ?? 'max'),
  });
  return new LayerGraph({
    name: 'tiny',
    inputName: 'input',
    nodes: [conv('conv1', 'input', convs[0]), pool('pool1', 'conv1'), conv('conv2', 'pool1', convs[1]), pool('pool2', 'conv2'), conv('conv3', 'pool2', convs[2])],
    selectable: [...TINY_LAYERS],
    supportsPooling: true,
    // centre the [0, 1] input like the real networks' preprocessing does
    preprocess: (image) => tf.sub(image, 0.5),
    disposeWeights: () => convs.forEach((c) => c.dispose()),
  });
}
