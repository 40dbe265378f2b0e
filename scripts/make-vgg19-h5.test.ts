import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import h5wasm, { type Dataset, type Group } from 'h5wasm/node';
import { makeVgg19H5, VGG19_LAYERS } from './make-vgg19-h5.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vgg19-h5-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function stringList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  return Array.from(value as ArrayLike<unknown>, (v) => String(v));
}

describe('make-vgg19-h5', () => {
  test('writes the Keras v0.1 notop layout: layer_names, weight_names, HWIO kernels with He-scaled values', async () => {
    const file = path.join(dir, 'v01.h5');
    const digest = await makeVgg19H5(file, { seed: 7, scale: 1, naming: 'v0.1' });
    assert.match(digest, /^[0-9a-f]{64}$/);
    await h5wasm.ready;
    const f = new h5wasm.File(file, 'r');
    try {
      const layerNames = stringList(f.attrs['layer_names'].value);
      assert.deepEqual(layerNames, ['input_1', ...VGG19_LAYERS.map(([n]) => n)]);
      assert.equal(layerNames.filter((n) => n.includes('conv')).length, 16);
      assert.deepEqual(stringList((f.get('block1_pool') as Group).attrs['weight_names'].value), []);
      let inChannels = 3;
      for (const [name, kind, outChannels] of VGG19_LAYERS) {
        if (kind === 'pool') continue;
        const g = f.get(name) as Group;
        assert.deepEqual(stringList(g.attrs['weight_names'].value), [`${name}_W_1:0`, `${name}_b_1:0`]);
        const kernel = g.get(`${name}_W_1:0`) as Dataset;
        const bias = g.get(`${name}_b_1:0`) as Dataset;
        assert.deepEqual(kernel.shape, [3, 3, inChannels, outChannels]);
        assert.deepEqual(bias.shape, [outChannels]);
        assert.equal(kernel.dtype, '<f');
        if (name === 'block3_conv1') {
          const values = kernel.value as Float32Array;
          let sq = 0;
          for (const v of values) sq += v * v;
          const std = Math.sqrt(sq / values.length);
          const he = Math.sqrt(2 / (9 * inChannels));
          assert.ok(Math.abs(std / he - 1) < 0.02, `std ${std} vs He ${he}`);
        }
        inChannels = outChannels;
      }
    } finally {
      f.close();
    }
    const keras2 = path.join(dir, 'keras2.h5');
    assert.equal(await makeVgg19H5(keras2, { seed: 7, scale: 1, naming: 'keras2' }), digest, 'same seed, same weights');
    const f2 = new h5wasm.File(keras2, 'r');
    try {
      const g = f2.get('block5_conv4') as Group;
      assert.deepEqual(stringList(g.attrs['weight_names'].value), ['block5_conv4/kernel:0', 'block5_conv4/bias:0']);
      assert.deepEqual((g.get('block5_conv4/kernel:0') as Dataset).shape, [3, 3, 512, 512]);
    } finally {
      f2.close();
    }
  });

  test('rejects a negative seed and a non-positive scale before writing anything', async () => {
    await assert.rejects(makeVgg19H5(path.join(dir, 'bad.h5'), { seed: -1, scale: 1, naming: 'v0.1' }), /seed/);
    await assert.rejects(makeVgg19H5(path.join(dir, 'bad.h5'), { seed: 1, scale: 0, naming: 'v0.1' }), /scale/);
  });
});
