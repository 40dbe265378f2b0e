import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES } from '../api.ts';
import { initBackend, availableBackendsReport, activeBackend, isSoftwareAdapter } from './backend.ts';

describe('initBackend', () => {
  after(async () => {
    await initBackend('cpu');
  });

  test('auto picks a backend that tfjs really runs on and reports it', async () => {
    const chosen = await initBackend();
    assert.ok(BACKEND_NAMES.includes(chosen));
    assert.equal(tf.getBackend(), chosen);
    assert.equal(activeBackend(), chosen);
    // wasm is always installed, so auto never has to fall back as far as cpu
    assert.notEqual(chosen, 'cpu');
    const report = availableBackendsReport();
    assert.deepEqual(report.map((r) => r.name), [...BACKEND_NAMES]);
    assert.ok(report.find((r) => r.name === chosen)!.ok);
    // a second call is a no-op returning the same choice
    assert.equal(await initBackend('auto'), chosen);
  });

  test('explicit cpu and wasm requests switch the active backend', async () => {
    assert.equal(await initBackend('cpu'), 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(await initBackend('wasm'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const t = tf.add(tf.tensor1d([1, 2]), 1);
    assert.deepEqual([...t.dataSync()], [2, 3]);
    t.dispose();
  });

  test('an explicitly requested backend that cannot start is an error, not a silent fallback', async () => {
    await initBackend('wasm');
    // A software WebGPU adapter is refused by auto only; an explicit request may use it.
    const unavailable = availableBackendsReport().filter(
      (r) => !r.ok && r.reason !== 'not tried' && !/software WebGPU adapter/.test(r.reason ?? '') && (r.name === 'tensorflow' || r.name === 'webgpu'),
    );
    for (const { name } of unavailable) {
      await assert.rejects(initBackend(name), new RegExp(`tfjs backend '${name}' is not available`));
      assert.equal(tf.getBackend(), 'wasm', 'the previous backend stays active');
    }
    await assert.rejects(initBackend('metal' as never), /unknown tfjs backend 'metal'/);
  });

  test('gradients are registered once a backend is initialised', async () => {
    await initBackend('cpu');
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2]));
    assert.deepEqual([...g.dataSync()], [2, -4]);
    g.dispose();
  });

  test('auto passes over CPU implementations of WebGPU (llvmpipe, SwiftShader, fallback adapters), not over GPUs', () => {
    assert.ok(isSoftwareAdapter({ info: { vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7' } }));
    assert.ok(isSoftwareAdapter({ info: { description: 'SwiftShader Device (Subzero)' } }));
    assert.ok(isSoftwareAdapter({ isFallbackAdapter: true }));
    assert.equal(isSoftwareAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' } }), null);
    assert.equal(isSoftwareAdapter({}), null);
  });
});
