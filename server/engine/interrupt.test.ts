import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer } from './transfer.ts';
import { loadNetwork } from './networks/index.ts';
import { StepInterrupted } from './interrupt.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';

describe('interruptible steps', () => {
  before(useCpuBackend);

  test('E21: a step interrupted at any layer, forward or backward, changes nothing and leaks nothing; the next step is the one it would have been', async () => {
    const net = await loadNetwork('tiny');
    const inputs = { content: syntheticImage(32, 32, 1), styles: [{ image: syntheticImage(32, 32, 2), weight: 1, scale: 1 }], params: testParams() };
    const twin = createStyleTransfer(net, inputs);
    const st = createStyleTransfer(net, inputs);
    try {
      await twin.step();
      await st.step();
      // How many interruption points one step passes (forward and backward through every conv).
      let points = 0;
      await twin.step({ interrupt: () => (points++, false) });
      assert.ok(points >= 4, `a step passes ${points} interruption points`);

      const baseline = tf.memory().numTensors;
      const image = st.snapshot();
      for (let k = 1; k <= points; k++) {
        let n = 0;
        await assert.rejects(st.step({ interrupt: () => ++n >= k }), StepInterrupted, `interrupted at point ${k}`);
        assert.equal(st.iter, 1, 'iter unchanged');
        assert.equal(tf.memory().numTensors, baseline + 1, `no tensors left behind by the step interrupted at point ${k}`);
      }
      const after = st.snapshot();
      assert.equal(tf.max(tf.abs(tf.sub(after, image))).dataSync()[0], 0, 'the image is untouched');
      // The uninterrupted step equals the twin's second step exactly (same state, same inputs).
      const r = await st.step();
      const twinImage = twin.snapshot();
      const mine = st.snapshot();
      assert.equal(r.iter, 2);
      assert.equal(tf.max(tf.abs(tf.sub(mine, twinImage))).dataSync()[0], 0, 'same image as a never-interrupted run');
      tf.dispose([image, after, twinImage, mine]);
    } finally {
      st.dispose();
      twin.dispose();
      net.dispose();
    }
  });
});
