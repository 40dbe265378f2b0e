import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer } from './transfer.ts';
import { loadNetwork } from './networks/index.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';

describe('StyleTransfer memory', () => {
  before(useCpuBackend);

  test('E16: tensor count stays flat over 320 steps with both optimizers and updates, and dispose frees everything', async () => {
    const beforeNetwork = tf.memory().numTensors;
    const net = await loadNetwork('tiny');
    const start = tf.memory().numTensors;
    const content = syntheticImage(40, 32, 1);
    const styleA = syntheticImage(32, 32, 2);
    const styleB = syntheticImage(20, 28, 3);
    const params = testParams();
    const st = createStyleTransfer(net, { content, styles: [{ image: styleA, weight: 1, scale: 1 }], params }, { lbfgsHistory: 8 });
    const samples: number[] = [];
    for (let i = 0; i < 320; i++) {
      if (i === 40) st.update({ styles: [{ image: styleA, weight: 1, scale: 1 }, { image: styleB, weight: 2, scale: 0.7 }] });
      if (i === 80) st.update({ params: { ...params, resolution: 24 } });
      if (i === 120) st.update({ params: { ...params, optimizer: 'lbfgs', resolution: 24 } });
      if (i === 200) st.update({ params: { ...params, optimizer: 'lbfgs', resolution: 24, colors: 'histogram', styleWeight: 2 } });
      if (i === 240) st.update({ params: { ...params, optimizer: 'adam', resolution: 32, colors: 'luminance' } });
      const r = await st.step();
      assert.ok(Number.isFinite(r.losses.total), `step ${i}: total ${r.losses.total}`);
      if (i % 10 === 9) await st.image();
      // steady-state points: 30 steps after each change (L-BFGS history full by then)
      if ([35, 75, 115, 195, 235, 319].includes(i)) samples.push(tf.memory().numTensors);
    }
    // Within one configuration the count does not move...
    const again = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) await st.step();
    assert.equal(tf.memory().numTensors, again, 'no growth over 10 more steps');
    // ...and across configurations it only reflects what is legitimately held (targets, moments, history).
    assert.ok(Math.max(...samples) - start < 60, `held tensors: ${samples.map((s) => s - start).join(', ')}`);
    st.dispose();
    // (the network may have built its backward kernels lazily; they are its own)
    net.dispose();
    assert.equal(tf.memory().numTensors, beforeNetwork, 'dispose frees every tensor the transfer owns');
  });
});
