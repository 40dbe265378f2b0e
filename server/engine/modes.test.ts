import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { getPreset } from './presets.ts';
import { composeGrid, gridContentWeight, pyramidResolutions, reconstructContent, renderGrid, runCoarseToFine, synthesizeStyle } from './modes.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';

describe('coarse-to-fine and the paper experiments', () => {
  before(useCpuBackend);

  test('E14: the pyramid steps up by sqrt(2) and ends at the target', () => {
    assert.deepEqual(pyramidResolutions(256, 64), [64, 91, 128, 181, 256]);
    assert.deepEqual(pyramidResolutions(50, 64), [50]);
  });

  test('E14: coarse-to-fine carries the image through every level to the target size', async () => {
    const net = createRandomNet();
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    const result = await runCoarseToFine(
      net,
      { content: syntheticImage(40, 30, 1), styles: [{ image: syntheticImage(32, 32, 2), weight: 1, scale: 1 }], params: testParams({ resolution: 45 }) },
      { iterationsPerLevel: [2, 2, 3], minResolution: 20, onStep: (e) => void seen.push(e.resolution) },
    );
    assert.deepEqual([...new Set(seen)], [22, 32, 45]);
    assert.equal(result.iterations, 7);
    assert.deepEqual([result.image.width, result.image.height], [45, 34]);
    assert.equal(tf.memory().numTensors, before);
    net.dispose();
  });

  test('E15: content reconstruction from noise lowers the content loss of its one layer', async () => {
    const net = createRandomNet();
    const losses: number[] = [];
    const r = await reconstructContent(net, {
      content: syntheticImage(24, 24, 4),
      layer: 'conv2',
      resolution: 24,
      iterations: 15,
      onStep: (s) => void losses.push(s.losses.content),
    });
    assert.equal(losses.length, 15);
    assert.ok(losses[14] < losses[0] * 0.5, `content loss ${losses[0]} -> ${losses[14]}`);
    assert.equal(r.losses.style, 0);
    assert.equal(r.losses.tv, 0);
    net.dispose();
  });

  test('E15: texture synthesis from noise lowers the style loss and has no content term', async () => {
    const net = createRandomNet();
    const losses: number[] = [];
    const r = await synthesizeStyle(net, {
      styles: [syntheticImage(24, 16, 5)],
      layers: ['conv1', 'conv2'],
      resolution: 24,
      iterations: 15,
      onStep: (s) => void losses.push(s.losses.style),
    });
    assert.ok(losses[14] < losses[0] * 0.5, `style loss ${losses[0]} -> ${losses[14]}`);
    assert.equal(r.losses.content, 0);
    assert.deepEqual([r.image.width, r.image.height], [24, 16]);
    net.dispose();
  });

  test('E15: the grid renders layer sets x ratios into one image, more content weight keeping more content', async () => {
    const net = createRandomNet();
    const cells: string[] = [];
    const grid = await renderGrid(net, {
      content: syntheticImage(16, 16, 6),
      style: syntheticImage(16, 16, 7),
      ratios: [1e-5, 1e-1],
      resolution: 16,
      iterations: 6,
      padding: 2,
      onCell: (c) => void cells.push(`${c.row},${c.col}:${c.layers.join('+')}`),
    });
    assert.deepEqual(grid.rows, [['conv1'], ['conv1', 'conv2'], ['conv1', 'conv2', 'conv3']]);
    assert.equal(cells.length, 6);
    assert.equal(cells[5], '2,1:conv1+conv2+conv3');
    assert.deepEqual([grid.image.width, grid.image.height], [2 * 16 + 3 * 2, 3 * 16 + 4 * 2]);
    // relative content loss per unit weight is lower where content counts more
    const [low, high] = grid.losses[2];
    assert.ok(high.content / 1e-1 < low.content / 1e-5, 'higher alpha/beta keeps the content closer');
    net.dispose();
  });

  test('E15: grid columns are the paper\'s absolute α/β on gatys2015 and relative to the preset\'s own balance under relative losses', () => {
    const gatys = getPreset('gatys2015');
    assert.equal(gridContentWeight(gatys, 1e-3), (1e-3 * gatys.base.style) / gatys.base.content);
    const def = getPreset('default');
    assert.deepEqual([1e-5, 1e-3, 1e-2].map((r) => gridContentWeight(def, r)), [0.01, 1, 10]);
  });

  test('composeGrid pads cells with white', () => {
    const black = { width: 1, height: 1, data: new Uint8Array(3) };
    const g = composeGrid([[black, black]], 1);
    assert.deepEqual([g.width, g.height], [5, 3]);
    assert.deepEqual(Array.from(g.data.subarray(3 * 6, 3 * 7)), [0, 0, 0]);
    assert.deepEqual(Array.from(g.data.subarray(0, 3)), [255, 255, 255]);
  });
});
