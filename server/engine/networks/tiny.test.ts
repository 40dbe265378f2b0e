import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../platform/backend.ts';
import { loadNetwork, DEFAULT_LAYERS } from './index.ts';

describe('tiny network', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('N2: layers are listed in forward order and features have the expected shapes', async () => {
    const net = await loadNetwork('tiny');
    assert.deepEqual(net.layers, ['conv1', 'pool1', 'conv2', 'pool2', 'conv3']);
    assert.equal(net.supportsPooling, true);
    const image = tf.randomUniform([1, 32, 24, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const feats = net.features(image, ['conv3', 'conv1']);
    assert.deepEqual([...feats.keys()], ['conv3', 'conv1']);
    assert.deepEqual(feats.get('conv1')!.shape, [1, 32, 24, 8]);
    assert.deepEqual(feats.get('conv3')!.shape, [1, 8, 6, 32]);
    tf.dispose([...feats.values(), image]);
    net.dispose();
  });

  test('N3: the same seed gives the same network and another seed a different one', async () => {
    const [a, b, c] = await Promise.all([loadNetwork('tiny', { seed: 7 }), loadNetwork('tiny', { seed: 7 }), loadNetwork('tiny', { seed: 8 })]);
    const image = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const [fa, fb, fc] = [a, b, c].map((n) => n.features(image, ['conv2']).get('conv2')!);
    assert.equal(tf.tidy(() => tf.max(tf.abs(tf.sub(fa, fb))).dataSync()[0]), 0);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(fa, fc))).dataSync()[0]) > 1e-3);
    tf.dispose([fa, fb, fc, image]);
    [a, b, c].forEach((n) => n.dispose());
  });

  test('N4: pooling option switches between max and average pooling', async () => {
    const net = await loadNetwork('tiny');
    const image = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const conv1 = net.features(image, ['conv1']).get('conv1')!;
    const maxed = net.features(image, ['pool1'], { pooling: 'max' }).get('pool1')!;
    const avged = net.features(image, ['pool1'], { pooling: 'avg' }).get('pool1')!;
    const expectMax = tf.maxPool(conv1, 2, 2, 'valid');
    const expectAvg = tf.avgPool(conv1, 2, 2, 'valid');
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(maxed, expectMax))).dataSync()[0]) < 1e-6);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(avged, expectAvg))).dataSync()[0]) < 1e-6);
    assert.throws(() => net.features(image, ['pool1'], { pooling: 'median' as never }), /pooling must be 'max' or 'avg'/);
    tf.dispose([image, conv1, maxed, avged, expectMax, expectAvg]);
    net.dispose();
  });

  test('N5: features leave no intermediate tensors behind and dispose frees the weights', async () => {
    const before = tf.memory().numTensors;
    const net = await loadNetwork('tiny');
    const withWeights = tf.memory().numTensors;
    assert.ok(withWeights > before);
    const image = tf.randomUniform([1, 16, 16, 3]) as tf.Tensor4D;
    const feats = net.features(image, ['conv3', 'pool1']);
    assert.equal(tf.memory().numTensors, withWeights + 1 + 2, 'only the image and the two returned maps remain');
    const grad = tf.grad((x: tf.Tensor) => {
      const f = net.features(x as tf.Tensor4D, ['conv2', 'conv3']);
      return tf.add(tf.sum(tf.square(f.get('conv2')!)), tf.sum(f.get('conv3')!));
    })(image);
    assert.deepEqual(grad.shape, image.shape);
    grad.dispose();
    tf.dispose([...feats.values(), image]);
    net.dispose();
    // the lazily built backward kernels belong to the layers and go with them
    assert.equal(tf.memory().numTensors, before);
  });

  test('N6: bad requests get clear errors', async () => {
    const net = await loadNetwork('tiny');
    const image = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    assert.throws(() => net.features(image, ['conv9']), /unknown layer 'conv9'/);
    assert.throws(() => net.features(image, []), /no layers requested/);
    const fourChannels = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
    assert.throws(() => net.features(fourChannels, ['conv1']), /\[N, H, W, 3\]/);
    fourChannels.dispose();
    net.dispose();
    assert.throws(() => net.features(image, ['conv1']), /after dispose/);
    image.dispose();
    await assert.rejects(loadNetwork('resnet' as never), /unknown network 'resnet'/);
  });

  test('N7: the suggested default layers exist in the network', async () => {
    const net = await loadNetwork('tiny');
    for (const l of [...DEFAULT_LAYERS.tiny.contentLayers, ...DEFAULT_LAYERS.tiny.styleLayers]) assert.ok(net.layers.includes(l.layer), l.layer);
    net.dispose();
  });
});
