/**
 * `npm run bench:regions` — what painted style regions cost (engine SPEC E34–E38): ms per step of
 * one global style against the same step with 3 painted regions, on the embedded default
 * (mobilenet_v2, preset `default`: pyramid, random shifts, palette and layout terms), written to
 * docs/BENCHMARKS.md (section `regions`). The goal: at most 2× one global style at 256 px.
 *
 *   npm run bench:regions -- [--size 256] [--steps 12] [--rounds 3] [--backend wasm] [--out docs/BENCHMARKS.md] [--no-write]
 *
 * Configurations, all on the same content (chelsea, 256×170) and style images:
 *  - `global`: one style everywhere (today's objective; the baseline);
 *  - `3 regions + rest`: three painted regions (The Scream in a left band, Woman with a Hat in a
 *    disc, Shipwreck in a bottom-right block) over about 60% of the image, the rest keeping the
 *    global style: four guided Grams per layer;
 *  - `3 regions, whole image`: three vertical thirds painted, no unpainted rest.
 * Each transfer first runs 17 steps (every shift of the seeded schedule, so the per-shift caches
 * are full: steady state), then the configurations step in turn, `steps` each per round, so
 * machine load hits all of them alike; figures are medians over all rounds. Run it under
 * `flock -x /work/.bench.lock` on the shared machine.
 */
import os from 'node:os';
import path from 'node:path';
import { createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, type BackendName, type MaskImage, type StyleRegion } from '../server/engine/index.ts';
import type { EngineStyleTransfer } from '../server/engine/transfer.ts';
import { readImageFile } from '../server/images/codec.ts';
import { writeSection } from './engine.ts';
import { numberArg, readArgs } from '../scripts/cli-args.ts';


const root = path.resolve(import.meta.dirname, '..');
const asset = (p: string) => path.join(root, 'assets', p);

function mask(width: number, height: number, inside: (x: number, y: number) => boolean): MaskImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = inside(x / width, y / height) ? 255 : 0;
  return { width, height, data };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export interface RegionsBenchRow {
  name: string;
  msPerStep: number;
  ratio: number;
  /** Painted share of the image. */
  painted: number;
}

export async function runRegionsBench(opts: { size: number; steps: number; rounds: number; backend: BackendName }): Promise<{ rows: RegionsBenchRow[]; backend: string; started: string }> {
  const started = new Date().toISOString();
  const backend = await initBackend(opts.backend);
  const net = await loadNetwork('mobilenet_v2');
  const content = await readImageFile(asset('content/chelsea.png'));
  const [starry, scream, matisse, shipwreck] = await Promise.all(
    ['starry_night.jpg', 'the_scream.jpg', 'woman-with-hat-matisse.jpg', 'shipwreck.jpg'].map((f) => readImageFile(asset(`style/${f}`))),
  );
  const { width: W, height: H } = content;
  const params = { ...presetSuggestedParams('default'), resolution: opts.size };
  const styles = [{ image: starry, weight: 1, scale: 1 }];
  const blobs: StyleRegion[] = [
    { image: scream, scale: 1, mask: mask(W, H, (x) => x < 0.3) },
    { image: matisse, scale: 1, mask: mask(W, H, (x, y) => (x - 0.55) ** 2 + ((y - 0.4) * (H / W)) ** 2 < 0.15 ** 2) },
    { image: shipwreck, scale: 1, mask: mask(W, H, (x, y) => x > 0.7 && y > 0.5) },
  ];
  const thirds: StyleRegion[] = [scream, matisse, shipwreck].map((image, i) => ({ image, scale: 1, mask: mask(W, H, (x) => x >= i / 3 && x < (i + 1) / 3) }));
  const painted = (rs: StyleRegion[]) => {
    let n = 0;
    for (let i = 0; i < W * H; i++) if (rs.some((r) => r.mask.data[i])) n++;
    return n / (W * H);
  };
  const configs: { name: string; transfer: EngineStyleTransfer; painted: number; ms: number[] }[] = [
    { name: 'one global style (baseline)', transfer: createStyleTransfer(net, { content, styles, params }), painted: 0, ms: [] },
    { name: '3 regions + unpainted rest (4 guided Grams per layer)', transfer: createStyleTransfer(net, { content, styles, regions: blobs, params }), painted: painted(blobs), ms: [] },
    { name: '3 regions over the whole image (3 guided Grams per layer)', transfer: createStyleTransfer(net, { content, styles, regions: thirds, params }), painted: painted(thirds), ms: [] },
  ];
  try {
    for (const c of configs) for (let i = 0; i < 17; i++) await c.transfer.step();
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of configs) {
        for (let i = 0; i < opts.steps; i++) c.ms.push((await c.transfer.step()).ms);
      }
      process.stderr.write(`round ${round + 1}/${opts.rounds}: ${configs.map((c) => `${median(c.ms).toFixed(0)} ms`).join(' | ')}\n`);
    }
  } finally {
    for (const c of configs) c.transfer.dispose();
    net.dispose();
  }
  const base = median(configs[0].ms);
  return { rows: configs.map((c) => ({ name: c.name, msPerStep: median(c.ms), ratio: median(c.ms) / base, painted: c.painted })), backend, started };
}

export function regionsSection(r: Awaited<ReturnType<typeof runRegionsBench>>, opts: { size: number; steps: number; rounds: number }): string {
  const lines = [
    '## Painted style regions: cost per step (`npm run bench:regions`)',
    '',
    `Run ${r.started.slice(0, 16)}Z on ${os.cpus()[0]?.model ?? 'this CPU'} × ${os.cpus().length}, ${r.backend}, mobilenet_v2 (the embedded default), preset \`default\`, ` +
      `chelsea at ${opts.size} px. Median ms per step over ${opts.rounds} rounds of ${opts.steps} steps per configuration, in turn, after 17 warm-up steps each ` +
      '(every random shift of the schedule: steady state). Goal: 3 regions at most 2× one global style (engine SPEC E34). ' +
      'Command: `npm run bench:regions` (on the shared 2-core machine under `flock -x /work/.bench.lock`, so nothing else runs meanwhile).',
    '',
    '| configuration | painted | ms/step | ÷ one global style |',
    '|---|---|---|---|',
    ...r.rows.map((row) => `| ${row.name} | ${Math.round(row.painted * 100)}% | ${row.msPerStep.toFixed(0)} | ${row.ratio.toFixed(2)}× |`),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: a } = readArgs(
    { size: { type: 'string' }, steps: { type: 'string' }, rounds: { type: 'string' }, backend: { type: 'string' }, out: { type: 'string' }, 'no-write': { type: 'boolean' } },
    'npm run bench:regions -- [--size 256] [--steps 12] [--rounds 3] [--backend wasm] [--out docs/BENCHMARKS.md] [--no-write]',
  );
  const opts = {
    size: numberArg(a.size, 'size') ?? 256,
    steps: numberArg(a.steps, 'steps') ?? 12,
    rounds: numberArg(a.rounds, 'rounds') ?? 3,
    backend: (a.backend ?? 'wasm') as BackendName,
  };
  const r = await runRegionsBench(opts);
  const section = regionsSection(r, opts);
  console.log(section);
  if (!a['no-write']) writeSection(a.out ?? path.join(root, 'docs/BENCHMARKS.md'), 'regions', section);
  process.exit(0);
}
