import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, type NetworkName } from './index.ts';
import { syntheticImage } from './testing/helpers.ts';

interface Trace {
  backend: string;
  losses: { total: number; style: number; content: number; tv: number }[];
  mean: number;
  absMean: number;
}

function trace(backend: string, network: NetworkName, size: number, steps: number): Trace | { unavailable: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/engine/testing/step-trace.ts', backend, network, String(size), String(steps)], {
    encoding: 'utf8',
    timeout: 240_000,
    // Mesa's Vulkan loader wants a runtime dir; without one it only complains, but noisily.
    // lavapipe's worker threads spin at workgroup barriers: on a loaded 2-core machine a step
    // then took minutes (the 240 s limit); on the calling thread alone it takes about a second.
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', LP_NUM_THREADS: process.env.LP_NUM_THREADS ?? '0' },
  });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`step-trace ${backend} printed nothing (exit ${r.status}): ${r.stderr.slice(-800)}`);
  return JSON.parse(line);
}

describe('backends', () => {
  before(async () => {
    await initBackend('wasm');
  });

  for (const network of ['tiny', 'mobilenet_v2', 'inception_v3'] as NetworkName[]) {
    test(`E20: a ${network} step (forward, gradient, update) uses no tensor of rank above 4, the most webgpu's shaders handle`, async () => {
      const net = await loadNetwork(network);
      const size = network === 'inception_v3' ? 96 : 64;
      const params = { ...presetSuggestedParams('default'), resolution: size, optimizer: 'adam' as const, init: 'content' as const };
      const t = createStyleTransfer(net, { content: syntheticImage(size, size, 1), styles: [{ image: syntheticImage(size, size, 2), weight: 1, scale: 1 }], params });
      try {
        await t.step(); // targets computed outside the profile
        const profile = await tf.profile(async () => {
          await t.step();
        });
        assert.ok(profile.kernels.length > 50, 'the profile saw the step');
        const tooHigh = profile.kernels.filter((k) => [...k.inputShapes, ...k.outputShapes].some((s) => s != null && s.length > 4));
        assert.deepEqual(tooHigh.map((k) => `${k.name} ${JSON.stringify(k.inputShapes)}`), []);
      } finally {
        t.dispose();
        net.dispose();
      }
    });
  }

  test('E20: on webgpu (when this machine has an adapter, even a software one) steps match wasm', (ctx) => {
    const gpu = trace('webgpu', 'mobilenet_v2', 64, 3);
    if ('unavailable' in gpu) {
      ctx.skip(`no webgpu here: ${gpu.unavailable}`);
      return;
    }
    const cpu = trace('wasm', 'mobilenet_v2', 64, 3);
    assert.ok(!('unavailable' in cpu));
    assert.equal(gpu.backend, 'webgpu');
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
    for (let i = 0; i < cpu.losses.length; i++) {
      for (const term of ['total', 'style', 'content', 'tv'] as const) {
        const [a, b] = [gpu.losses[i][term], cpu.losses[i][term]];
        // float32 on different hardware: agreement to 1e-3 after a few Adam steps (1e-6 at step 0).
        // A term that is a small part of the loss is held to 1e-3 of 1% of the total: Adam's first
        // steps move every coordinate by about ±lr whatever its gradient's size, and the sliced
        // palette's sort (E26) can order near-equal cells differently in the last float bit, so
        // the content term (0.3% of the total at step 1) differed by 1.0e-3 of itself.
        const scale = Math.max(Math.abs(b), 0.01 * Math.abs(cpu.losses[i].total));
        assert.ok(Math.abs(a - b) < 1e-3 * scale || Math.abs(a - b) < 1e-5, `step ${i} ${term}: webgpu ${a} vs wasm ${b}`);
      }
    }
    assert.ok(rel(gpu.absMean, cpu.absMean) < 1e-3, `image |x| mean: webgpu ${gpu.absMean} vs wasm ${cpu.absMean}`);
  });
});
