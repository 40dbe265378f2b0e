/**
 * The options of bench/engine.ts (`npm run bench:engine`), declared once: engine.ts reads them and
 * bench/compare-revisions.ts checks and passes them on to it.
 */
export const ENGINE_BENCH_OPTIONS = {
  backends: { type: 'string' },
  networks: { type: 'string' },
  sizes: { type: 'string' },
  steps: { type: 'string' },
  'budget-s': { type: 'string' },
  'wasm-threads': { type: 'string' },
  out: { type: 'string' },
} as const;

export const ENGINE_BENCH_USAGE =
  'npm run bench:engine -- [--backends wasm,cpu] [--networks tiny,mobilenet_v2,inception_v3,vgg19] [--sizes 128,256,512] [--steps 3] [--budget-s 60] [--wasm-threads N] [--out docs/BENCHMARKS.md]';
