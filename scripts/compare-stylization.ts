/**
 * Side-by-side comparison of stylization setups for the embedded networks (not a test): renders
 * every candidate (model x layers x per-layer weights x feature transform x base weights) on a few
 * content/style pairs with the same Adam budget and writes, per candidate, one labelled sheet
 * (content | style | result per pair) plus an overview sheet (candidates x pairs). Used to choose
 * the `default` preset and the embedded default layers; see docs/STYLIZATION.md for the results.
 *
 *   node --import tsx scripts/compare-stylization.ts [--size 256] [--iters 60] [--only M0,I0]
 *     [--pairs chelsea:starry_night,astronaut:the_scream] [--out docs/stylization] [--backend auto]
 *     [--overview overview.jpg] [--list] [--cached-only]
 *
 * Candidates give *absolute* base weights; they are turned into TransferParams multipliers of the
 * current `default` preset, so a candidate means the same thing after the preset is retuned.
 * Renders are cached (by candidate, pair, size and iterations) under `.cache/compare-stylization`
 * so sheets can be re-laid out without optimizing again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  createStyleTransfer,
  initBackend,
  loadNetwork,
  PRESETS,
  resolveLayers,
  getPreset,
  type BackendName,
  type FeatureNetwork,
  type FeatureTransformName,
  type LayerWeight,
  type RgbImage,
  type TransferParams,
} from '../server/engine/index.ts';
import { decodeImage, encodeImage, readImageFile } from '../server/images/codec.ts';

type EmbeddedModel = 'mobilenet_v2' | 'inception_v3';

/** One setup to compare. Layers omitted = the network's current suggestion (NSFWJS_DEFAULTS). */
export interface Candidate {
  id: string;
  /** What is different about it, shown on the sheets. */
  label: string;
  model: EmbeddedModel;
  contentLayers?: LayerWeight[];
  styleLayers?: LayerWeight[];
  featureTransform: FeatureTransformName;
  /** Absolute base weights (the `default` preset's are content 0.5, style 5, TV 5 before tuning). */
  base: { content: number; style: number; tv: number };
  learningRate?: number;
  /** Pooling (only InceptionV3 has pools); default 'avg', the session default. */
  pooling?: 'max' | 'avg';
}

const w = (layers: string[], weights?: number[]): LayerWeight[] => layers.map((layer, i) => ({ layer, weight: weights?.[i] ?? 1 }));

/** The layer sets tried, named so the doc can refer to them. */
export const LAYER_SETS = {
  /** Until this comparison: expansions at 1/2 … 1/16, plus the first conv. */
  mobilenetExpand: ['Conv1_relu', 'block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu'],
  /** The same resolutions without the 1/16 layer (less large-scale structure from the painting). */
  mobilenetExpandShallow: ['Conv1_relu', 'block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu'],
  /** Depthwise ReLU outputs (spatially filtered, not only channel-mixed). */
  mobilenetDepthwise: ['expanded_conv_depthwise_relu', 'block_2_depthwise_relu', 'block_4_depthwise_relu', 'block_7_depthwise_relu', 'block_14_depthwise_relu'],
  inceptionStem: ['activation_1', 'activation_3', 'activation_5', 'mixed0', 'mixed1', 'mixed3'],
  /** Inception without the two stride-2 'valid' stem convolutions' outputs. */
  inceptionNoStride2: ['activation_2', 'activation_3', 'activation_5', 'mixed0', 'mixed1'],
} as const;

const BASE0 = { content: 0.5, style: 5, tv: 5 };

/** Every candidate the script knows; `--only` picks some. */
export const CANDIDATES: Candidate[] = [
  { id: 'M0', label: 'mobilenet_v2, expand layers (old default), none, c0.5 s5 tv5', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: BASE0 },
  { id: 'M1', label: 'M0 + softmax', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'softmax', base: BASE0 },
  { id: 'M2', label: 'M0, style x4 (s20)', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { ...BASE0, style: 20 } },
  { id: 'M3', label: 'M0, early-layer weights 4,4,2,1,1', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand], [4, 4, 2, 1, 1]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: BASE0 },
  { id: 'M4', label: 'M0, depthwise layers', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetDepthwise]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: BASE0 },
  { id: 'M5', label: 'M0, content block_13_expand_relu', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_13_expand_relu']), featureTransform: 'none', base: BASE0 },
  { id: 'I0', label: 'inception_v3, stem+mixed0,1,3 (old default), none, c0.5 s5 tv5', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionStem]), contentLayers: w(['mixed2']), featureTransform: 'none', base: BASE0 },
  { id: 'I1', label: 'I0 + softmax', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionStem]), contentLayers: w(['mixed2']), featureTransform: 'softmax', base: BASE0 },
  { id: 'I2', label: 'I0, TV x4 (tv20)', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionStem]), contentLayers: w(['mixed2']), featureTransform: 'none', base: { ...BASE0, tv: 20 } },
  { id: 'I3', label: 'I0, no stride-2 stem layers', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionNoStride2]), contentLayers: w(['mixed2']), featureTransform: 'none', base: BASE0 },
  { id: 'M7', label: 'M0, tv x4 (tv20)', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { ...BASE0, tv: 20 } },
  { id: 'M8', label: 'deep style block_3,6,10,13,16 expand, s10 tv15', model: 'mobilenet_v2', styleLayers: w(['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu']), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { content: 0.5, style: 10, tv: 15 } },
  { id: 'I4', label: 'I0 without mixed3, tv x4 (tv20)', model: 'inception_v3', styleLayers: w(['activation_1', 'activation_3', 'activation_5', 'mixed0', 'mixed1']), contentLayers: w(['mixed2']), featureTransform: 'none', base: { ...BASE0, tv: 20 } },
  { id: 'I5', label: 'I0, early-layer weights 4,4,2,1,1,1, tv x2 (tv10)', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionStem], [4, 4, 2, 1, 1, 1]), contentLayers: w(['mixed2']), featureTransform: 'none', base: { ...BASE0, tv: 10 } },
  { id: 'I6', label: 'inception style activation_1,3,5 + mixed0 only, tv x2 (tv10)', model: 'inception_v3', styleLayers: w(['activation_1', 'activation_3', 'activation_5', 'mixed0']), contentLayers: w(['mixed2']), featureTransform: 'none', base: { ...BASE0, tv: 10 } },
  { id: 'I7', label: 'I0 with max pooling (as trained)', model: 'inception_v3', styleLayers: w([...LAYER_SETS.inceptionStem]), contentLayers: w(['mixed2']), featureTransform: 'none', base: BASE0, pooling: 'max' },
  { id: 'I8', label: 'inception stem only (activation_1..3, no pools), content activation_5', model: 'inception_v3', styleLayers: w(['activation_1', 'activation_2', 'activation_3']), contentLayers: w(['activation_5']), featureTransform: 'none', base: BASE0 },
  { id: 'M9', label: 'M0 layers, s10 tv20', model: 'mobilenet_v2', styleLayers: w([...LAYER_SETS.mobilenetExpand]), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { content: 0.5, style: 10, tv: 20 } },
  { id: 'M10', label: 'block_3,6,10,13,16 expand, s10 tv30 (new default)', model: 'mobilenet_v2', styleLayers: w(['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu']), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { content: 0.5, style: 10, tv: 30 } },
  { id: 'M11', label: 'M10 with content x0.5 (c0.25 s10 tv30)', model: 'mobilenet_v2', styleLayers: w(['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu']), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { content: 0.25, style: 10, tv: 30 } },
  { id: 'M12', label: 'block_1,3,6,10,13,16 expand, s10 tv30', model: 'mobilenet_v2', styleLayers: w(['block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu']), contentLayers: w(['block_6_expand_relu']), featureTransform: 'none', base: { content: 0.5, style: 10, tv: 30 } },
];

/** Content/style pairs (file stems under assets/content and assets/style). */
const DEFAULT_PAIRS = 'chelsea:starry_night,astronaut:the_scream,coffee:woman-with-hat-matisse';

interface Options {
  size: number;
  iters: number;
  only: string[] | null;
  pairs: { content: string; style: string }[];
  out: string;
  backend: BackendName | 'auto';
  overview: string;
  list: boolean;
  /** Only lay out renders already in the cache (skip the others): re-draw sheets without optimizing. */
  cachedOnly: boolean;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const int = (name: string, fallback: number) => {
    const v = Number(get(name) ?? fallback);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
    return v;
  };
  const pairs = (get('pairs') ?? DEFAULT_PAIRS).split(',').map((p) => {
    const [content, style] = p.split(':');
    if (!content || !style) throw new Error(`--pairs entries are content:style (got '${p}')`);
    return { content, style };
  });
  const only = get('only')?.split(',') ?? null;
  for (const id of only ?? []) if (!CANDIDATES.some((c) => c.id === id)) throw new Error(`unknown candidate '${id}' (see --list)`);
  return {
    size: int('size', 256),
    iters: int('iters', 60),
    only,
    pairs,
    out: get('out') ?? 'docs/stylization',
    backend: (get('backend') ?? 'auto') as BackendName | 'auto',
    overview: get('overview') ?? 'overview.jpg',
    list: argv.includes('--list'),
    cachedOnly: argv.includes('--cached-only'),
  };
}

async function findAsset(dir: string, stem: string): Promise<string> {
  for (const ext of ['.png', '.jpg', '.jpeg']) {
    const file = path.join('assets', dir, stem + ext);
    try {
      await readFile(file);
      return file;
    } catch {
      /* next extension */
    }
  }
  throw new Error(`no assets/${dir}/${stem}.png|jpg`);
}

/** TransferParams for a candidate: its absolute base weights as multipliers of the current preset. */
export function candidateParams(c: Candidate, size: number): TransferParams {
  const base = PRESETS.default.base;
  return {
    preset: 'default',
    contentWeight: c.base.content / base.content,
    styleWeight: c.base.style / base.style,
    tvWeight: c.base.tv / base.tv,
    optimizer: 'adam',
    learningRate: c.learningRate ?? 0.02,
    resolution: size,
    pooling: c.pooling ?? 'avg',
    colors: 'style',
    init: 'content',
    seed: 1,
    featureTransform: c.featureTransform,
    ...(c.contentLayers ? { contentLayers: c.contentLayers } : {}),
    ...(c.styleLayers ? { styleLayers: c.styleLayers } : {}),
  };
}

interface RenderRecord {
  candidate: string;
  pair: string;
  width: number;
  height: number;
  /** Median wall time of steps 2..n (step 1 also computes the targets). */
  msPerStep: number;
  losses: { total: number; style: number; content: number; tv: number };
  cached: boolean;
}

function cacheKey(c: Candidate, pair: string, size: number, iters: number): string {
  const { id: _id, label: _label, ...setup } = c;
  return createHash('sha256').update(JSON.stringify({ setup, pair, size, iters, ...(process.env.ENGINE_CONV_GRAD ? { convGrad: process.env.ENGINE_CONV_GRAD } : {}) })).digest('hex').slice(0, 16);
}

async function render(
  network: FeatureNetwork,
  c: Candidate,
  content: RgbImage,
  style: RgbImage,
  o: Options,
  pair: string,
): Promise<{ image: RgbImage; record: RenderRecord } | null> {
  const cacheDir = path.join('.cache', 'compare-stylization');
  const key = cacheKey(c, pair, o.size, o.iters);
  try {
    const meta = JSON.parse(await readFile(path.join(cacheDir, key + '.json'), 'utf8')) as RenderRecord;
    const image = await decodeImage(await readFile(path.join(cacheDir, key + '.png')));
    return { image, record: { ...meta, candidate: c.id, cached: true } };
  } catch {
    if (o.cachedOnly) return null;
  }
  const params = candidateParams(c, o.size);
  const transfer = createStyleTransfer(network, { content, styles: [{ image: style, weight: 1, scale: 1 }], params });
  const times: number[] = [];
  let losses = { total: NaN, style: NaN, content: NaN, tv: NaN };
  try {
    for (let i = 0; i < o.iters; i++) {
      const r = await transfer.step();
      if (i > 0) times.push(r.ms);
      losses = r.losses;
      if (!Number.isFinite(r.losses.total)) throw new Error(`${c.id} ${pair}: loss became ${r.losses.total} at step ${i + 1}`);
    }
    const image = await transfer.image();
    times.sort((a, b) => a - b);
    const record: RenderRecord = {
      candidate: c.id,
      pair,
      width: image.width,
      height: image.height,
      msPerStep: times.length ? times[Math.floor(times.length / 2)] : NaN,
      losses,
      cached: false,
    };
    await mkdir(cacheDir, { recursive: true });
    await writeFile(path.join(cacheDir, key + '.png'), await encodeImage(image, 'image/png'));
    await writeFile(path.join(cacheDir, key + '.json'), JSON.stringify(record));
    return { image, record };
  } finally {
    transfer.dispose();
  }
}

// ---------- sheets ----------

const FONT = 'DejaVu Sans, sans-serif';

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Greedy word wrap to lines of at most `maxChars` characters (for SVG text, which does not wrap). */
function wrap(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** An SVG text strip (for sharp.composite) of the given size, left-aligned lines. */
function textStrip(width: number, height: number, lines: string[], fontSize = 13): Buffer {
  const texts = lines
    .map((l, i) => `<text x="6" y="${(i + 1) * (fontSize + 3)}" font-family="${FONT}" font-size="${fontSize}" fill="#111">${escapeXml(l)}</text>`)
    .join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts}</svg>`);
}

/** PNG of `img` fitted inside cell x cell (aspect kept, centred on white). */
async function fitted(img: RgbImage, cellW: number, cellH: number): Promise<Buffer> {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .resize(cellW, cellH, { fit: 'contain', background: '#ffffff', kernel: 'lanczos3' })
    .png()
    .toBuffer();
}

interface Tile {
  input: Buffer;
  left: number;
  top: number;
}

async function writeSheet(file: string, width: number, height: number, tiles: Tile[]): Promise<void> {
  const s = sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(tiles);
  await writeFile(file, file.endsWith('.png') ? await s.png().toBuffer() : await s.jpeg({ quality: 85 }).toBuffer());
}

const GAP = 6;
const TITLE_H = 40;
const CAPTION_H = 20;

/** content | style | result, one row per pair, titled with the candidate. */
async function candidateSheet(
  file: string,
  c: Candidate,
  rows: { pair: string; content: RgbImage; style: RgbImage; result: RgbImage; record: RenderRecord }[],
  o: Options,
): Promise<void> {
  const cell = o.size;
  const width = 3 * cell + 4 * GAP;
  const rowH = CAPTION_H + cell + GAP;
  const title = [...wrap(`${c.id}: ${c.label}`, Math.floor(width / 8)), `${o.size}px, ${o.iters} Adam steps, lr ${c.learningRate ?? 0.02}, pooling ${c.pooling ?? 'avg'}`];
  const titleH = title.length * 16 + 8;
  const height = titleH + rows.length * rowH + GAP;
  const tiles: Tile[] = [{ input: textStrip(width, titleH, title, 13), left: 0, top: 0 }];
  for (const [i, r] of rows.entries()) {
    const top = titleH + i * rowH;
    const l = r.record.losses;
    const caption = `${r.pair}  ${r.record.msPerStep.toFixed(0)} ms/step  style ${l.style.toFixed(3)} content ${l.content.toFixed(3)} tv ${l.tv.toFixed(3)}`;
    tiles.push({
      input: textStrip(width, CAPTION_H, [caption.length > width / 7 ? `${r.pair}  ${r.record.msPerStep.toFixed(0)} ms/step` : caption], 12),
      left: 0,
      top,
    });
    for (const [k, img] of [r.content, r.style, r.result].entries()) {
      tiles.push({ input: await fitted(img, cell, cell), left: GAP + k * (cell + GAP), top: top + CAPTION_H });
    }
  }
  await writeSheet(file, width, height, tiles);
}

const LABEL_W = 150;

/** Candidates x pairs, results only, a header row of content+style thumbnails. */
async function overviewSheet(
  file: string,
  candidates: Candidate[],
  pairs: { pair: string; content: RgbImage; style: RgbImage }[],
  results: Map<string, RgbImage>,
  o: Options,
): Promise<void> {
  const cell = o.size;
  const width = LABEL_W + pairs.length * (cell + GAP) + GAP;
  const headerH = Math.round(cell / 2) + CAPTION_H;
  const height = TITLE_H + headerH + candidates.length * (cell + GAP) + GAP;
  const title = wrap(`Stylization candidates: ${o.size}px, ${o.iters} Adam steps (lr 0.02), init content`, Math.floor(width / 8));
  const tiles: Tile[] = [{ input: textStrip(width, TITLE_H, title.slice(0, 2), 13), left: 0, top: 0 }];
  const half = Math.floor((cell - GAP) / 2);
  for (const [j, p] of pairs.entries()) {
    const left = LABEL_W + GAP + j * (cell + GAP);
    tiles.push({ input: textStrip(cell, CAPTION_H, [p.pair], 12), left, top: TITLE_H });
    tiles.push({ input: await fitted(p.content, half, half), left, top: TITLE_H + CAPTION_H });
    tiles.push({ input: await fitted(p.style, half, half), left: left + half + GAP, top: TITLE_H + CAPTION_H });
  }
  for (const [i, c] of candidates.entries()) {
    const top = TITLE_H + headerH + i * (cell + GAP);
    tiles.push({ input: textStrip(LABEL_W, cell, [c.id, ...wrap(c.label, 24)], 11), left: 0, top });
    for (const [j, p] of pairs.entries()) {
      const img = results.get(`${c.id}|${p.pair}`);
      if (img) tiles.push({ input: await fitted(img, cell, cell), left: LABEL_W + GAP + j * (cell + GAP), top });
    }
  }
  await writeSheet(file, width, height, tiles);
}

// ---------- main ----------

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  if (o.list) {
    for (const c of CANDIDATES) console.log(`${c.id}\t${c.label}`);
    return;
  }
  const candidates = o.only ? o.only.map((id) => CANDIDATES.find((c) => c.id === id)!) : CANDIDATES;
  const backend = await initBackend(o.backend);
  const pairs: { pair: string; content: RgbImage; style: RgbImage }[] = [];
  for (const p of o.pairs) {
    const content = await readImageFile(await findAsset('content', p.content));
    const style = await readImageFile(await findAsset('style', p.style));
    pairs.push({ pair: `${p.content} x ${p.style}`, content, style });
  }
  await mkdir(o.out, { recursive: true });
  const results = new Map<string, RgbImage>();
  const records: RenderRecord[] = [];
  const networks = new Map<EmbeddedModel, FeatureNetwork>();
  try {
    for (const c of candidates) {
      let network = networks.get(c.model);
      if (!network) {
        network = await loadNetwork(c.model);
        networks.set(c.model, network);
      }
      const layers = resolveLayers(getPreset('default'), network, { contentLayers: c.contentLayers, styleLayers: c.styleLayers });
      const rows = [];
      for (const p of pairs) {
        const rendered = await render(network, c, p.content, p.style, o, p.pair);
        if (!rendered) continue;
        const { image, record } = rendered;
        results.set(`${c.id}|${p.pair}`, image);
        records.push(record);
        rows.push({ ...p, result: image, record });
        console.error(`${c.id} ${p.pair}: ${record.msPerStep.toFixed(0)} ms/step${record.cached ? ' (cached)' : ''}, losses ${JSON.stringify(record.losses)}`);
      }
      console.error(`${c.id}: content ${layers.content.map((l) => l.layer).join(',')}; style ${layers.style.map((l) => `${l.layer}:${l.weight}`).join(',')}`);
      if (rows.length > 0) await candidateSheet(path.join(o.out, `${c.id}-${o.size}.jpg`), c, rows, o);
    }
  } finally {
    for (const n of networks.values()) n.dispose();
  }
  const shown = candidates.filter((c) => pairs.some((p) => results.has(`${c.id}|${p.pair}`)));
  await overviewSheet(path.join(o.out, o.overview), shown, pairs, results, o);
  await writeFile(path.join(o.out, `${path.parse(o.overview).name}.json`), JSON.stringify({ backend, size: o.size, iters: o.iters, records }, null, 1) + '\n');
  console.error(`wrote ${shown.length} candidate sheets and ${path.join(o.out, o.overview)} (backend ${backend})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`compare-stylization: ${(e as Error).message}`);
    process.exit(1);
  });
}
