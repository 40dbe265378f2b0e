/**
 * `npm run bench:engine` — ms per optimizer step of the Gatys objective for every available
 * backend × network × size, written to docs/BENCHMARKS.md (engine section).
 *
 *   npm run bench:engine -- [--backends wasm,cpu] [--networks tiny,mobilenet_v2,inception_v3,vgg19]
 *                           [--sizes 128,256,512] [--steps 3] [--budget-s 60] [--wasm-threads N]
 *                           [--out docs/BENCHMARKS.md]
 *
 * One step = forward through the network to the deepest loss layer, style (Gram), content and TV
 * losses, the gradient to the image and one Adam update (the `default` preset; `tf-tutorial` for
 * vgg19). Without the real VGG19 file a random-weight file in the Keras layout is generated:
 * timings do not depend on weight values. A combination whose first step exceeds --budget-s is
 * not repeated; the slow `cpu` backend runs 128 px only unless --sizes is given explicitly.
 * Figures are medians after one warm-up step; compare rows of the same run only.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, wasmThreadCount, type BackendName, type NetworkName, type RgbImage } from '../server/engine/index.ts';
import { vgg19WeightsPath } from '../server/engine/networks/vgg19.ts';
import { makeVgg19H5 } from '../scripts/make-vgg19-h5.ts';
import { listArg, numberArg, readArgs } from '../scripts/cli-args.ts';
import { ENGINE_BENCH_OPTIONS, ENGINE_BENCH_USAGE } from './engine-options.ts';
import { MASKED_CONV2D } from '../server/engine/ops/conv.ts';


export interface EngineBenchRow {
  backend: BackendName;
  /** wasm: XNNPACK threads it ran with. */
  threads?: number;
  network: NetworkName;
  size: number;
  msPerStep: number | null;
  /** Convolution + matMul FLOPs per step (see stepFlops). */
  flopsPerStep?: number | null;
  note?: string;
}

export async function vggWeights(): Promise<{ file: string; random: boolean }> {
  const real = vgg19WeightsPath();
  if (existsSync(real)) return { file: real, random: false };
  const file = path.join(os.tmpdir(), 'atelier-bench-vgg19-random.h5');
  if (!existsSync(file)) await makeVgg19H5(file, { seed: 1, scale: 1, naming: 'v0.1' });
  return { file, random: true };
}

const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Multiply-add FLOPs (2 per MAC) of the convolutions and matMuls one step actually ran, from a
 * `tf.profile` of the step: these are nearly all of a step's arithmetic, so FLOPs ÷ step time is
 * the achieved rate to hold against the device's peak. Elementwise ops are not counted.
 */
export function stepFlops(kernels: { name: string; inputShapes: number[][]; outputShapes: number[][] }[]): number {
  let flops = 0;
  for (const k of kernels) {
    const out = k.outputShapes[0];
    // MASKED_CONV2D's inputs are {x, mask, filter}
    const filter = k.inputShapes[k.name === MASKED_CONV2D ? 2 : 1];
    if (!out || !filter) continue;
    if (k.name === 'Conv2D' || k.name === 'FusedConv2D' || k.name === MASKED_CONV2D) {
      const [kh, kw, cin] = filter;
      flops += 2 * elements(out) * kh * kw * cin;
    } else if (k.name === 'DepthwiseConv2dNative' || k.name === 'FusedDepthwiseConv2D') {
      const [kh, kw] = filter;
      flops += 2 * elements(out) * kh * kw;
    } else if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
      // out = batch·M·N, a = batch·M·K: K = |a|·N / |out| (whatever the transposes)
      const n = out[out.length - 1];
      flops += 2 * elements(out) * ((elements(k.inputShapes[0]) * n) / elements(out));
    }
  }
  return flops;
}

export interface OneResult {
  ms: number;
  /** Convolution and matMul FLOPs of one step. */
  flops: number | null;
}

/**
 * `knownFlops`: the FLOPs of this network × size from an earlier backend (they do not depend on
 * the backend), so the extra profiled step is skipped — on the cpu backend it costs a minute.
 */
export async function benchOne(network: NetworkName, content: RgbImage, style: RgbImage, size: number, steps: number, budgetMs: number, weightsPath?: string, knownFlops?: number): Promise<OneResult> {
  const net = await loadNetwork(network, { weightsPath });
  // VGG19 runs the paper's objective (content conv4_2, style conv1_1..conv5_1) with Adam: the same
  // work as bench/torch_gatys_step.py, so the two can be compared as a ratio.
  const preset = network === 'vgg19' ? 'gatys2015' : 'default';
  const params = { ...presetSuggestedParams(preset), resolution: size, optimizer: 'adam' as const, init: 'content' as const };
  const transfer = createStyleTransfer(net, { content, styles: [{ image: style, weight: 1, scale: 1 }], params });
  try {
    const first = (await transfer.step()).ms; // warm-up: kernels compiled, targets computed
    if (first > budgetMs) return { ms: first, flops: null };
    const times: number[] = [];
    for (let i = 0; i < steps; i++) times.push((await transfer.step()).ms);
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    if (knownFlops !== undefined) return { ms, flops: knownFlops };
    // One more step, profiled (not timed: profiling adds its own overhead), to count its FLOPs.
    const profile = await tf.profile(async () => void (await transfer.step()));
    return { ms, flops: stepFlops(profile.kernels) };
  } finally {
    transfer.dispose();
    net.dispose();
  }
}

/** `wasm (2 threads)`, or the backend name. */
export function backendLabel(r: EngineBenchRow): string {
  return r.threads ? `${r.backend} (${r.threads} thread${r.threads > 1 ? 's' : ''})` : r.backend;
}

export function engineTable(rows: EngineBenchRow[]): string {
  const lines = ['| backend | network | size | ms/step | steps/s | GFLOP/step | GFLOP/s | note |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ms = r.msPerStep == null ? '—' : r.msPerStep.toFixed(0);
    const sps = r.msPerStep == null ? '—' : (1000 / r.msPerStep).toFixed(2);
    const gf = r.flopsPerStep ? (r.flopsPerStep / 1e9).toFixed(2) : '—';
    const rate = r.flopsPerStep && r.msPerStep ? (r.flopsPerStep / 1e6 / r.msPerStep).toFixed(1) : '—';
    lines.push(`| ${backendLabel(r)} | ${r.network} | ${r.size} | ${ms} | ${sps} | ${gf} | ${rate} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

/** Replaces (or appends) the section between the markers in docs/BENCHMARKS.md. */
export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nGenerated by `npm run bench`; each section is rewritten by the command named in it.\n';
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = old.indexOf(start);
  const j = old.indexOf(end);
  const next = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : old.trimEnd() + '\n\n' + block + '\n';
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, next);
}

export interface EngineBenchOptions {
  backends: BackendName[];
  networks: NetworkName[];
  sizes: number[];
  /** Sizes above 128 on the cpu backend only when asked for explicitly (it is ~10x slower than wasm). */
  cpuAllSizes: boolean;
  steps: number;
  budgetMs: number;
  /** wasm XNNPACK threads (default: one per core, at most 8). */
  wasmThreads?: number;
}

export async function runEngineBench(o: EngineBenchOptions): Promise<EngineBenchRow[]> {
  // Square content (astronaut, 512x512), as in the PyTorch baseline. The codec (sharp, native) is
  // loaded only here: bench/gpu-probe.ts bundles this module for a machine without it.
  const { readImageFile } = await import('../server/images/codec.ts');
  const content = await readImageFile('assets/content/astronaut.png');
  const style = await readImageFile('assets/style/starry_night.jpg');
  const vgg = o.networks.includes('vgg19') ? await vggWeights() : null;
  const rows: EngineBenchRow[] = [];
  const flopsSeen = new Map<string, number>();
  for (const backend of o.backends) {
    let got: BackendName;
    try {
      got = await initBackend(backend, o.wasmThreads ? { wasmThreads: o.wasmThreads } : {});
    } catch (e) {
      console.log(`${backend}: not available here (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    for (const network of o.networks) {
      for (const size of o.sizes) {
        if (got === 'cpu' && size > 128 && !o.cpuAllSizes) {
          rows.push({ backend: got, network, size, msPerStep: null, note: 'skipped (cpu backend: 128 px only by default)' });
          continue;
        }
        const key = `${network}:${size}`;
        const { ms, flops } = await benchOne(network, content, style, size, o.steps, o.budgetMs, network === 'vgg19' ? vgg!.file : undefined, flopsSeen.get(key));
        if (flops != null) flopsSeen.set(key, flops);
        const note = [network === 'vgg19' && vgg!.random ? 'random weights, Keras layout' : '', ms != null && ms > o.budgetMs ? 'one step only (over budget)' : '']
          .filter(Boolean)
          .join('; ');
        rows.push({ backend: got, network, size, msPerStep: ms, flopsPerStep: flops, note, ...(got === 'wasm' ? { threads: wasmThreadCount() } : {}) });
        console.log(`${got}\t${network}\t${size}px\t${ms?.toFixed(0)} ms/step\t(${tf.memory().numTensors} tensors live)`);
      }
    }
  }
  return rows;
}

export function engineSection(rows: EngineBenchRow[], steps: number): string {
  return [
    '## Engine: ms per Gatys step (`npm run bench:engine`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16)}Z on ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, Node ${process.version}. ` +
      `One step = forward to the deepest loss layer + style/content/TV losses + gradient to the image + Adam update; ` +
      `median of ${steps} after one warm-up step. Square 512² content (astronaut) resized to the size, style starry_night. ` +
      'GFLOP/step counts the convolutions and matMuls of one profiled step (2 FLOPs per multiply-add; elementwise ops not counted), GFLOP/s = that ÷ ms/step. ' +
      'VGG19 runs the paper objective (content conv4_2, style conv1_1..conv5_1), the embedded networks the `default` preset.',
    '',
    engineTable(rows),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values: a } = readArgs(ENGINE_BENCH_OPTIONS, ENGINE_BENCH_USAGE);
  const steps = numberArg(a.steps, 'steps') ?? 3;
  const rows = await runEngineBench({
    backends: listArg(a.backends, BACKEND_NAMES.join(',')) as BackendName[],
    networks: listArg(a.networks, 'tiny,mobilenet_v2,inception_v3,vgg19') as NetworkName[],
    sizes: listArg(a.sizes, '128,256,512').map((s) => numberArg(s, 'sizes')!),
    cpuAllSizes: a.sizes !== undefined,
    steps,
    budgetMs: (numberArg(a['budget-s'], 'budget-s') ?? 60) * 1000,
    wasmThreads: numberArg(a['wasm-threads'], 'wasm-threads'),
  });
  const out = a.out ?? 'docs/BENCHMARKS.md';
  writeSection(out, 'engine', engineSection(rows, steps));
  console.log(`wrote ${out}`);
}

// The file-name test keeps main() from running when this module is bundled into another entry
// (bench/gpu-probe: every bundled module then has the bundle's import.meta.url).
if (import.meta.url === `file://${process.argv[1]}` && process.argv[1].endsWith('engine.ts')) await main();
