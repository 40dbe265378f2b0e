/**
 * Reads the Keras models that ship inside nsfwjs@4.4.0 (`dist/models/<model>/`): `model.min.js`
 * (UMD module exporting the tfjs-layers JSON: Keras 2.2.4 topology + weights manifest) and
 * `group1-shard*of*.min.js` (UMD modules exporting base64 strings of the weight bytes).
 *
 * Why: they are the only pretrained ImageNet-derived CNN weights available offline in this
 * project. nsfwjs fine-tuned them as a 5-class image classifier on inputs `pixel / 255`, so
 * their convolutional trunks are usable feature extractors for style transfer.
 *
 * Parsing ~30 MB of base64 takes a while, so parsed weights are cached per process (rule N10).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { KerasModelConfig, WeightStore } from './keras.ts';

export type NsfwjsModel = 'mobilenet_v2' | 'inception_v3';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

interface ModelJson {
  modelTopology: { keras_version?: string; model_config: KerasModelConfig };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

export interface ParsedKerasModel {
  kerasVersion: string;
  config: KerasModelConfig;
  weights: WeightStore;
}

const require = createRequire(import.meta.url);
const cache = new Map<NsfwjsModel, Promise<ParsedKerasModel>>();

/** Directory of the nsfwjs model files (resolved through the installed package). */
export function nsfwjsModelDir(model: NsfwjsModel): string {
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new Error('nsfwjs is not installed: its model files provide the mobilenet_v2 and inception_v3 weights');
  }
  // entry is <pkg>/dist/cjs/index.js; the models sit in <pkg>/dist/models/<model>
  const dir = path.join(path.dirname(entry), '..', 'models', model);
  if (!existsSync(path.join(dir, 'model.min.js'))) throw new Error(`nsfwjs model files not found in ${dir}`);
  return dir;
}

/** IEEE half → float, for float16-quantized weights. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Splits the concatenated weight bytes into named float arrays, dequantizing as needed. */
export function decodeWeights(specs: WeightSpec[], bytes: Uint8Array): WeightStore {
  const store: WeightStore = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    const q = spec.quantization;
    const width = q ? { uint8: 1, uint16: 2, float16: 2 }[q.dtype] : 4;
    if (width == null) throw new Error(`weight ${spec.name}: unsupported quantization ${q?.dtype}`);
    if (offset + size * width > bytes.byteLength) {
      throw new Error(`weight data too short: ${spec.name} needs bytes ${offset}..${offset + size * width} of ${bytes.byteLength}`);
    }
    if (!q) {
      for (let i = 0; i < size; i++) {
        values[i] = spec.dtype === 'int32' ? view.getInt32(offset + 4 * i, true) : view.getFloat32(offset + 4 * i, true);
      }
    } else if (q.dtype === 'float16') {
      for (let i = 0; i < size; i++) values[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
    } else {
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < size; i++) {
        const v = q.dtype === 'uint8' ? bytes[offset + i] : view.getUint16(offset + 2 * i, true);
        values[i] = v * scale + min;
      }
    }
    offset += size * width;
    store.set(spec.name, { shape: spec.shape, values });
  }
  if (offset !== bytes.byteLength) throw new Error(`weight data has ${bytes.byteLength - offset} unused bytes: manifest and shards disagree`);
  return store;
}

async function parse(model: NsfwjsModel): Promise<ParsedKerasModel> {
  const dir = nsfwjsModelDir(model);
  const json = require(path.join(dir, 'model.min.js')) as ModelJson;
  if (!json?.modelTopology?.model_config?.config?.layers || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${dir}/model.min.js does not contain a Keras model topology and weights manifest`);
  }
  const chunks: Buffer[] = [];
  const specs: WeightSpec[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const base64 = require(path.join(dir, `${p}.min.js`)) as unknown;
      if (typeof base64 !== 'string') throw new Error(`${dir}/${p}.min.js does not export a base64 string`);
      chunks.push(Buffer.from(base64, 'base64'));
    }
    specs.push(...group.weights);
  }
  const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  const weights = decodeWeights(specs, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  // the shard strings are large and no longer needed: drop them from require's cache
  for (const group of json.weightsManifest) for (const p of group.paths) delete require.cache[path.join(dir, `${p}.min.js`)];
  return { kerasVersion: json.modelTopology.keras_version ?? 'unknown', config: json.modelTopology.model_config, weights };
}

/** Topology and decoded weights of an nsfwjs model; parsed once per process. */
export function loadNsfwjsModel(model: NsfwjsModel): Promise<ParsedKerasModel> {
  let p = cache.get(model);
  if (!p) {
    p = parse(model);
    cache.set(model, p);
    p.catch(() => cache.delete(model));
  }
  return p;
}
