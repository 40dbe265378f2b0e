/**
 * Quick exploration runner (not a test): one setup × some pairs, snapshots at given steps, the
 * three metrics per snapshot, one sheet. The setup is JSON: { params: Partial<TransferParams>,
 * preset: Partial<Preset> } — `preset` patches the `default` preset for this process only.
 *
 *   node --import tsx scripts/stylization/explore.ts --setup '{"params":{...}}' --pairs chelsea:starry_night \
 *     --steps 50,150 --size 256 --out /tmp/x.png
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { createStyleTransfer, initBackend, loadNetwork, PRESETS, presetSuggestedParams, type RgbImage, type TransferParams } from '../../server/engine/index.ts';
import { readImageFile } from '../../server/images/codec.ts';
import { stylizationMetrics } from './metrics.ts';

const { values } = parseArgs({
  options: {
    setup: { type: 'string', default: '{}' },
    pairs: { type: 'string', default: 'chelsea:starry_night' },
    steps: { type: 'string', default: '50,150' },
    size: { type: 'string', default: '256' },
    model: { type: 'string', default: 'mobilenet_v2' },
    out: { type: 'string', default: '/tmp/explore.png' },
  },
});

const SEARCH = ['assets/content', 'assets/style', '.cache/eval-images', '/work/eval'];
function find(stem: string): string {
  for (const dir of SEARCH) for (const ext of ['.png', '.jpg', '.webp']) if (existsSync(path.join(dir, stem + ext))) return path.join(dir, stem + ext);
  throw new Error(`no image '${stem}'`);
}

async function resized(img: RgbImage, width: number, height?: number): Promise<RgbImage> {
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height ?? null, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function toSharp(img: RgbImage) {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

const setup = JSON.parse(values.setup!) as { params?: Partial<TransferParams>; preset?: Record<string, unknown> };
if (setup.preset) {
  const d = PRESETS.default as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(setup.preset)) d[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...(d[k] as object), ...v } : v;
}
const steps = values.steps!.split(',').map(Number);
const size = Number(values.size);
await initBackend('auto');
const net = await loadNetwork(values.model as 'mobilenet_v2');
const tiles: { input: Buffer; top: number; left: number }[] = [];
const rows: string[] = [];
let y = 0;
let sheetWidth = 0;
for (const pair of values.pairs!.split(',')) {
  const [c, s] = pair.split(':');
  const content = await readImageFile(find(c));
  const style = await readImageFile(find(s));
  const params: TransferParams = { ...presetSuggestedParams('default'), resolution: size, ...setup.params };
  const st = createStyleTransfer(net, { content, styles: [{ image: style, weight: 1, scale: 1 }], params });
  const shots: RgbImage[] = [];
  const times: number[] = [];
  let last = { total: 0, style: 0, content: 0, tv: 0 };
  for (let i = 1; i <= Math.max(...steps); i++) {
    const r = await st.step();
    times.push(r.ms);
    last = r.losses;
    if (steps.includes(i)) shots.push(await st.image());
  }
  st.dispose();
  const w = shots[0].width;
  const h = shots[0].height;
  const contentAt = await resized(content, w, h);
  const paintingAt = await resized(style, w);
  const paintingSmall = await resized(style, 256);
  const ms = times.slice(1).sort((a, b) => a - b)[Math.floor((times.length - 1) / 2)];
  const parts = [contentAt, await resized(style, Math.round((style.width * h) / style.height), h), ...shots];
  let x = 0;
  for (const img of parts) {
    tiles.push({ input: await toSharp(img).png().toBuffer(), top: y, left: x });
    x += img.width + 4;
  }
  sheetWidth = Math.max(sheetWidth, x);
  y += h + 4;
  shots.forEach((img, i) => {
    const m = stylizationMetrics(img, contentAt, paintingAt, paintingSmall);
    rows.push(`${pair} @${steps[i]}: palette ${m.palette.toFixed(2)} speckle ${m.speckle.toFixed(2)} layout ${m.layout.toFixed(2)}  ${ms.toFixed(0)} ms/step`);
  });
  rows.push(`${pair} final losses ${JSON.stringify(Object.fromEntries(Object.entries(last).map(([k, v]) => [k, +v.toPrecision(3)])))}`);
}
await sharp({ create: { width: sheetWidth, height: y, channels: 3, background: '#202020' } }).composite(tiles).png().toFile(values.out!);
console.log(rows.join('\n'));
