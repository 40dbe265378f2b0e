/**
 * Regenerates nsfwjs-reference.json: nsfwjs's own class probabilities for the sample content
 * images, computed with nsfwjs + tfjs-layers (the reference implementation). The test
 * nsfwjs-networks.test.ts checks that our hand-built graphs reproduce them.
 *
 * Needs @tensorflow/tfjs (nsfwjs's peer dependency, installed with it); run in its own process:
 *   node --import tsx scripts/make-nsfwjs-reference.ts
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readImageFile } from '../server/images/codec.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const tf = (await import(/* @vite-ignore */ '@tensorflow/tfjs' as string)) as typeof import('@tensorflow/tfjs-core');
const nsfwjs = (await import('nsfwjs' as string)) as {
  load(name: string, options: { modelDefinitions: unknown[] }): Promise<{ infer(img: unknown): import('@tensorflow/tfjs-core').Tensor }>;
};
const { MobileNetV2Model } = (await import('nsfwjs/models/mobilenet_v2' as string)) as { MobileNetV2Model: unknown };
const { InceptionV3Model } = (await import('nsfwjs/models/inception_v3' as string)) as { InceptionV3Model: unknown };
await tf.setBackend('cpu');

const dir = path.join(root, 'assets/content');
const images = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/.test(f)).sort();
const out: Record<string, Record<string, number[]>> = {};
for (const [model, def, name] of [
  ['mobilenet_v2', MobileNetV2Model, 'MobileNetV2'],
  ['inception_v3', InceptionV3Model, 'InceptionV3'],
] as const) {
  const net = await nsfwjs.load(name, { modelDefinitions: [def] });
  out[model] = {};
  for (const file of images) {
    const img = await readImageFile(path.join(dir, file));
    const pixels = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    const probs = net.infer(pixels);
    out[model][file] = Array.from(await probs.data()).map((v) => Number(v.toFixed(6)));
    tf.dispose([pixels, probs]);
    console.log(model, file, out[model][file]);
  }
}
const target = path.join(root, 'server/engine/networks/nsfwjs-reference.json');
writeFileSync(
  target,
  JSON.stringify({ generatedBy: 'scripts/make-nsfwjs-reference.ts', classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'], probabilities: out }, null, 2) + '\n',
);
console.log('wrote', target);
