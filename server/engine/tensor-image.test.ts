import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { assertRgbImage, imageFingerprint, noiseImage, resizeImage, rgbToTensor, sizeForLongSide, tensorToRgb } from './tensor-image.ts';
import { syntheticImage, useCpuBackend } from './testing/helpers.ts';

describe('tensor <-> image helpers', () => {
  before(useCpuBackend);

  test('E1: sizes keep the aspect; floor rounding truncates in float32 like the TF tutorial', () => {
    assert.deepEqual(sizeForLongSide(700, 577, 512, 'round'), { width: 512, height: 422 });
    assert.deepEqual(sizeForLongSide(700, 577, 512, 'floor'), { width: 512, height: 422 });
    assert.deepEqual(sizeForLongSide(30, 40, 32, 'round'), { width: 24, height: 32 });
    assert.deepEqual(sizeForLongSide(999, 1, 10, 'round'), { width: 10, height: 1 });
    // 3 * (512/1001) = 1.5344... -> 2 rounded, 1 truncated
    assert.deepEqual(sizeForLongSide(1001, 3, 512, 'floor'), { width: 512, height: 1 });
    assert.deepEqual(sizeForLongSide(1001, 3, 512, 'round'), { width: 512, height: 2 });
  });

  test('an RgbImage survives the round trip through a tensor; truncation quantizes down', async () => {
    const img = syntheticImage(7, 5, 1);
    const t = rgbToTensor(img);
    assert.deepEqual(t.shape, [1, 5, 7, 3]);
    const back = await tensorToRgb(t);
    assert.deepEqual(back, img);
    const half = tf.fill([1, 1, 1, 3], 0.999 / 255);
    assert.deepEqual(Array.from((await tensorToRgb(half, 'truncate')).data), [0, 0, 0]);
    assert.deepEqual(Array.from((await tensorToRgb(half, 'round')).data), [1, 1, 1]);
    tf.dispose([t, half]);
  });

  test('E3: fingerprints identify images by content: copies match, one changed byte does not', () => {
    const a = syntheticImage(9, 7, 1);
    const copy = { width: 9, height: 7, data: Uint8Array.from(a.data) };
    assert.equal(imageFingerprint(copy), imageFingerprint(a));
    const changed = { width: 9, height: 7, data: Uint8Array.from(a.data) };
    changed.data[100] ^= 1;
    assert.notEqual(imageFingerprint(changed), imageFingerprint(a));
    // unaligned views and other sizes with the same bytes differ or agree as they should
    const buf = new Uint8Array(a.data.length + 1);
    buf.set(a.data, 1);
    assert.equal(imageFingerprint({ width: 9, height: 7, data: buf.subarray(1) }), imageFingerprint(a));
    assert.notEqual(imageFingerprint({ width: 7, height: 9, data: a.data }), imageFingerprint(a));
  });

  test('E2: malformed images are rejected with the field name', () => {
    assert.throws(() => assertRgbImage({ width: 2, height: 2, data: new Uint8Array(5) }, 'content'), /content: data has 5 bytes/);
    assert.throws(() => assertRgbImage({ width: 0, height: 2, data: new Uint8Array(0) }, 'styles[0].image'), /styles\[0\]\.image/);
  });

  test('E1: noise images are seeded: the same seed gives the same image, another seed another', () => {
    const a = noiseImage(6, 5, 42);
    const b = noiseImage(6, 5, 42);
    const c = noiseImage(6, 5, 43);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    assert.notDeepEqual(Array.from(a.dataSync()), Array.from(c.dataSync()));
    const v = a.dataSync();
    assert.ok(v.every((x) => x >= 0 && x < 1));
    tf.dispose([a, b, c]);
  });

  test('resizing uses half-pixel centres and antialiasing averages large downscales', () => {
    const t = tf.tensor4d([0, 1, 2, 3], [1, 1, 4, 1]);
    const up = resizeImage(t, 1, 8);
    // half-pixel bilinear: output 0 samples x = -0.25 -> clamps to 0, output 1 samples 0.25
    assert.ok(Math.abs(up.dataSync()[1] - 0.25) < 1e-6);
    const down = resizeImage(t, 1, 2, { antialias: true });
    assert.ok(Math.abs(down.dataSync()[0] - 0.5) < 1e-6);
    tf.dispose([t, up, down]);
  });
});
