import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import h5wasm, { type Group } from 'h5wasm/node';
import { initBackend } from '../platform/backend.ts';
import { loadNetwork, DEFAULT_LAYERS, vgg19WeightsPath, VGG19_DEFAULT_WEIGHTS_PATH, VGG19_LAYERS } from './index.ts';
import { CAFFE_BGR_MEAN } from './vgg19.ts';

/** Small channel counts per block; the loader takes channel counts from the file. */
const CHANNELS = [4, 6, 8, 8, 8];

interface LayerWeights {
  kernel: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array;
}

function stringAttr(obj: Pick<Group, 'create_attribute'>, name: string, values: string[]): void {
  if (values.length === 0) obj.create_attribute(name, new Float64Array(0), [0], '<d');
  else obj.create_attribute(name, values, [values.length], `A${Math.max(...values.map((v) => v.length))}`);
}

/** Writes a VGG19 notop file in the Keras layout with random tiny weights; returns the weights. */
async function writeKerasVgg19(file: string, naming: 'v0.1' | 'keras2', skip?: string): Promise<Map<string, LayerWeights>> {
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'w');
  const weights = new Map<string, LayerWeights>();
  try {
    const layers = VGG19_LAYERS.filter((l) => l !== skip);
    stringAttr(h5, 'layer_names', ['input_1', ...layers]);
    stringAttr(h5.create_group('input_1'), 'weight_names', []);
    let inChannels = 3;
    let seed = 1;
    for (const layer of layers) {
      const group = h5.create_group(layer);
      if (layer.endsWith('_pool')) {
        stringAttr(group, 'weight_names', []);
        continue;
      }
      const out = CHANNELS[Number(layer[5]) - 1];
      const shape: [number, number, number, number] = [3, 3, inChannels, out];
      const kernel = tf.tidy(() => tf.randomNormal(shape, 0, Math.sqrt(2 / (9 * inChannels)) / 100, 'float32', seed++).dataSync() as Float32Array);
      const bias = tf.tidy(() => tf.randomNormal([out], 0, 0.002, 'float32', seed++).dataSync() as Float32Array);
      const names = naming === 'v0.1' ? [`${layer}_W_1:0`, `${layer}_b_1:0`] : [`${layer}/kernel:0`, `${layer}/bias:0`];
      stringAttr(group, 'weight_names', names);
      const parent = naming === 'v0.1' ? group : group.create_group(layer);
      parent.create_dataset({ name: names[0].split('/').pop()!, data: kernel, shape, dtype: '<f4' });
      parent.create_dataset({ name: names[1].split('/').pop()!, data: bias, shape: [out], dtype: '<f4' });
      weights.set(layer, { kernel, shape, bias });
      inChannels = out;
    }
  } finally {
    h5.close();
  }
  return weights;
}

/** VGG19 with plain tfjs ops straight from the weights: the reference for the loader. */
function referenceFeatures(image: tf.Tensor4D, weights: Map<string, LayerWeights>, upTo: string, pooling: 'max' | 'avg'): tf.Tensor4D {
  return tf.tidy(() => {
    let x = tf.sub(tf.mul(tf.reverse(image, -1), 255), tf.tensor1d([...CAFFE_BGR_MEAN])) as tf.Tensor4D;
    for (const layer of VGG19_LAYERS) {
      const w = weights.get(layer);
      if (w) x = tf.relu(tf.add(tf.conv2d(x, tf.tensor4d(w.kernel, w.shape), 1, 'same'), tf.tensor1d(w.bias))) as tf.Tensor4D;
      else x = pooling === 'max' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid');
      if (layer === upTo) return x;
    }
    throw new Error(`no layer ${upTo}`);
  });
}

describe('vgg19 from the Keras notop HDF5 layout', () => {
  let dir: string;
  before(async () => {
    await initBackend('cpu');
    dir = mkdtempSync(path.join(os.tmpdir(), 'atelier-vgg19-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const naming of ['v0.1', 'keras2'] as const) {
    test(`N1/N2/N4: a ${naming}-named file loads and its features equal a plain-ops VGG19 with caffe preprocessing`, async () => {
      const file = path.join(dir, `vgg19-${naming}.h5`);
      const weights = await writeKerasVgg19(file, naming);
      const net = await loadNetwork('vgg19', { weightsPath: file });
      assert.deepEqual(net.layers, VGG19_LAYERS);
      assert.equal(net.layers.length, 21);
      assert.equal(net.supportsPooling, true);
      const image = tf.randomUniform([1, 64, 48, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
      for (const pooling of ['max', 'avg'] as const) {
        const layers = ['block1_conv1', 'block3_conv1', 'block4_conv2', 'block5_pool'];
        const feats = net.features(image, layers, { pooling });
        assert.deepEqual(feats.get('block1_conv1')!.shape, [1, 64, 48, 4]);
        assert.deepEqual(feats.get('block4_conv2')!.shape, [1, 8, 6, 8]);
        assert.deepEqual(feats.get('block5_pool')!.shape, [1, 2, 1, 8]);
        for (const l of layers) {
          const want = referenceFeatures(image, weights, l, pooling);
          const scale = Math.max(1e-6, tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]));
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(feats.get(l)!, want))).dataSync()[0]);
          assert.ok(scale > 1e-4, `${l}: reference features are all zero`);
          assert.ok(diff / scale < 1e-4, `${l} (${pooling}): differs by ${diff} (scale ${scale})`);
          want.dispose();
        }
        tf.dispose([...feats.values()]);
      }
      image.dispose();
      net.dispose();
    });
  }

  test('N6/N10: a missing file, a non-HDF5 file and an HDF5 file without VGG19 layers are clear errors', async () => {
    await assert.rejects(loadNetwork('vgg19', { weightsPath: path.join(dir, 'nope.h5') }), /VGG19 weights not found at .*nope\.h5.*npm run weights:vgg19/);
    const text = path.join(dir, 'not.h5');
    writeFileSync(text, 'this is not hdf5 at all, just some text that is long enough to read');
    await assert.rejects(loadNetwork('vgg19', { weightsPath: text }), /is not an HDF5 file/);
    const partial = path.join(dir, 'partial.h5');
    await writeKerasVgg19(partial, 'v0.1', 'block3_conv1');
    await assert.rejects(loadNetwork('vgg19', { weightsPath: partial }), /this does not look like the Keras VGG19 notop weights: missing block3_conv1/);
  });

  test('N10: the weights path comes from the option, else VGG19_WEIGHTS, else the cache default', () => {
    const saved = process.env.VGG19_WEIGHTS;
    try {
      delete process.env.VGG19_WEIGHTS;
      assert.equal(vgg19WeightsPath(), VGG19_DEFAULT_WEIGHTS_PATH);
      assert.match(VGG19_DEFAULT_WEIGHTS_PATH, /\.cache\/atelier\/vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5$/);
      process.env.VGG19_WEIGHTS = '/tmp/x.h5';
      assert.equal(vgg19WeightsPath(), '/tmp/x.h5');
      assert.equal(vgg19WeightsPath('/data/y.h5'), '/data/y.h5');
    } finally {
      if (saved == null) delete process.env.VGG19_WEIGHTS;
      else process.env.VGG19_WEIGHTS = saved;
    }
  });

  test('N7: the Gatys default layers are VGG19 layers', () => {
    assert.deepEqual(DEFAULT_LAYERS.vgg19.contentLayers, [{ layer: 'block4_conv2', weight: 1 }]);
    for (const l of DEFAULT_LAYERS.vgg19.styleLayers) assert.ok(VGG19_LAYERS.includes(l.layer));
  });
});
