/**
 * The Node half of `bench/gpu-probe` (run that script, not this file): everything the GPU path
 * needs measured on a card, in one run, written under one folder.
 *
 *   node --import tsx bench/gpu-probe.ts --out DIR [--small] [--budget-s 170]

 *
 * Sections, each written to DIR/results.json and DIR/summary.md as soon as it is done (a crash or
 * the time limit loses only what follows):
 *  1. the adapter with no toggles, with the f16/subgroup-matrix toggles, and with those plus
 *     `use_vulkan_memory_model` (features, subgroup sizes, subgroup-matrix configurations, limits);
 *  2. n×n×n matmuls on plain WebGPU (n = 4096): our fp32 kernel, our f16 subgroup-matrix kernel,
 *     a bare subgroup-matrix kernel (the tensor cores' ceiling through WebGPU), our fp32 kernel
 *     without Dawn's robustness checks; TFLOP/s and errors;
 *  3. VGG19's distinct convolutions (forward and masked backward) and Gram matrices at 512 px:
 *     tfjs's kernels vs ours (fp32, f16), ms, TFLOP/s and error against tfjs;
 *  4. engine steps (the `bench:engine` rows) for vgg19 (random weights unless the real .h5 is
 *     there) and the embedded default (mobilenet_v2) at 256/512/1024 px under: tfjs's kernels with
 *     tfjs's submit batching; tfjs's kernels, one submission per step; ours fp32 (the default);
 *     ours fp32 with tfjs's batching; ours f16 — with dispatches and submissions per step;
 *  5. the PyTorch rows the shell script wrote (TF32 off and on), and the ratios.
 * `--small` shrinks every size so the whole probe runs on Mesa's lavapipe in a few minutes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, type NetworkName } from '../server/engine/index.ts';
import { syntheticImage } from '../server/engine/testing/helpers.ts';
import { F16_TOGGLES } from '../server/engine/platform/webgpu/device.ts';
import { activeEngineDevice, subgroupMatrixSupport } from '../server/engine/platform/webgpu/register.ts';
import { f16Available, kernelStats, setWebgpuKernelSettings, type WebgpuKernelSettings } from '../server/engine/platform/webgpu/tfjs-kernels.ts';
import { countGpuWork } from '../server/engine/platform/webgpu/gpu-work.ts';
import { stepFlops, vggWeights } from './engine.ts';
import { adapterReports, matmulWithToggles, squareMatmuls, vggLayers } from './gpu-probe-micro.ts';
import { summaryMarkdown, type EngineRow, type ProbeResults, type TorchRun } from './gpu-probe-report.ts';
import { numberArg, readArgs } from '../scripts/cli-args.ts';

const { values: args } = readArgs(
  { out: { type: 'string' }, small: { type: 'boolean' }, 'budget-s': { type: 'string' } },
  'node --import tsx bench/gpu-probe.ts --out DIR [--small] [--budget-s 170]',
);
const small = args.small ?? false;
const outDir = path.resolve(args.out ?? path.join('bench', 'gpu-probe-out', new Date().toISOString().replace(/[:.]/g, '-')));
const budgetS = numberArg(args['budget-s'], 'budget-s') ?? 170;
const started = performance.now();
const deadline = started + budgetS * 1000;
const left = () => (deadline - performance.now()) / 1000;

const sizes = small ? [32] : [256, 512, 1024];
const layerSize = small ? 32 : 512;
const matmulN = small ? 128 : 4096;
const reps = small ? 2 : 10;
const steps = small ? 1 : 5;

// The engine's device needs the toggles and features the f16 kernels use, whichever kernels a row
// runs with: ENGINE_WEBGPU_KERNELS is read when the backend starts.
process.env.ENGINE_WEBGPU_KERNELS = 'conv,matmul,f16';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

mkdirSync(outDir, { recursive: true });
const results: ProbeResults = {
  started: new Date().toISOString(),
  small,
  host: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}` },
  errors: [],
  skipped: [],
};

function flush(): void {
  results.elapsedS = (performance.now() - started) / 1000;
  results.torch = readTorch();
  const smi = path.join(outDir, 'nvidia-smi.csv');
  if (existsSync(smi)) results.nvidiaSmi = readFileSync(smi, 'utf8').trim();
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  writeFileSync(path.join(outDir, 'summary.md'), summaryMarkdown(results));
}

function readTorch(): TorchRun[] {
  return (['off', 'on'] as const).map((tf32) => {
    const file = path.join(outDir, `torch-tf32-${tf32}.jsonl`);
    const skip = path.join(outDir, `torch-tf32-${tf32}.skipped`);
    if (existsSync(skip)) return { tf32, rows: [], skipped: readFileSync(skip, 'utf8').trim() };
    if (!existsSync(file)) return { tf32, rows: [], skipped: 'not run' };
    const rows = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { size: number; ms: number; device_name?: string; torch?: string });
    return { tf32, rows };
  });
}

async function section(name: string, minSeconds: number, fn: () => Promise<void>): Promise<void> {
  if (left() < minSeconds) {
    results.skipped.push({ section: name, reason: `time budget (${left().toFixed(0)} s left of ${budgetS})` });
    console.log(`[probe] ${name}: skipped (budget)`);
    flush();
    return;
  }
  const t0 = performance.now();
  console.log(`[probe] ${name} …`);
  try {
    await fn();
  } catch (err) {
    results.errors.push({ section: name, message: (err as Error).stack ?? String(err) });
    console.log(`[probe] ${name}: ERROR ${(err as Error).message}`);
  }
  console.log(`[probe] ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  flush();
}

const TOGGLE_SETS = [[], F16_TOGGLES, [...F16_TOGGLES, 'use_vulkan_memory_model']];

await section('adapter', 0, async () => {
  results.adapters = await adapterReports(TOGGLE_SETS);
  // The engine takes the first toggle set whose adapter offers f16 subgroup matrices (else the f16 toggles).
  const withMatrices = results.adapters.find((r) => r.adapter?.subgroupMatrixConfigs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32'));
  results.engineToggles = withMatrices?.toggles ?? F16_TOGGLES;
  process.env.ENGINE_WEBGPU_TOGGLES = results.engineToggles.join(',');
});

await section('engine backend', 0, async () => {
  await initBackend('webgpu');
  const d = activeEngineDevice()!;
  const f16 = subgroupMatrixSupport(d);
  results.device = { description: d.description, features: d.features, f16: typeof f16 === 'string' ? `unavailable: ${f16}` : f16 };
});

const haveDevice = () => activeEngineDevice() != null && tf.getBackend() === 'webgpu';
const haveF16 = () => f16Available() != null;

await section(`matmul ${matmulN}³`, 20, async () => {
  if (!haveDevice()) throw new Error('no webgpu backend');
  results.matmul = await squareMatmuls(activeEngineDevice()!, matmulN, reps);
  flush();
  results.matmul.push(await matmulWithToggles([...(results.engineToggles ?? []), 'disable_robustness'], matmulN, reps));
  // tfjs's own matMul on the same product, through tfjs (what the Gram matrices got before)
  const a = tf.randomNormal([matmulN, matmulN], 0, 1, 'float32', 1);
  const b = tf.randomNormal([matmulN, matmulN], 0, 1, 'float32', 2);
  for (const [kernel, matmul] of [['tfjs-backend-webgpu matMul', false], ['ours fp32 through tfjs (BatchMatMul override)', true]] as const) {
    setWebgpuKernelSettings({ conv: true, matmul, f16: false });
    const once = tf.matMul(a, b);
    await once.data();
    once.dispose();
    const outs: tf.Tensor[] = [];
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) outs.push(tf.matMul(a, b));
    await outs[outs.length - 1].data();
    const ms = (performance.now() - t0) / reps;
    tf.dispose(outs);
    results.matmul.push({ kernel, n: matmulN, ms, tflops: (2 * matmulN ** 3) / ms / 1e9, relError: null });
  }
  tf.dispose([a, b]);
  setWebgpuKernelSettings({ conv: true, matmul: true, f16: false });
});

await section(`VGG19 layers at ${layerSize} px`, 30, async () => {
  if (!haveDevice()) throw new Error('no webgpu backend');
  results.layers = { size: layerSize, rows: await vggLayers(layerSize, ['tfjs', 'fp32', ...(haveF16() ? (['f16'] as const) : [])], small ? 1 : 5, deadline - 100_000) };
});

interface Config {
  name: string;
  settings: WebgpuKernelSettings;
}

const CONFIGS: Config[] = [
  { name: 'tfjs kernels, tfjs batching (submit every 15)', settings: { conv: false, matmul: false, f16: false, submitBatch: 15 } },
  { name: 'tfjs kernels, one submit per step', settings: { conv: false, matmul: false, f16: false, submitBatch: Infinity } },
  { name: 'ours fp32 (default)', settings: { conv: true, matmul: true, f16: false, submitBatch: Infinity } },
  // One submission per step leaves the GPU idle while the CPU records the step; tfjs's batching
  // lets the two overlap. This row says which wins on the card.
  { name: 'ours fp32, submit every 15', settings: { conv: true, matmul: true, f16: false, submitBatch: 15 } },
  { name: 'ours f16 tensor cores', settings: { conv: true, matmul: true, f16: true, submitBatch: Infinity } },
];

async function engineRow(cfg: Config, network: NetworkName, net: Awaited<ReturnType<typeof loadNetwork>>, size: number, flopsKnown: Map<string, number>, random: boolean): Promise<EngineRow> {
  setWebgpuKernelSettings(cfg.settings);
  const preset = network === 'vgg19' ? 'gatys2015' : 'default';
  const params = { ...presetSuggestedParams(preset), resolution: size, optimizer: 'adam' as const, init: 'content' as const, seed: 1 };
  const t = createStyleTransfer(net, { content: syntheticImage(size, size, 1), styles: [{ image: syntheticImage(size, size, 2), weight: 1, scale: 1 }], params });
  const row: EngineRow = { config: cfg.name, network, size, msPerStep: null, note: random ? 'random weights, Keras layout' : '' };
  try {
    const first = (await t.step()).ms; // pipelines compiled, targets computed
    row.firstStepMs = first;
    const times: number[] = [];
    for (let i = 0; i < steps && left() > 15; i++) times.push((await t.step()).ms);
    times.sort((a, b) => a - b);
    row.msPerStep = times.length ? times[Math.floor(times.length / 2)] : first;
    if (!times.length) row.note += '; first step only (budget)';
    kernelStats.reset();
    const work = countGpuWork(activeEngineDevice()!.device);
    await t.step();
    work.stop();
    row.dispatchesPerStep = work.dispatches;
    row.submitsPerStep = work.submits;
    row.oursPerStep = kernelStats.ran.fp32 + kernelStats.ran.f16;
    row.fallbacks = Object.fromEntries(kernelStats.fallbacks);
    const key = `${network}:${size}`;
    if (!flopsKnown.has(key) && left() > 15) {
      const profile = await tf.profile(async () => void (await t.step()));
      flopsKnown.set(key, stepFlops(profile.kernels));
    }
    row.flopsPerStep = flopsKnown.get(key) ?? null;
  } catch (err) {
    row.note = `${row.note}; error: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    t.dispose();
  }
  return row;
}

await section('engine steps', 20, async () => {
  if (!haveDevice()) throw new Error('no webgpu backend');
  results.engine = [];
  const flops = new Map<string, number>();
  const configs = CONFIGS.filter((c) => !c.settings.f16 || haveF16());
  if (!haveF16()) results.skipped.push({ section: 'engine steps: ours f16', reason: String(results.device?.f16) });
  for (const network of ['vgg19', 'mobilenet_v2'] as NetworkName[]) {
    const vgg = network === 'vgg19' ? await vggWeights() : null;
    const net = await loadNetwork(network, vgg ? { weightsPath: vgg.file } : {});
    try {
      for (const size of sizes) {
        for (const cfg of configs) {
          if (left() < 10) {
            results.engine.push({ config: cfg.name, network, size, msPerStep: null, note: 'skipped: time budget' });
            continue;
          }
          const row = await engineRow(cfg, network, net, size, flops, vgg?.random ?? false);
          results.engine.push(row);
          console.log(`[probe]   ${network} ${size}px ${cfg.name}: ${row.msPerStep?.toFixed(1)} ms/step, ${row.dispatchesPerStep} dispatches, ${row.submitsPerStep} submits`);
          flush();
        }
      }
    } finally {
      net.dispose();
    }
  }
  setWebgpuKernelSettings(CONFIGS.find((c) => c.name === 'ours fp32 (default)')!.settings);
});

flush();
console.log(`[probe] done in ${((performance.now() - started) / 1000).toFixed(0)} s: ${path.join(outDir, 'summary.md')}`);
process.exit(0);
