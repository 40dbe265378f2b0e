import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, type MaskImage } from './server/engine/index.ts';
import { readImageFile } from './server/images/codec.ts';
await initBackend('wasm');
const net = await loadNetwork('mobilenet_v2');
const content = await readImageFile('assets/content/chelsea.png');
const [starry, scream, matisse, ship] = await Promise.all(['starry_night.jpg', 'the_scream.jpg', 'woman-with-hat-matisse.jpg', 'shipwreck.jpg'].map((f) => readImageFile('assets/style/' + f)));
const { width: W, height: H } = content;
const mask = (f: (x: number, y: number) => boolean): MaskImage => { const d = new Uint8Array(W * H); for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d[y * W + x] = f(x / W, y / H) ? 255 : 0; return { width: W, height: H, data: d }; };
const params = { ...presetSuggestedParams('default'), resolution: 256, ...(process.argv[2] === 'nopal' ? { paletteWeight: 0 } : {}) };
const blobs = [
  { image: scream, scale: 1, mask: mask((x) => x < 0.3) },
  { image: matisse, scale: 1, mask: mask((x, y) => (x - 0.55) ** 2 + ((y - 0.4) * (H / W)) ** 2 < 0.15 ** 2) },
  { image: ship, scale: 1, mask: mask((x, y) => x > 0.7 && y > 0.5) },
];
for (const [name, regions] of [['global', undefined], ['blobs', blobs]] as const) {
  const t = createStyleTransfer(net, { content, styles: [{ image: starry, weight: 1, scale: 1 }], regions: regions as any, params });
  for (let i = 0; i < 17; i++) await t.step();
  const agg = new Map<string, [number, number]>();
  let tot = 0, n = 0;
  for (let k = 0; k < 3; k++) {
    const p = await tf.profile(async () => { await t.step(); });
    for (const kr of p.kernels) { const ms = (kr as any).kernelTimeMs as number; tot += ms / 3; n += 1/3; const a = agg.get(kr.name) ?? [0, 0]; a[0] += ms / 3; a[1] += 1 / 3; agg.set(kr.name, a); }
  }
  const wall: number[] = []; for (let k = 0; k < 5; k++) wall.push((await t.step()).ms);
  console.log('P', name, 'kernels', n.toFixed(0), 'kernel ms', tot.toFixed(0), 'wall', wall.map(Math.round).join(','));
  console.log('P', name, [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 22).map(([n, v]) => `${n}:${v[0].toFixed(1)}ms/${v[1].toFixed(0)}`).join('  '));
  t.dispose();
}
