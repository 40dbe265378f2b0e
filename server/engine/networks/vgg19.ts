/**
 * VGG19 (the network of Gatys et al.) from Keras' ImageNet "notop" weights file
 * `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, read with h5wasm.
 *
 * File layout (Keras `save_weights`): root attribute `layer_names` lists the layers; each layer
 * group has an attribute `weight_names` (kernel, HWIO, then bias) naming datasets relative to the
 * group (`block1_conv1_W_1:0` in the original Keras 1 file, `block1_conv1/kernel:0` from Keras 2).
 * We follow `weight_names`, so both work. Channel counts are taken from the file (validated as a
 * chain), so small test files in the same layout load too.
 *
 * Preprocessing is Keras' 'caffe' mode: ×255, RGB→BGR, minus the ImageNet BGR means.
 */
import * as tf from '@tensorflow/tfjs-core';
import h5wasm from 'h5wasm/node';
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LayerWeight } from '../api.ts';
import { Conv2D } from '../ops/conv.ts';
import { LayerGraph, pool2d, type GraphNode } from './graph.ts';

/** Where the weights script puts the file and where {@link vgg19WeightsPath} looks last. */
export const VGG19_DEFAULT_WEIGHTS_PATH = path.join(
  os.homedir(),
  '.cache',
  'atelier',
  'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
);

/** Convolutions per block of VGG19. */
const BLOCKS = [2, 2, 4, 4, 4] as const;

/** VGG19 notop layer names in forward order (convolutions and pools). */
export const VGG19_LAYERS: readonly string[] = BLOCKS.flatMap((convs, b) => [
  ...Array.from({ length: convs }, (_, c) => `block${b + 1}_conv${c + 1}`),
  `block${b + 1}_pool`,
]);

/** Gatys et al. 2016: content conv4_2, style conv1_1 … conv5_1 (equal weights). */
export const VGG19_DEFAULTS: { contentLayers: LayerWeight[]; styleLayers: LayerWeight[] } = {
  contentLayers: [{ layer: 'block4_conv2', weight: 1 }],
  styleLayers: ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block4_conv1', 'block5_conv1'].map((layer) => ({ layer, weight: 1 })),
};

/** ImageNet channel means in BGR order, as Keras' `preprocess_input(mode='caffe')` subtracts. */
export const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68] as const;

/**
 * The weights file to use: `explicit` (e.g. a CLI flag), else env `VGG19_WEIGHTS`, else
 * {@link VGG19_DEFAULT_WEIGHTS_PATH}.
 */
export function vgg19WeightsPath(explicit?: string): string {
  return path.resolve(explicit || process.env.VGG19_WEIGHTS || VGG19_DEFAULT_WEIGHTS_PATH);
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** HDF5 files start with the signature at offset 0, 512, 1024, … (superblock search rule). */
function looksLikeHdf5(file: string): boolean {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size && offset <= 1 << 20; offset = offset === 0 ? 512 : offset * 2) {
      readSync(fd, buf, 0, 8, offset);
      if (HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** An attribute holding a list of strings (h5py writes fixed-length byte strings). */
function stringList(value: unknown): string[] {
  const one = (v: unknown): string => (v instanceof Uint8Array ? new TextDecoder().decode(v).replace(/\0+$/, '') : String(v));
  if (value == null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(one);
  if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array)) return []; // empty numeric array: no names
  return [one(value)];
}

interface ConvWeights {
  kernel: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array;
}

/** Reads and validates the conv weights of every VGG19 layer from the HDF5 file. */
async function readWeights(file: string): Promise<Map<string, ConvWeights>> {
  if (!existsSync(file)) {
    throw new Error(
      `VGG19 weights not found at ${file}: download them with \`npm run weights:vgg19\`, or set VGG19_WEIGHTS / pass a weights path`,
    );
  }
  if (!looksLikeHdf5(file)) throw new Error(`${file} is not an HDF5 file (expected the Keras VGG19 notop weights .h5)`);
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'r');
  try {
    const layerNames = stringList(h5.attrs['layer_names']?.value);
    const result = new Map<string, ConvWeights>();
    let inChannels = 3;
    for (const layer of VGG19_LAYERS) {
      if (!layer.includes('_conv')) continue;
      const group = layerNames.includes(layer) ? h5.get(layer) : null;
      if (!group || !(group instanceof h5wasm.Group)) {
        throw new Error(`${file}: this does not look like the Keras VGG19 notop weights: missing ${layer}`);
      }
      const names = stringList(group.attrs['weight_names']?.value);
      if (names.length !== 2) throw new Error(`${file}: ${layer} lists ${names.length} weights, expected kernel and bias`);
      const [kernelSet, biasSet] = names.map((n) => group.get(n));
      if (!(kernelSet instanceof h5wasm.Dataset) || !(biasSet instanceof h5wasm.Dataset)) {
        throw new Error(`${file}: ${layer} weights ${names.join(', ')} are not datasets`);
      }
      const shape = kernelSet.shape as number[];
      if (shape.length !== 4 || shape[0] !== 3 || shape[1] !== 3 || shape[2] !== inChannels) {
        throw new Error(`${file}: ${layer} kernel has shape [${shape}], expected [3, 3, ${inChannels}, out]`);
      }
      const outChannels = shape[3];
      const kernel = Float32Array.from(kernelSet.value as ArrayLike<number>);
      const bias = Float32Array.from(biasSet.value as ArrayLike<number>);
      if (bias.length !== outChannels) throw new Error(`${file}: ${layer} bias has ${bias.length} values for ${outChannels} channels`);
      result.set(layer, { kernel, shape: shape as [number, number, number, number], bias });
      inChannels = outChannels;
    }
    return result;
  } finally {
    h5.close();
  }
}

/** Builds VGG19 from the notop weights file at `vgg19WeightsPath(weightsPath)`. */
export async function loadVgg19(weightsPath?: string): Promise<LayerGraph> {
  const weights = await readWeights(vgg19WeightsPath(weightsPath));
  const convs: Conv2D[] = [];
  const nodes: GraphNode[] = [];
  let previous = 'input';
  for (const layer of VGG19_LAYERS) {
    const w = weights.get(layer);
    if (w) {
      const conv = new Conv2D({
        kernel: tf.tensor4d(w.kernel, w.shape),
        bias: tf.tensor1d(w.bias),
        strides: 1,
        padding: 'same',
        activation: 'relu',
      });
      convs.push(conv);
      nodes.push({ name: layer, inputs: [previous], run: ([x]) => conv.apply(x as tf.Tensor4D) });
    } else {
      nodes.push({ name: layer, inputs: [previous], run: ([x], o) => pool2d(x as tf.Tensor4D, [2, 2], [2, 2], 'valid', o.pooling ?? 'max') });
    }
    previous = layer;
  }
  const mean = tf.tensor1d([...CAFFE_BGR_MEAN]);
  return new LayerGraph({
    name: 'vgg19',
    inputName: 'input',
    nodes,
    selectable: [...VGG19_LAYERS],
    supportsPooling: true,
    preprocess: (image) => tf.sub(tf.mul(tf.reverse(image, -1), 255), mean),
    disposeWeights: () => {
      convs.forEach((c) => c.dispose());
      mean.dispose();
    },
  });
}
