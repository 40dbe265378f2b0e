/**
 * Writes a VGG19 "notop" weights file with RANDOM weights in exactly the HDF5 layout of Keras'
 * `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`.
 *
 * Why: the real file (80 MB, fchollet/deep-learning-models release v0.1) cannot be downloaded
 * here, but the engine's VGG19 loader and the tf-tutorial preset still have to be verified
 * end to end. A seeded random file with the same layout lets the TypeScript engine and the
 * independent PyTorch reference (bench/tf_tutorial_reference.py) run on identical weights and
 * be compared loss for loss. Same seed + scale => byte-identical weight values.
 *
 *   node --import tsx scripts/make-vgg19-h5.ts OUT.h5 [--seed N] [--scale S] [--naming v0.1|keras2]
 *
 * Layout of the real file (Keras 1 `save_weights`, verified against public code reading it):
 *   root attr `layer_names`: input_1, block1_conv1, block1_conv2, block1_pool, …, block5_pool
 *   group per layer, attr `weight_names` (empty for input/pooling layers)
 *   `block1_conv1/block1_conv1_W_1:0`  kernel, HWIO float32 [3, 3, in, out]
 *   `block1_conv1/block1_conv1_b_1:0`  bias, float32 [out]
 * `--naming keras2` instead writes what Keras 2 `save_weights` produces for the same model
 * (`block1_conv1/block1_conv1/kernel:0`, `…/bias:0`), so loaders can be tested on both; a
 * correct loader follows `weight_names` and accepts either.
 *
 * Weights: kernel ~ N(0, scale·sqrt(2/fan_in)) (He init, so activations keep their magnitude
 * through 16 ReLU convs), bias ~ N(0, 0.01). PRNG: mulberry32(seed) + Box–Muller, drawn layer by
 * layer, kernel then bias, in HWIO memory order.
 */
import h5wasm, { type Group } from 'h5wasm/node';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { exitWithUsage, numberArg, readArgs } from './cli-args.ts';
import { mulberry32 } from '../shared/random.ts';

/** VGG19 notop layers in forward order: [name, kind, output channels]. */
export const VGG19_LAYERS: ReadonlyArray<readonly [string, 'conv' | 'pool', number]> = (() => {
  const blocks: Array<[number, number]> = [[2, 64], [2, 128], [4, 256], [4, 512], [4, 512]];
  const out: Array<readonly [string, 'conv' | 'pool', number]> = [];
  blocks.forEach(([convs, ch], b) => {
    for (let c = 1; c <= convs; c++) out.push([`block${b + 1}_conv${c}`, 'conv', ch] as const);
    out.push([`block${b + 1}_pool`, 'pool', ch] as const);
  });
  return out;
})();

export type WeightNaming = 'v0.1' | 'keras2';

export interface MakeOptions {
  seed: number;
  /** Multiplier on the He standard deviation of every kernel. */
  scale: number;
  naming: WeightNaming;
}

/** Fills `out` with N(0, std²) samples (Box–Muller, both outputs used). */
function fillNormal(out: Float32Array, std: number, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rand(); // (0, 1]
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
  }
}

function weightNames(layer: string, naming: WeightNaming): [string, string] {
  return naming === 'v0.1' ? [`${layer}_W_1:0`, `${layer}_b_1:0`] : [`${layer}/kernel:0`, `${layer}/bias:0`];
}

/** Fixed-length ASCII string array attribute, as h5py writes a numpy `S` array. */
function stringAttr(obj: Pick<Group, 'create_attribute'>, name: string, values: string[]): void {
  if (values.length === 0) {
    // Keras writes `np.asarray([])`: an empty float64 array.
    obj.create_attribute(name, new Float64Array(0), [0], '<d');
    return;
  }
  const width = Math.max(1, ...values.map((v) => v.length));
  obj.create_attribute(name, values, [values.length], `A${width}`);
}

/**
 * Writes the random VGG19 notop file to `outPath` (overwriting it) and returns the sha256 of all
 * weight values (float32 little-endian, layer order, kernel then bias): HDF5 files are not
 * byte-reproducible, this digest is.
 */
export async function makeVgg19H5(outPath: string, options: MakeOptions): Promise<string> {
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new Error(`seed must be a non-negative integer, got ${options.seed}`);
  if (!(options.scale > 0) || !Number.isFinite(options.scale)) throw new Error(`scale must be a positive number, got ${options.scale}`);
  await h5wasm.ready;
  // The node build of h5wasm uses NODERAWFS: paths are host paths.
  const file = new h5wasm.File(path.resolve(outPath), 'w');
  try {
    file.create_attribute('keras_version', '1.2.2', null, 'A5');
    file.create_attribute('backend', 'tensorflow', null, 'A10');
    stringAttr(file, 'layer_names', ['input_1', ...VGG19_LAYERS.map(([n]) => n)]);
    stringAttr(file.create_group('input_1'), 'weight_names', []);
    const rand = mulberry32(options.seed);
    const digest = createHash('sha256');
    let inChannels = 3;
    for (const [name, kind, outChannels] of VGG19_LAYERS) {
      const group = file.create_group(name);
      if (kind === 'pool') {
        stringAttr(group, 'weight_names', []);
        continue;
      }
      const [kernelName, biasName] = weightNames(name, options.naming);
      stringAttr(group, 'weight_names', [kernelName, biasName]);
      const kernel = new Float32Array(3 * 3 * inChannels * outChannels);
      fillNormal(kernel, options.scale * Math.sqrt(2 / (9 * inChannels)), rand);
      const bias = new Float32Array(outChannels);
      fillNormal(bias, 0.01, rand);
      // Keras 2 names nest one level ('block1_conv1/kernel:0'); h5wasm does not create
      // intermediate groups, and only prints HDF5 errors, so check every write.
      const slash = kernelName.lastIndexOf('/');
      const parent = slash < 0 ? group : group.create_group(kernelName.slice(0, slash));
      parent.create_dataset({ name: kernelName.slice(slash + 1), data: kernel, shape: [3, 3, inChannels, outChannels], dtype: '<f4' });
      parent.create_dataset({ name: biasName.slice(slash + 1), data: bias, shape: [outChannels], dtype: '<f4' });
      for (const n of [kernelName, biasName]) {
        if (group.get(n) === null) throw new Error(`h5wasm failed to write ${name}/${n}`);
      }
      digest.update(new Uint8Array(kernel.buffer)).update(new Uint8Array(bias.buffer));
      inChannels = outChannels;
    }
    return digest.digest('hex');
  } finally {
    file.close();
  }
}

function parseCli(argv: string[]): { out: string } & MakeOptions {
  const usage = 'node --import tsx scripts/make-vgg19-h5.ts OUT.h5 [--seed N] [--scale S] [--naming v0.1|keras2]';
  const { values: a, positionals } = readArgs(
    { seed: { type: 'string' }, scale: { type: 'string' }, naming: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    usage,
    { argv, positionals: true },
  );
  if (a.help) {
    console.log(`usage: ${usage}`);
    process.exit(0);
  }
  if (positionals.length !== 1) exitWithUsage(positionals.length ? `unexpected argument ${positionals[1]}` : 'give the output file', usage);
  if (a.naming !== undefined && a.naming !== 'v0.1' && a.naming !== 'keras2') exitWithUsage(`--naming must be v0.1 or keras2, got ${a.naming}`, usage);
  return {
    out: positionals[0]!,
    seed: numberArg(a.seed, 'seed') ?? 1,
    scale: numberArg(a.scale, 'scale') ?? 1,
    naming: (a.naming ?? 'v0.1') as MakeOptions['naming'],
  };
}

// The file-name test keeps this from running when the module is bundled into another entry
// (bench/gpu-probe: every bundled module then has the bundle's import.meta.url).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname) && process.argv[1].endsWith('make-vgg19-h5.ts')) {
  try {
    const { out, ...opts } = parseCli(process.argv.slice(2));
    const sha = await makeVgg19H5(out, opts);
    console.log(`wrote ${out} (VGG19 notop, random, seed ${opts.seed}, scale ${opts.scale}, naming ${opts.naming}); weights sha256 ${sha}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
