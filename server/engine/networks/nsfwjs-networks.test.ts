import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../platform/backend.ts';
import { readImageFile } from '../../images/codec.ts';
import { loadNetwork, DEFAULT_LAYERS } from './index.ts';
import { loadNsfwjsNetwork, NSFWJS_INPUT_SIZE, NSFWJS_OUTPUT } from './nsfwjs-networks.ts';
import { loadNsfwjsModel, decodeWeights } from './nsfwjs.ts';
import { setConvGradientMode } from '../ops/conv.ts';
import type { LayerGraph } from './graph.ts';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../../..');
const reference = JSON.parse(readFileSync(path.join(here, 'nsfwjs-reference.json'), 'utf8')) as {
  probabilities: Record<string, Record<string, number[]>>;
};

/** nsfwjs's own preprocessing: pixel / 255, bilinear resize with aligned corners to the model size. */
async function nsfwjsInput(file: string, size: number): Promise<tf.Tensor4D> {
  const img = await readImageFile(path.join(root, 'assets/content', file));
  return tf.tidy(() => {
    const x = tf.div(tf.cast(tf.tensor3d(img.data, [img.height, img.width, 3], 'int32'), 'float32'), 255) as tf.Tensor3D;
    return tf.expandDims(tf.image.resizeBilinear(x, [size, size], true), 0) as tf.Tensor4D;
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('nsfwjs networks (mobilenet_v2, inception_v3)', () => {
  before(async () => {
    await initBackend('wasm');
  });
  after(async () => {
    await initBackend('cpu');
  });

  for (const model of ['mobilenet_v2', 'inception_v3'] as const) {
    test(`N8/N10: ${model} built from the nsfwjs files reproduces nsfwjs's own class probabilities`, async () => {
      const net = (await loadNetwork(model)) as LayerGraph;
      const files = Object.keys(reference.probabilities[model]);
      // inception at 299 px is slow on 2 cores: two images are enough to catch a wrong graph
      for (const file of model === 'inception_v3' ? files.slice(0, 2) : files) {
        const x = await nsfwjsInput(file, NSFWJS_INPUT_SIZE[model]);
        const probs = net.outputs(x, [NSFWJS_OUTPUT]).get(NSFWJS_OUTPUT)!;
        const got = Array.from(probs.dataSync());
        const want = reference.probabilities[model][file];
        assert.equal(got.length, 5);
        for (let i = 0; i < 5; i++) assert.ok(Math.abs(got[i] - want[i]) < 2e-3, `${file}: got [${got}] want [${want}]`);
        tf.dispose([x, probs]);
      }
      net.dispose();
    });
  }

  test('N8: folding BatchNorm into the convolutions does not change mobilenet_v2 features', async () => {
    const [folded, unfolded] = await Promise.all([loadNsfwjsNetwork('mobilenet_v2'), loadNsfwjsNetwork('mobilenet_v2', { fold: false })]);
    const x = tf.randomUniform([1, 64, 80, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    // unfolded graphs keep the BN and ReLU nodes separate, so compare at block outputs both have
    for (const layer of ['block_2_add', 'block_6_project_BN', 'block_16_project_BN']) {
      const a = folded.outputs(x, [layer]).get(layer)!;
      const b = unfolded.outputs(x, [layer]).get(layer)!;
      const scale = Math.max(1, tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]));
      assert.ok(tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]) > 1e-2, `${layer} is all zeros`);
      assert.ok(maxAbsDiff(a, b) / scale < 1e-3, `${layer} differs by ${maxAbsDiff(a, b)}`);
      tf.dispose([a, b]);
    }
    tf.dispose(x);
    folded.dispose();
    unfolded.dispose();
  });

  test('N8: folding BatchNorm without gamma (scale=false) does not change inception_v3 features', async () => {
    const [folded, unfolded] = await Promise.all([loadNsfwjsNetwork('inception_v3'), loadNsfwjsNetwork('inception_v3', { fold: false })]);
    const x = tf.randomUniform([1, 96, 96, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
    const a = folded.outputs(x, ['mixed1']).get('mixed1')!;
    const b = unfolded.outputs(x, ['mixed1']).get('mixed1')!;
    const scale = Math.max(1, tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]));
    assert.ok(maxAbsDiff(a, b) / scale < 1e-3, `mixed1 differs by ${maxAbsDiff(a, b)}`);
    tf.dispose([x, a, b]);
    folded.dispose();
    unfolded.dispose();
  });

  test('N9: mobilenet_v2 image gradients on wasm (custom conv gradients) equal tfjs builtin gradients on cpu', async () => {
    const layers = ['block_1_expand_relu', 'block_6_expand_relu'];
    const gradOn = async (backend: 'wasm' | 'cpu') => {
      await initBackend(backend);
      const net = await loadNetwork('mobilenet_v2');
      const x = tf.randomUniform([1, 48, 40, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
      const g = tf.grad((t: tf.Tensor) => {
        const f = net.features(t as tf.Tensor4D, layers);
        return tf.add(tf.mean(tf.square(f.get(layers[0])!)), tf.mean(f.get(layers[1])!));
      })(x);
      const values = Float32Array.from(g.dataSync());
      tf.dispose([x, g]);
      net.dispose();
      return values;
    };
    const custom = await gradOn('wasm');
    setConvGradientMode('builtin');
    let builtin: Float32Array;
    try {
      builtin = await gradOn('cpu');
    } finally {
      setConvGradientMode('custom');
      await initBackend('wasm');
    }
    const scale = builtin.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(scale > 0, 'gradient is all zeros');
    const diff = custom.reduce((m, v, i) => Math.max(m, Math.abs(v - builtin[i])), 0);
    assert.ok(diff / scale < 1e-3, `gradients differ by ${diff} (scale ${scale})`);
  });

  test('N4: inception_v3 honours the pooling option and mobilenet_v2 says it does not', async () => {
    const inception = await loadNetwork('inception_v3');
    const mobilenet = await loadNetwork('mobilenet_v2');
    assert.equal(inception.supportsPooling, true);
    assert.equal(mobilenet.supportsPooling, false);
    const x = tf.randomUniform([1, 80, 80, 3], 0, 1, 'float32', 14) as tf.Tensor4D;
    const a = inception.features(x, ['activation_4']).get('activation_4')!;
    const b = inception.features(x, ['activation_4'], { pooling: 'avg' }).get('activation_4')!;
    assert.ok(maxAbsDiff(a, b) > 1e-3, 'avg pooling changed nothing after max_pooling2d_1');
    tf.dispose([x, a, b]);
    inception.dispose();
    mobilenet.dispose();
  });

  test('N2/N7: layer names are Keras names and the suggested defaults exist', async () => {
    for (const model of ['mobilenet_v2', 'inception_v3'] as const) {
      const net = await loadNetwork(model);
      for (const l of [...DEFAULT_LAYERS[model].contentLayers, ...DEFAULT_LAYERS[model].styleLayers]) assert.ok(net.layers.includes(l.layer), `${model}: ${l.layer}`);
      assert.ok(!net.layers.some((l) => l.startsWith('dense') || l.startsWith('flatten')), 'classifier head is not selectable');
      net.dispose();
    }
    const m = await loadNetwork('mobilenet_v2');
    assert.equal(m.layers[0], 'Conv1_relu');
    assert.ok(m.layers.includes('block_5_add') && m.layers.includes('out_relu'));
    m.dispose();
  });

  test('N10: parsed weights are cached and uint8-quantized values are dequantized', async () => {
    const a = await loadNsfwjsModel('mobilenet_v2');
    const b = await loadNsfwjsModel('mobilenet_v2');
    assert.equal(a, b);
    const store = decodeWeights(
      [
        { name: 'q/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5 } },
        { name: 'f/bias', shape: [1], dtype: 'float32' },
      ],
      new Uint8Array([0, 1, 2, 4, ...new Uint8Array(new Float32Array([1.25]).buffer)]),
    );
    assert.deepEqual([...store.get('q/kernel')!.values], [-1, -0.5, 0, 1]);
    assert.deepEqual([...store.get('f/bias')!.values], [1.25]);
    assert.throws(() => decodeWeights([{ name: 'x', shape: [3], dtype: 'float32' }], new Uint8Array(4)), /too short/);
  });
});
