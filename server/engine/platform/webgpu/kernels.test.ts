/**
 * The engine's own WebGPU kernels against tfjs-backend-webgpu's, on whatever adapter this machine
 * has: Mesa's lavapipe (software Vulkan) in CI, a real GPU where there is one. Skipped, with the
 * reason, where there is no adapter (like backend-parity.test.ts).
 */
// lavapipe's worker threads spin at workgroup barriers; on a loaded 2-core machine a 20 ms
// dispatch then took seconds to minutes. Without threads it runs on the calling thread: 5–100 ms.
process.env.LP_NUM_THREADS ??= '0';
process.env.XDG_RUNTIME_DIR ??= '/tmp';
// Where an NVIDIA GPU runs the tests: expose shader-f16 and subgroup matrices (E31).
process.env.ENGINE_WEBGPU_TOGGLES ??= 'vulkan_enable_f16_on_nvidia,allow_unsafe_apis';

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.ts';
import { gramMatrix } from '../../losses.ts';
import { Conv2D } from '../../ops/conv.ts';
import { createStyleTransfer, loadNetwork, presetSuggestedParams } from '../../index.ts';
import { syntheticImage } from '../../testing/helpers.ts';
import { setTargetWorkgroups, TARGET_WORKGROUPS, type F16Support } from './gemm.ts';
import { activeEngineDevice, subgroupMatrixSupport } from './register.ts';
import { f16Available, kernelStats, setF16Support, setWebgpuKernelSettings, settingsFromEnv, webgpuKernelSettings } from './tfjs-kernels.ts';
import { countGpuWork } from './gpu-work.ts';

/** max |a − b| ÷ max |b|: the error relative to the reference's scale. */
async function relError(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  assert.equal(x.length, y.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    err = Math.max(err, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  assert.ok(scale > 0, 'reference is all zeros');
  return err / scale;
}

const OURS = { conv: true, matmul: true, f16: false };
const TFJS = { conv: false, matmul: false, f16: false };

/**
 * `f` with our kernels and with tfjs's; asserts ours ran (`precision` products, no fallback) and
 * returns the relative error. Tensors are disposed.
 */
async function compare(f: () => tf.Tensor, precision: 'fp32' | 'f16' = 'fp32', minRuns = 1): Promise<number> {
  setWebgpuKernelSettings({ ...OURS, f16: precision === 'f16' });
  kernelStats.reset();
  const ours = tf.tidy(f);
  await ours.data();
  const ran = kernelStats.ran[precision];
  const fallbacks = [...kernelStats.fallbacks];
  setWebgpuKernelSettings(TFJS);
  const theirs = tf.tidy(f);
  try {
    assert.ok(ran >= minRuns, `our ${precision} kernels ran ${ran} times (fallbacks: ${JSON.stringify(fallbacks)})`);
    return await relError(ours, theirs);
  } finally {
    tf.dispose([ours, theirs]);
    setWebgpuKernelSettings(OURS);
  }
}

const rand = (shape: number[], seed: number, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

describe('ENGINE_WEBGPU_KERNELS / ENGINE_WEBGPU_SUBMIT (E33)', () => {
  test('E33: defaults are the fp32 kernels and one submission per read-back; none, lists and bad values', () => {
    assert.deepEqual(settingsFromEnv({}), { conv: true, matmul: true, f16: false, submitBatch: Infinity });
    assert.deepEqual(settingsFromEnv({ ENGINE_WEBGPU_KERNELS: 'none', ENGINE_WEBGPU_SUBMIT: '15' }), { conv: false, matmul: false, f16: false, submitBatch: 15 });
    assert.deepEqual(settingsFromEnv({ ENGINE_WEBGPU_KERNELS: 'conv, f16' }), { conv: true, matmul: false, f16: true, submitBatch: Infinity });
    assert.throws(() => settingsFromEnv({ ENGINE_WEBGPU_KERNELS: 'winograd' }), /unknown kernel 'winograd'/);
    assert.throws(() => settingsFromEnv({ ENGINE_WEBGPU_SUBMIT: 'often' }), /ENGINE_WEBGPU_SUBMIT/);
  });
});

describe('engine webgpu kernels vs tfjs-backend-webgpu', () => {
  let unavailable: string | null = null;
  const savedTarget = TARGET_WORKGROUPS;

  before(async () => {
    try {
      await initBackend('webgpu');
    } catch (err) {
      unavailable = (err as Error).message;
    }
  });
  after(() => setTargetWorkgroups(savedTarget));

  const gpuTest = (name: string, fn: (ctx: { skip: (m: string) => void; diagnostic: (m: string) => void }) => Promise<void>) =>
    test(name, async (ctx) => {
      if (unavailable) {
        ctx.skip(`no webgpu here: ${unavailable}`);
        return;
      }
      assert.equal(tf.getBackend(), 'webgpu');
      await fn(ctx);
    });

  gpuTest('E28: implicit-GEMM convolutions (3×3 and 1×1, same/valid/explicit padding, stride 2, bias + linear/relu/relu6) match tfjs within 1e-4', async (ctx) => {
    setTargetWorkgroups(1); // one workgroup per output tile, no K split
    let worst = 0;
    const cases: { x: number[]; k: number[]; stride: number; pad: 'same' | 'valid' | [[number, number], [number, number]]; act: 'linear' | 'relu' | 'relu6'; bias: boolean }[] = [
      { x: [1, 12, 10, 8], k: [3, 3, 8, 16], stride: 1, pad: 'same', act: 'relu', bias: true },
      { x: [1, 9, 9, 16], k: [3, 3, 16, 36], stride: 1, pad: 'valid', act: 'relu6', bias: true },
      { x: [1, 11, 13, 12], k: [1, 1, 12, 20], stride: 1, pad: 'same', act: 'linear', bias: false },
      { x: [1, 17, 15, 8], k: [3, 3, 8, 8], stride: 2, pad: 'same', act: 'relu', bias: true },
      { x: [2, 7, 7, 4], k: [3, 3, 4, 4], stride: 1, pad: [[2, 0], [1, 1]], act: 'linear', bias: true },
      { x: [1, 40, 36, 64], k: [3, 3, 64, 128], stride: 1, pad: 'same', act: 'relu', bias: true },
    ];
    for (const [i, c] of cases.entries()) {
      const x = rand(c.x, 10 + i) as tf.Tensor4D;
      const filter = rand(c.k, 20 + i, 0.2) as tf.Tensor4D;
      const bias = c.bias ? (rand([c.k[3]], 30 + i, 0.3) as tf.Tensor1D) : undefined;
      const pad = Array.isArray(c.pad) ? ([[0, 0], ...c.pad, [0, 0]] as tf.backend_util.ExplicitPadding) : c.pad;
      const err = await compare(() => tf.fused.conv2d({ x, filter, bias, strides: c.stride, pad, activation: c.act }));
      assert.ok(err < 1e-4, `case ${i} ${JSON.stringify(c)}: relative error ${err}`);
      worst = Math.max(worst, err);
      tf.dispose([x, filter, bias].filter((t) => t != null) as tf.Tensor[]);
    }
    ctx.diagnostic(`max relative error ${worst.toExponential(1)}`);
  });

  gpuTest('E28: channel counts that are not multiples of 4 go to tfjs (counted as fallbacks) and still give its result', async () => {
    const x = rand([1, 8, 8, 3], 1) as tf.Tensor4D;
    const filter = rand([3, 3, 3, 8], 2, 0.3) as tf.Tensor4D;
    setWebgpuKernelSettings(OURS);
    kernelStats.reset();
    const y = tf.conv2d(x, filter, 1, 'same');
    await y.data();
    assert.equal(kernelStats.ran.fp32, 0);
    assert.ok([...kernelStats.fallbacks.keys()].some((k) => /Cin = 3/.test(k)), JSON.stringify([...kernelStats.fallbacks]));
    tf.dispose([x, filter, y]);
  });

  gpuTest('E28/E30: products split along K (partial sums + reduction pass) match tfjs within 1e-4', async (ctx) => {
    setTargetWorkgroups(4096); // every product below gets K-slices
    const x = rand([1, 6, 6, 64], 3) as tf.Tensor4D;
    const filter = rand([3, 3, 64, 32], 4, 0.1) as tf.Tensor4D;
    const bias = rand([32], 5) as tf.Tensor1D;
    const conv = await compare(() => tf.fused.conv2d({ x, filter, bias, strides: 1, pad: 'same', activation: 'relu' }));
    assert.ok(conv < 1e-4, `conv: ${conv}`);
    const f = rand([1, 48, 40, 32], 6) as tf.Tensor4D;
    const gram = await compare(() => gramMatrix(f));
    assert.ok(gram < 1e-4, `gram: ${gram}`);
    ctx.diagnostic(`relative errors: conv ${conv.toExponential(1)}, gram ${gram.toExponential(1)}`);
    tf.dispose([x, filter, bias, f]);
    setTargetWorkgroups(savedTarget);
  });

  gpuTest('E29: the ReLU/ReLU6 mask folded into the backward convolution: input gradients match tfjs within 1e-4', async (ctx) => {
    setTargetWorkgroups(1);
    for (const [i, activation] of (['relu', 'relu6'] as const).entries()) {
      const layer = new Conv2D({ kernel: rand([3, 3, 16, 24], 40 + i, 0.3) as tf.Tensor4D, bias: rand([24], 50 + i, 0.5) as tf.Tensor1D, padding: 'same', activation });
      const x = rand([1, 14, 12, 16], 60 + i, 2) as tf.Tensor4D;
      // A loss whose gradient reaches every output, so the mask decides which ones pass.
      const lossOf = (t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t as tf.Tensor4D), tf.linspace(-1, 1, 24)));
      const err = await compare(() => tf.grad(lossOf)(x), 'fp32', 2); // forward + masked backward
      assert.ok(err < 1e-4, `${activation}: relative error ${err}`);
      ctx.diagnostic(`${activation}: relative error ${err.toExponential(1)}`);
      layer.dispose();
      x.dispose();
    }
  });

  gpuTest('E30: Gram matrices (split-K at real sizes) and matMul with each transpose combination match tfjs within 1e-4', async (ctx) => {
    setTargetWorkgroups(savedTarget);
    const f = rand([1, 64, 64, 64], 7) as tf.Tensor4D; // K = 4096: split
    const gram = await compare(() => gramMatrix(f));
    assert.ok(gram < 1e-4, `gram: ${gram}`);
    const gradient = await compare(() => tf.grad((t: tf.Tensor) => tf.sum(tf.square(gramMatrix(t as tf.Tensor4D))))(f), 'fp32', 2); // G and F·(dG + dGᵀ)
    assert.ok(gradient < 1e-4, `gram gradient: ${gradient}`);
    let worst = 0;
    const a = rand([36, 52], 8);
    const b = rand([52, 40], 9);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const A = ta ? tf.transpose(a) : a;
      const B = tb ? tf.transpose(b) : b;
      const err = await compare(() => tf.matMul(A, B, ta, tb));
      assert.ok(err < 1e-4, `transposeA ${ta} transposeB ${tb}: ${err}`);
      worst = Math.max(worst, err);
    }
    ctx.diagnostic(`relative errors: gram ${gram.toExponential(1)}, its gradient ${gradient.toExponential(1)}, matMul ${worst.toExponential(1)}`);
    tf.dispose([f, a, b]);
  });

  /** Our f16 kernel (built for `v`) against tfjs's fp32 on VGG-like magnitudes; returns the errors. */
  async function f16VersusFp32(v: F16Support): Promise<{ conv: number; gram: number }> {
    const saved = f16Available();
    setF16Support(v);
    setTargetWorkgroups(savedTarget);
    // Activations of VGG's magnitude (~1e3) and features far below f16's normal range (~1e-6):
    // the power-of-two scaling is what keeps both representable.
    const x = rand([1, 24, 20, 32], 11, 800) as tf.Tensor4D;
    const filter = rand([3, 3, 32, 64], 12, 0.05) as tf.Tensor4D;
    const bias = rand([64], 13, 10) as tf.Tensor1D;
    const g = rand([1, 32, 32, 64], 14, 1e-6) as tf.Tensor4D;
    try {
      const conv = await compare(() => tf.fused.conv2d({ x, filter, bias, strides: 1, pad: 'same', activation: 'relu' }), 'f16');
      const gram = await compare(() => tf.mul(gramMatrix(g), 1e12), 'f16');
      return { conv, gram };
    } finally {
      tf.dispose([x, filter, bias, g]);
      setF16Support(saved);
      setWebgpuKernelSettings(OURS);
    }
  }

  gpuTest('E31: the f16 kernel (operands scaled by powers of two, f32 accumulation), matrices emulated by loops, is within 2e-3 of fp32', async (ctx) => {
    if (!activeEngineDevice()!.features.includes('shader-f16')) {
      ctx.skip('adapter has no shader-f16');
      return;
    }
    const { conv, gram } = await f16VersusFp32({ mma: 'emulated', shape: { M: 16, N: 16, K: 16 }, subgroupSize: 32 });
    assert.ok(conv < 2e-3, `conv: ${conv}`);
    assert.ok(gram < 2e-3, `gram of 1e-6 features: ${gram}`);
    ctx.diagnostic(`relative error vs fp32: conv ${conv.toExponential(1)}, gram ${gram.toExponential(1)}`);
  });

  gpuTest('E31: the f16 kernel on subgroup matrices (tensor cores) is within 2e-3 of fp32', async (ctx) => {
    const real = subgroupMatrixSupport(activeEngineDevice()!);
    if (typeof real === 'string') {
      ctx.skip(`no subgroup matrices on this adapter: ${real}`);
      return;
    }
    const { conv, gram } = await f16VersusFp32(real);
    assert.ok(conv < 2e-3, `conv: ${conv}`);
    assert.ok(gram < 2e-3, `gram of 1e-6 features: ${gram}`);
    ctx.diagnostic(`${real.shape.M}x${real.shape.N}x${real.shape.K}: relative error vs fp32: conv ${conv.toExponential(1)}, gram ${gram.toExponential(1)}`);
  });

  gpuTest('E32: a session step loop runs on webgpu with our kernels, one GPU submission per step, losses matching tfjs kernels to 1e-3', async (ctx) => {
    setTargetWorkgroups(savedTarget);
    const run = async (kernels: typeof OURS, submitBatch: number) => {
      setWebgpuKernelSettings({ ...kernels, submitBatch });
      const net = await loadNetwork('tiny');
      const size = 48;
      const params = { ...presetSuggestedParams('default'), resolution: size, optimizer: 'adam' as const, init: 'content' as const, seed: 1 };
      const t = createStyleTransfer(net, { content: syntheticImage(size, size, 1), styles: [{ image: syntheticImage(size, size, 2), weight: 1, scale: 1 }], params });
      try {
        const losses = [(await t.step()).losses]; // targets computed and pipelines built here
        kernelStats.reset();
        const work = countGpuWork(activeEngineDevice()!.device);
        for (let i = 0; i < 3; i++) losses.push((await t.step()).losses);
        work.stop();
        return { losses, submitsPerStep: work.submits / 3, dispatchesPerStep: work.dispatches / 3, ran: kernelStats.ran.fp32 };
      } finally {
        t.dispose();
        net.dispose();
      }
    };
    const ours = await run(OURS, Infinity);
    const theirs = await run(TFJS, 15);
    assert.ok(ours.ran >= 3 * 4, `our kernels ran ${ours.ran} times in 3 steps`); // conv2, conv3 forward + masked backward
    assert.equal(ours.submitsPerStep, 1, `submissions per step: ${ours.submitsPerStep}`);
    assert.ok(theirs.submitsPerStep > 1, `tfjs batching submitted ${theirs.submitsPerStep} times per step`);
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
    let worst = 0;
    for (let i = 0; i < ours.losses.length; i++) {
      for (const term of ['total', 'style', 'content', 'tv'] as const) {
        const [a, b] = [ours.losses[i][term], theirs.losses[i][term]];
        assert.ok(rel(a, b) < 1e-3 || Math.abs(a - b) < 1e-6, `step ${i} ${term}: ours ${a} vs tfjs ${b}`);
        worst = Math.max(worst, rel(a, b));
      }
    }
    ctx.diagnostic(`largest relative loss difference over 4 steps: ${worst.toExponential(1)}`);
    ctx.diagnostic(`dispatches per step: ours ${ours.dispatchesPerStep}, tfjs ${theirs.dispatchesPerStep}`);
    setWebgpuKernelSettings({ ...webgpuKernelSettings(), submitBatch: Infinity });
  });
});
