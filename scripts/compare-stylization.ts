/**
 * The stylization comparison behind the `default` preset (docs/STYLIZATION.md); not a test.
 * Every candidate runs on every pair (the sample pairs it was tuned on and held-out pairs from
 * scripts/stylization/eval-images.ts) for the same number of Adam steps; snapshots at given
 * steps get the three metrics of scripts/stylization/metrics.ts. Writes one sheet per candidate
 * (rows: pairs; columns: content, painting, the snapshots), an overview (pairs × candidates at
 * one step) and a JSON of every number.
 *
 *   node --import tsx scripts/compare-stylization.ts [--only P0,P3] [--pairs tuned|held-out|all|c:s,…]
 *     [--size 256] [--steps 50,150,300] [--out docs/stylization] [--overview-step 150]
 *   node --import tsx scripts/compare-stylization.ts --setup '{"preset":{…},"params":{…}}' --pairs c:s --out /tmp/x
 *
 * A candidate is a patch of the `default` preset plus parameter overrides, applied for its runs
 * only (this process's copy of PRESETS), so it means the same thing after the preset changes.
 * Renders are cached under .cache/compare-stylization by setup, pair, size and steps; after a change
 * of the engine, `--fresh P5,…` renders those candidates again (and caches the new renders).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import {
  createStyleTransfer,
  initBackend,
  loadNetwork,
  PRESETS,
  presetSuggestedParams,
  type FeatureNetwork,
  type Preset,
  type RgbImage,
  type TransferParams,
} from '../server/engine/index.ts';
import { decodeImage, encodeImage, readImageFile } from '../server/images/codec.ts';
import { stylizationMetrics, type StylizationMetrics } from './stylization/metrics.ts';
import { EVAL_DIR, ensureEvalImages } from './stylization/eval-images.ts';
import { readArgs } from './cli-args.ts';

type PresetPatch = Partial<Omit<Preset, 'image' | 'base'>> & { image?: Partial<Preset['image']>; base?: Partial<Preset['base']> };

export interface Candidate {
  id: string;
  label: string;
  preset: PresetPatch;
  params: Partial<TransferParams>;
}

/** The default as it was before this comparison (pixels, no shift, no palette term). */
const BEFORE: PresetPatch = {
  image: { parameterization: 'pixels', levels: 1, jitter: 0, average: 0 },
  base: { content: 0.5, style: 10, tv: 30, palette: 0, layout: 0 },
  tvColorWeights: undefined,
};

export const CANDIDATES: Candidate[] = [
  { id: 'P0', label: 'before: pixels, Adam 0.02, RGB TV', preset: BEFORE, params: { learningRate: 0.02 } },
  {
    id: 'P1',
    label: 'the probe: 4-level pyramid, Adam 0.01, shifts ±8, palette 100, content 1',
    preset: { image: { parameterization: 'pyramid', levels: 4, jitter: 8, average: 0 }, base: { content: 1, style: 10, tv: 30, palette: 100, layout: 0 }, tvColorWeights: undefined },
    params: { learningRate: 0.01 },
  },
  {
    id: 'P2',
    label: 'P1 in a decorrelated colour basis, TV on YIQ (1, 4, 4), content 2',
    preset: { image: { parameterization: 'pyramid-decorrelated', levels: 4, jitter: 8, average: 0 }, base: { content: 2, style: 10, tv: 30, palette: 100, layout: 0 }, tvColorWeights: [1, 4, 4] },
    params: { learningRate: 0.01 },
  },
  {
    id: 'P3',
    label: 'P2 + layout term 1, TV on YIQ (1, 6, 6)',
    preset: { image: { parameterization: 'pyramid-decorrelated', levels: 4, jitter: 8, average: 0 }, base: { content: 2, style: 10, tv: 30, palette: 100, layout: 1 }, tvColorWeights: [1, 6, 6] },
    params: { learningRate: 0.01 },
  },
  {
    id: 'P4',
    label: 'P3 with the sliced-Wasserstein palette term on 4x4-cell colours',
    preset: { image: { parameterization: 'pyramid-decorrelated', levels: 4, jitter: 8, average: 0 }, base: { content: 2, style: 10, tv: 30, palette: 100, layout: 1 }, tvColorWeights: [1, 6, 6], palette: 'sliced' },
    params: { learningRate: 0.01 },
  },
  {
    id: 'P5',
    label: 'P4 with layout weight 2: the new default',
    preset: { image: { parameterization: 'pyramid-decorrelated', levels: 4, jitter: 8, average: 0 }, base: { content: 2, style: 10, tv: 30, palette: 100, layout: 2 }, tvColorWeights: [1, 6, 6], palette: 'sliced' },
    params: { learningRate: 0.01 },
  },
];

export const TUNED_PAIRS = ['chelsea:starry_night', 'astronaut:the_scream', 'coffee:woman-with-hat-matisse'];
export const HELD_OUT_PAIRS = [
  'giraffe:GreatWave',
  'chambord:kandinky',
  'petra:gogh_auvert',
  'hedgehog:renoir-moulin_de_la_galette',
  'cow:HokusaiBridge',
  'pontdugard:cassat_summertime',
];

const { values: argv } = readArgs(
  {
    only: { type: 'string' },
    setup: { type: 'string' },
    pairs: { type: 'string', default: 'all' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '50,150,300' },
    out: { type: 'string', default: 'docs/stylization' },
    'overview-step': { type: 'string', default: '150' },
    model: { type: 'string', default: 'mobilenet_v2' },
    list: { type: 'boolean', default: false },
    fresh: { type: 'string', default: '' },
  },
  'node --import tsx scripts/compare-stylization.ts [--only P0,P3] [--pairs tuned|held-out|all|c:s,…] [--size 256] [--steps 50,150,300] [--out docs/stylization] [--overview-step 150] [--fresh P5] [--setup JSON] [--list]',
);
const FRESH = new Set(argv.fresh!.split(',').filter(Boolean));

function pairList(spec: string): string[] {
  if (spec === 'tuned') return TUNED_PAIRS;
  if (spec === 'held-out') return HELD_OUT_PAIRS;
  if (spec === 'all') return [...TUNED_PAIRS, ...HELD_OUT_PAIRS];
  return spec.split(',');
}

function findImage(stem: string): string {
  for (const dir of ['assets/content', 'assets/style', EVAL_DIR]) {
    for (const ext of ['.png', '.jpg', '.webp']) if (existsSync(path.join(dir, stem + ext))) return path.join(dir, stem + ext);
  }
  throw new Error(`no image named '${stem}' in assets/ or ${EVAL_DIR}`);
}

async function resized(img: RgbImage, width: number, height?: number): Promise<RgbImage> {
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height ?? null, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/** Applies `patch` to the default preset for the duration of `fn`. */
async function withPreset<T>(patch: PresetPatch, fn: () => Promise<T>): Promise<T> {
  const target = PRESETS.default as unknown as Record<string, unknown>;
  const saved = { ...target, image: { ...PRESETS.default.image }, base: { ...PRESETS.default.base } };
  // Candidates from before the sliced palette term name no `palette`: they ran the Gaussian one
  // (setting it here, not in their patch, keeps their cached renders' keys).
  for (const [k, v] of Object.entries({ palette: 'gaussian', ...patch })) {
    target[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(target[k] as object), ...v } : v;
  }
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(target)) delete target[k];
    Object.assign(target, saved);
  }
}

interface Snapshot {
  step: number;
  image: RgbImage;
  metrics: StylizationMetrics;
}

interface RenderResult {
  pair: string;
  width: number;
  height: number;
  /** Median wall time of steps 2..n (step 1 also computes the targets). */
  msPerStep: number;
  snapshots: Snapshot[];
}

async function render(network: FeatureNetwork, c: Candidate, pair: string, size: number, steps: number[]): Promise<RenderResult> {
  const key = createHash('sha256').update(JSON.stringify({ preset: c.preset, params: c.params, pair, size, steps, model: network.name })).digest('hex').slice(0, 16);
  const dir = path.join('.cache', 'compare-stylization');
  const [contentName, styleName] = pair.split(':');
  const content = await readImageFile(findImage(contentName));
  const style = await readImageFile(findImage(styleName));
  let meta: { msPerStep: number; width: number; height: number } | null = null;
  const images: RgbImage[] = [];
  try {
    if (FRESH.has(c.id)) throw new Error('render again (--fresh)');
    meta = JSON.parse(await readFile(path.join(dir, `${key}.json`), 'utf8'));
    for (const s of steps) images.push(await decodeImage(await readFile(path.join(dir, `${key}-${s}.png`))));
  } catch {
    meta = null;
    images.length = 0;
  }
  if (!meta) {
    const times: number[] = [];
    await withPreset(c.preset, async () => {
      const params: TransferParams = { ...presetSuggestedParams('default'), resolution: size, ...c.params };
      const st = createStyleTransfer(network, { content, styles: [{ image: style, weight: 1, scale: 1 }], params });
      try {
        for (let i = 1; i <= Math.max(...steps); i++) {
          const r = await st.step();
          if (!Number.isFinite(r.losses.total)) throw new Error(`${c.id} ${pair}: loss became ${r.losses.total} at step ${i}`);
          if (i > 1) times.push(r.ms);
          if (steps.includes(i)) images.push(await st.image());
        }
      } finally {
        st.dispose();
      }
    });
    times.sort((a, b) => a - b);
    meta = { msPerStep: times[Math.floor(times.length / 2)] ?? NaN, width: images[0].width, height: images[0].height };
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${key}.json`), JSON.stringify(meta));
    for (const [i, s] of steps.entries()) await writeFile(path.join(dir, `${key}-${s}.png`), await encodeImage(images[i], 'image/png'));
  }
  const contentAt = await resized(content, meta.width, meta.height);
  const paintingAtWidth = await resized(style, meta.width);
  const painting = await resized(style, 256);
  return {
    pair,
    ...meta,
    snapshots: steps.map((step, i) => ({ step, image: images[i], metrics: stylizationMetrics(images[i], contentAt, paintingAtWidth, painting) })),
  };
}

// ---- sheets -------------------------------------------------------------------------------

const GAP = 4;
const CAPTION = 30;

function textSvg(width: number, height: number, lines: string[], size = 12): Buffer {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const body = lines.map((l, i) => `<text x="4" y="${(i + 1) * (size + 2)}" font-family="DejaVu Sans" font-size="${size}" fill="#eee">${esc(l)}</text>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`);
}

async function tile(img: RgbImage, cell: number): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(cell, cell, { fit: 'contain', background: '#202020' })
    .png()
    .toBuffer();
}

const fmt = (m: StylizationMetrics) => `pal ${m.palette.toFixed(2)} spk ${m.speckle.toFixed(2)} lay ${m.layout.toFixed(2)}`;

async function candidateSheet(file: string, c: Candidate, rows: RenderResult[], size: number): Promise<void> {
  const cols = 2 + rows[0].snapshots.length;
  const width = cols * (size + GAP) + GAP;
  const rowH = size + CAPTION + GAP;
  const height = 40 + rows.length * rowH;
  const parts: OverlayOptions[] = [{ input: textSvg(width, 40, [`${c.id}: ${c.label}`, `${size}px, ms/step per row; metrics: palette (≤0.5), speckle (≤1), layout (≥0.85)`], 13), left: 0, top: 0 }];
  for (const [r, row] of rows.entries()) {
    const top = 40 + r * rowH;
    const [cn, sn] = row.pair.split(':');
    const inputs = [await readImageFile(findImage(cn)), await readImageFile(findImage(sn))];
    const captions = [`${cn}`, `${sn}  ${row.msPerStep.toFixed(0)} ms/step`, ...row.snapshots.map((s) => `@${s.step}: ${fmt(s.metrics)}`)];
    const images = [...inputs, ...row.snapshots.map((s) => s.image)];
    for (const [k, img] of images.entries()) {
      const left = GAP + k * (size + GAP);
      parts.push({ input: textSvg(size, CAPTION, [captions[k]], 10), left, top });
      parts.push({ input: await tile(img, size), left, top: top + CAPTION });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: '#202020' } }).composite(parts).jpeg({ quality: 88 }).toFile(file);
}

async function overviewSheet(file: string, results: Map<string, RenderResult[]>, candidates: Candidate[], step: number, size: number): Promise<void> {
  const pairs = results.get(candidates[0].id)!.map((r) => r.pair);
  const cell = Math.round(size * 0.75);
  const width = (2 + candidates.length) * (cell + GAP) + GAP;
  const rowH = cell + CAPTION + GAP;
  const height = 24 + pairs.length * rowH;
  const parts: OverlayOptions[] = [{ input: textSvg(width, 24, [`after ${step} steps: ${candidates.map((c) => c.id).join(', ')}`], 13), left: 0, top: 0 }];
  for (const [r, pair] of pairs.entries()) {
    const top = 24 + r * rowH;
    const [cn, sn] = pair.split(':');
    const images: [string, RgbImage][] = [
      [cn, await readImageFile(findImage(cn))],
      [sn, await readImageFile(findImage(sn))],
    ];
    for (const c of candidates) {
      const snap = results.get(c.id)!.find((x) => x.pair === pair)!.snapshots.find((s) => s.step === step)!;
      images.push([`${c.id} ${fmt(snap.metrics)}`, snap.image]);
    }
    for (const [k, [caption, img]] of images.entries()) {
      const left = GAP + k * (cell + GAP);
      parts.push({ input: textSvg(cell, CAPTION, [caption], 9), left, top });
      parts.push({ input: await tile(img, cell), left, top: top + CAPTION });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: '#202020' } }).composite(parts).jpeg({ quality: 88 }).toFile(file);
}

/** The metrics as a Markdown table: a row per pair and candidate, a column per step. */
function metricTable(results: Map<string, RenderResult[]>, candidates: Candidate[], steps: number[]): string {
  const pairs = results.get(candidates[0].id)!.map((r) => r.pair);
  const lines = [
    `| pair | id | ms/step | ${steps.map((s) => `@${s}: palette / speckle / layout`).join(' | ')} |`,
    `| --- | --- | --- | ${steps.map(() => '---').join(' | ')} |`,
  ];
  for (const pair of pairs) {
    for (const c of candidates) {
      const r = results.get(c.id)!.find((x) => x.pair === pair)!;
      const cells = steps.map((step) => {
        const m = r.snapshots.find((s) => s.step === step)!.metrics;
        return `${m.palette.toFixed(2)} / ${m.speckle.toFixed(2)} / ${m.layout.toFixed(2)}`;
      });
      lines.push(`| ${pair.replace(':', ' × ')} | ${c.id} | ${r.msPerStep.toFixed(0)} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

// ---- main ---------------------------------------------------------------------------------

if (argv.list) {
  for (const c of CANDIDATES) console.log(`${c.id}\t${c.label}`);
  process.exit(0);
}
await ensureEvalImages();
const size = Number(argv.size);
const steps = argv.steps!.split(',').map(Number);
const candidates: Candidate[] = argv.setup
  ? [{ id: 'setup', label: argv.setup, ...{ preset: {}, params: {} }, ...JSON.parse(argv.setup) }]
  : argv.only
    ? argv.only.split(',').map((id) => CANDIDATES.find((c) => c.id === id) ?? (() => { throw new Error(`unknown candidate ${id} (see --list)`); })())
    : CANDIDATES;
const backend = await initBackend('auto');
const network = await loadNetwork(argv.model as 'mobilenet_v2');
await mkdir(argv.out!, { recursive: true });
const results = new Map<string, RenderResult[]>();
for (const c of candidates) {
  const rows: RenderResult[] = [];
  for (const pair of pairList(argv.pairs!)) {
    const r = await render(network, c, pair, size, steps);
    rows.push(r);
    console.log(`${c.id} ${pair} ${r.msPerStep.toFixed(0)} ms/step  ${r.snapshots.map((s) => `@${s.step} ${fmt(s.metrics)}`).join(' | ')}`);
  }
  results.set(c.id, rows);
  await candidateSheet(path.join(argv.out!, `${c.id}-${size}.jpg`), c, rows, size);
}
const overviewStep = Number(argv['overview-step']);
if (steps.includes(overviewStep)) await overviewSheet(path.join(argv.out!, `overview-${size}-${overviewStep}.jpg`), results, candidates, overviewStep, size);
const json = {
  backend,
  size,
  steps,
  candidates: candidates.map((c) => ({
    ...c,
    results: results.get(c.id)!.map((r) => ({ pair: r.pair, msPerStep: r.msPerStep, width: r.width, height: r.height, metrics: Object.fromEntries(r.snapshots.map((s) => [s.step, s.metrics])) })),
  })),
};
await writeFile(path.join(argv.out!, `comparison-${size}.json`), JSON.stringify(json, null, 1) + '\n');
await writeFile(path.join(argv.out!, `comparison-${size}.md`), metricTable(results, candidates, steps));
network.dispose();
