/**
 * `npm run bench` — every benchmark, written into docs/BENCHMARKS.md:
 *  1. the engine: ms/step per backend × network × size (bench/engine.ts);
 *  2. the PyTorch baseline on the same machine (bench/torch_gatys_step.py, Debian's
 *     python3-torch; skipped with a note when it is not installed) and the ratio
 *     engine ÷ PyTorch for the same VGG19 Gatys step, measured in this run;
 *  3. live latency: a parameter change → the first frame computed with it at another client
 *     (bench/latency.ts, section `latency`);
 *  4. fan-out: optimization speed with 0 vs. V viewers (bench/fanout.ts, section `fanout`).
 *
 *   npm run bench -- [--sizes 128,256] [--steps 3] [--backends wasm] [--networks ...]
 *                    [--skip-engine] [--skip-latency] [--skip-fanout]
 *                    [--latency-n 30] [--viewers 200] [--duration-s 20] [--rounds 2] [--budget-s 120]
 *                    [--out docs/BENCHMARKS.md]
 *
 * GPU runs (webgpu on the device machine, PyTorch CUDA) use the same two scripts; see bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BACKEND_NAMES, type BackendName, type NetworkName } from '../server/engine/index.ts';
import { backendLabel, engineSection, runEngineBench, writeSection, type EngineBenchRow } from './engine.ts';
import { fanoutSection, runFanoutBench } from './fanout.ts';
import { latencySection, runLatencyBench } from './latency.ts';
import { listArg, numberArg, readArgs } from '../scripts/cli-args.ts';

const { values: a } = readArgs(
  {
    out: { type: 'string' },
    sizes: { type: 'string' },
    steps: { type: 'string' },
    backends: { type: 'string' },
    networks: { type: 'string' },
    'budget-s': { type: 'string' },
    'skip-engine': { type: 'boolean' },
    'skip-latency': { type: 'boolean' },
    'skip-fanout': { type: 'boolean' },
    'latency-n': { type: 'string' },
    viewers: { type: 'string' },
    'duration-s': { type: 'string' },
    rounds: { type: 'string' },
  },
  'npm run bench -- [--sizes 128,256] [--steps 3] [--backends wasm] [--networks ...] [--budget-s 120] [--skip-engine] [--skip-latency] [--skip-fanout] [--latency-n 30] [--viewers 200] [--duration-s 20] [--rounds 2] [--out docs/BENCHMARKS.md]',
);

interface TorchRow {
  size: number;
  ms: number;
  torch: string;
  threads: number;
  device: string;
}

const PYTHON = '/usr/bin/python3';

function runTorch(sizes: number[]): { rows: TorchRow[]; note?: string } {
  if (!existsSync(PYTHON)) return { rows: [], note: `${PYTHON} not found` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { rows: [], note: 'PyTorch not installed (apt-get install -y python3-torch python3-h5py python3-numpy)' };
  const r = spawnSync(PYTHON, ['bench/torch_gatys_step.py', '--sizes', sizes.join(','), '--device', 'cpu'], { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) return { rows: [], note: `torch_gatys_step.py failed: ${r.stderr.trim().split('\n').pop()}` };
  const rows = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as TorchRow);
  return { rows };
}

function comparison(engine: EngineBenchRow[], torch: TorchRow[], note?: string): string {
  const lines = [
    '## VGG19 Gatys step: engine vs PyTorch on the same CPU (`npm run bench`)',
    '',
    'Same step on both sides: forward to conv5_1, content loss at conv4_2, Gram losses at conv1_1..conv5_1, gradient to the image, Adam update; ' +
      'square image; random weights (cost does not depend on their values). Measured in the same run; the ratio is what counts on a noisy machine.',
    '',
  ];
  if (!torch.length) return [...lines, `PyTorch baseline not run: ${note ?? 'no result'}.`].join('\n');
  lines.push('| size | engine backend | engine ms/step | PyTorch ms/step (CPU) | engine ÷ PyTorch |', '|---|---|---|---|---|');
  for (const t of torch) {
    for (const e of engine.filter((r) => r.network === 'vgg19' && r.size === t.size && r.msPerStep != null)) {
      lines.push(`| ${t.size} | ${backendLabel(e)} | ${e.msPerStep!.toFixed(0)} | ${t.ms.toFixed(0)} (torch ${t.torch}, ${t.threads} threads) | ${(e.msPerStep! / t.ms).toFixed(2)}× |`);
    }
  }
  return lines.join('\n');
}

const out = a.out ?? 'docs/BENCHMARKS.md';

if (!a['skip-engine']) {
  const steps = numberArg(a.steps, 'steps') ?? 3;
  const sizes = listArg(a.sizes, '128,256').map((s) => numberArg(s, 'sizes')!);
  const engine = await runEngineBench({
    backends: listArg(a.backends, BACKEND_NAMES.join(',')) as BackendName[],
    networks: listArg(a.networks, 'tiny,mobilenet_v2,inception_v3,vgg19') as NetworkName[],
    sizes,
    cpuAllSizes: false,
    steps,
    budgetMs: (numberArg(a['budget-s'], 'budget-s') ?? 120) * 1000,
  });
  writeSection(out, 'engine', engineSection(engine, steps));
  const torch = runTorch(sizes);
  writeSection(out, 'pytorch', comparison(engine, torch.rows, torch.note));
}

// The live benchmarks run after the engine bench, one at a time, each with its own server and
// engine worker thread, so no two measurements share the CPU.
if (!a['skip-latency']) {
  const n = numberArg(a['latency-n'], 'latency-n');
  writeSection(out, 'latency', latencySection(await runLatencyBench(n !== undefined ? { n } : {})));
}
if (!a['skip-fanout']) {
  const o = { viewers: numberArg(a.viewers, 'viewers'), durationS: numberArg(a['duration-s'], 'duration-s'), rounds: numberArg(a.rounds, 'rounds') };
  writeSection(out, 'fanout', fanoutSection(await runFanoutBench(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)))));
}
console.log(`wrote ${out}`);
// The engine backends and worker threads keep handles open; the results are written.
process.exit(0);
