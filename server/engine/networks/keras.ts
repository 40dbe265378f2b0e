/**
 * Builds a {@link LayerGraph} from a Keras functional-model config (keras 2.x `model_config`) and
 * its weights, with plain tfjs-core ops (tfjs-layers is not a dependency).
 *
 * Fusions, all exact up to float rounding:
 *  - ZeroPadding2D feeding only a 'valid' convolution becomes that convolution's explicit padding;
 *  - BatchNormalization fed only by a convolution is folded into its kernel and bias (rule N8);
 *  - a ReLU / relu activation fed only by that convolution becomes the convolution's activation.
 * The fused node takes the name of the last layer it absorbed, so e.g. `block_3_expand_relu`
 * names the fused expand-conv + BN + ReLU6; absorbed intermediate names are not nodes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2D, DepthwiseConv2D, type ConvActivation, type ConvPadding } from '../ops/conv.ts';
import { LayerGraph, pool2d, type GraphNode } from './graph.ts';

/** One layer entry of a Keras `model_config.config.layers`. */
export interface KerasLayerConfig {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  /** `[[[inboundLayer, nodeIndex, tensorIndex, kwargs], …]]`, one list per call of the layer. */
  inbound_nodes: unknown[][][];
}

export interface KerasModelConfig {
  class_name: string;
  config: { name: string; layers: KerasLayerConfig[] };
}

/** Weight values by Keras weight name (`layer/kernel`, `layer/moving_mean`, …). */
export interface NamedWeight {
  shape: number[];
  values: Float32Array;
}
export type WeightStore = Map<string, NamedWeight>;

export interface KerasGraphOptions {
  /** Network name for errors and `FeatureNetwork.name`. */
  name: string;
  /** Which node names are offered as style/content layers (in forward order). */
  selectable(nodeNames: string[], classOf: Map<string, string>): string[];
  supportsPooling: boolean;
  preprocess(image: tf.Tensor4D): tf.Tensor4D;
  /** Skip BatchNorm folding (tests compare folded against unfolded graphs). */
  fold?: boolean;
}

type Cfg = Record<string, unknown>;

function inboundNames(layer: KerasLayerConfig): string[] {
  if (layer.inbound_nodes.length === 0) return [];
  if (layer.inbound_nodes.length > 1) throw new Error(`layer ${layer.name} is called more than once (shared layers are not supported)`);
  return layer.inbound_nodes[0].map((entry) => {
    const [name, nodeIndex, tensorIndex] = entry as [string, number, number];
    if (nodeIndex !== 0 || tensorIndex !== 0) throw new Error(`layer ${layer.name}: multi-output inbound ${name}[${nodeIndex}][${tensorIndex}] not supported`);
    return name;
  });
}

function pairOf(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return v as [number, number];
  throw new Error(`bad ${what}: ${JSON.stringify(v)}`);
}

function paddingOf(cfg: Cfg, layer: string): 'same' | 'valid' {
  const p = cfg.padding;
  if (p !== 'same' && p !== 'valid') throw new Error(`layer ${layer}: unsupported padding ${JSON.stringify(p)}`);
  return p;
}

/** Keras ZeroPadding2D `padding` → [[top, bottom], [left, right]]. */
function zeroPadding(cfg: Cfg, layer: string): [[number, number], [number, number]] {
  const p = cfg.padding;
  if (typeof p === 'number') return [[p, p], [p, p]];
  if (Array.isArray(p) && p.length === 2) {
    const [a, b] = p as unknown[];
    if (typeof a === 'number' && typeof b === 'number') return [[a, a], [b, b]];
    if (Array.isArray(a) && Array.isArray(b)) return [a as [number, number], b as [number, number]];
  }
  throw new Error(`layer ${layer}: unsupported ZeroPadding2D padding ${JSON.stringify(p)}`);
}

/** Activation of a ReLU/Activation layer in our fusable terms, or null if it is not one. */
function reluKind(layer: KerasLayerConfig): ConvActivation | null {
  const c = layer.config;
  if (layer.class_name === 'ReLU') {
    if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) return null;
    if (c.max_value == null) return 'relu';
    return c.max_value === 6 ? 'relu6' : null;
  }
  if (layer.class_name === 'Activation') {
    if (c.activation === 'relu') return 'relu';
    if (c.activation === 'relu6') return 'relu6';
    if (c.activation === 'linear') return 'linear';
  }
  return null;
}

function applyActivation(x: tf.Tensor, activation: string, layer: string): tf.Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'softmax':
      return tf.softmax(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    default:
      throw new Error(`layer ${layer}: unsupported activation '${activation}'`);
  }
}

/** Builds the graph; takes ownership of nothing in `weights` (values are copied into tensors). */
export function buildKerasGraph(model: KerasModelConfig, weights: WeightStore, options: KerasGraphOptions): LayerGraph {
  const fold = options.fold ?? true;
  const layers = model.config.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`${options.name}: model config has no layers`);
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputs = new Map(layers.map((l) => [l.name, inboundNames(l)]));
  const consumers = new Map<string, string[]>(layers.map((l) => [l.name, []]));
  for (const l of layers) for (const i of inputs.get(l.name)!) consumers.get(i)?.push(l.name);
  const soleConsumer = (name: string): KerasLayerConfig | null => {
    const c = consumers.get(name)!;
    return c.length === 1 ? byName.get(c[0])! : null;
  };

  const owned: tf.Tensor[] = [];
  const convs: (Conv2D | DepthwiseConv2D)[] = [];
  const weight = (layer: string, key: string, required = true): NamedWeight | undefined => {
    const w = weights.get(`${layer}/${key}`);
    if (!w && required) throw new Error(`${options.name}: missing weight ${layer}/${key}`);
    return w;
  };
  const tensorOf = (w: NamedWeight): tf.Tensor => {
    const t = tf.tensor(w.values, w.shape, 'float32');
    owned.push(t);
    return t;
  };

  const inputLayer = layers.find((l) => l.class_name === 'InputLayer');
  if (!inputLayer) throw new Error(`${options.name}: model has no InputLayer`);
  /** Keras layer name → name of the node whose output it is (fused layers point at the fused node). */
  const alias = new Map<string, string>([[inputLayer.name, inputLayer.name]]);
  const absorbed = new Set<string>();
  /** Explicit padding of 'valid' convolutions that absorbed the ZeroPadding2D before them. */
  const pendingPads = new Map<string, [[number, number], [number, number]]>();
  const nodes: GraphNode[] = [];
  const src = (l: KerasLayerConfig) =>
    inputs.get(l.name)!.map((i) => {
      const a = alias.get(i);
      if (a == null) throw new Error(`${options.name}: layer ${l.name} reads ${i}, which has no output`);
      return a;
    });

  try {
    for (const layer of layers) {
      if (absorbed.has(layer.name) || layer === inputLayer) continue;
      const cfg = layer.config;
      const name = layer.name;
      switch (layer.class_name) {
        case 'ZeroPadding2D': {
          const pads = zeroPadding(cfg, name);
          const next = soleConsumer(name);
          const foldable = next && (next.class_name === 'Conv2D' || next.class_name === 'DepthwiseConv2D') && next.config.padding === 'valid';
          if (foldable) {
            // the convolution reads our input and pads itself; we only remember the padding
            alias.set(name, src(layer)[0]);
            pendingPads.set(next.name, pads);
          } else {
            nodes.push({ name, inputs: src(layer), run: ([x]) => tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]]) });
            alias.set(name, name);
          }
          break;
        }
        case 'Conv2D':
        case 'DepthwiseConv2D': {
          const depthwise = layer.class_name === 'DepthwiseConv2D';
          if (pairOf(cfg.dilation_rate ?? 1, 'dilation_rate').some((d) => d !== 1)) throw new Error(`layer ${name}: dilated convolutions are not supported`);
          const kw = weight(name, depthwise ? 'depthwise_kernel' : 'kernel')!;
          let kernel = kw.values;
          const outChannels = depthwise ? kw.shape[2] * kw.shape[3] : kw.shape[3];
          let bias: Float32Array | null = cfg.use_bias ? Float32Array.from(weight(name, 'bias')!.values) : null;
          let outName = name;
          let activation: ConvActivation = 'linear';
          const own = cfg.activation ?? 'linear';
          if (own !== 'linear') {
            const a = reluKind({ ...layer, class_name: 'Activation', config: { activation: own } });
            if (a == null) throw new Error(`layer ${name}: unsupported conv activation ${String(own)}`);
            activation = a;
          }
          let next = activation === 'linear' ? soleConsumer(name) : null;
          if (fold && next && next.class_name === 'BatchNormalization') {
            const bn = next;
            const n = bn.name;
            const eps = Number(bn.config.epsilon ?? 1e-3);
            const gamma = bn.config.scale === false ? null : weight(n, 'gamma')!.values;
            const beta = bn.config.center === false ? null : weight(n, 'beta')!.values;
            const mean = weight(n, 'moving_mean')!.values;
            const variance = weight(n, 'moving_variance')!.values;
            if (mean.length !== outChannels) throw new Error(`${options.name}: ${n} has ${mean.length} channels, ${name} produces ${outChannels}`);
            const factor = new Float32Array(outChannels);
            const newBias = new Float32Array(outChannels);
            for (let c = 0; c < outChannels; c++) {
              factor[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
              newBias[c] = (beta ? beta[c] : 0) + ((bias ? bias[c] : 0) - mean[c]) * factor[c];
            }
            // output channel is the fastest-varying index of HWIO and of flattened HWCM alike
            kernel = kernel.map((v, i) => v * factor[i % outChannels]);
            bias = newBias;
            absorbed.add(n);
            alias.set(name, n);
            outName = n;
            next = soleConsumer(n);
          }
          const act = next ? reluKind(next) : null;
          if (activation === 'linear' && next && act) {
            activation = act;
            absorbed.add(next.name);
            alias.set(outName, next.name);
            outName = next.name;
          }
          const explicit = pendingPads.get(name);
          const padding: ConvPadding = explicit ?? paddingOf(cfg, name);
          const spec = {
            kernel: tf.tensor4d(kernel, kw.shape as [number, number, number, number]),
            bias: bias ? tf.tensor1d(bias) : undefined,
            strides: pairOf(cfg.strides ?? 1, 'strides'),
            padding,
            activation,
          };
          const conv = depthwise ? new DepthwiseConv2D(spec) : new Conv2D(spec);
          convs.push(conv);
          nodes.push({ name: outName, inputs: src(layer), run: ([x]) => conv.apply(x as tf.Tensor4D) });
          alias.set(name, outName);
          alias.set(outName, outName);
          break;
        }
        case 'BatchNormalization': {
          const eps = Number(cfg.epsilon ?? 1e-3);
          const mean = tensorOf(weight(name, 'moving_mean')!);
          const variance = tensorOf(weight(name, 'moving_variance')!);
          const gamma = cfg.scale === false ? undefined : tensorOf(weight(name, 'gamma')!);
          const beta = cfg.center === false ? undefined : tensorOf(weight(name, 'beta')!);
          nodes.push({ name, inputs: src(layer), run: ([x]) => tf.batchNorm(x, mean, variance, beta, gamma, eps) });
          alias.set(name, name);
          break;
        }
        case 'ReLU':
        case 'Activation': {
          const kind = layer.class_name === 'Activation' ? String(cfg.activation) : reluKind(layer);
          if (kind == null) throw new Error(`layer ${name}: unsupported ReLU config ${JSON.stringify(cfg)}`);
          nodes.push({ name, inputs: src(layer), run: ([x]) => applyActivation(x, kind, name) });
          alias.set(name, name);
          break;
        }
        case 'Add':
          nodes.push({ name, inputs: src(layer), run: (xs) => (xs.length === 2 ? tf.add(xs[0], xs[1]) : tf.addN(xs)) });
          alias.set(name, name);
          break;
        case 'Concatenate': {
          const axis = Number(cfg.axis ?? -1);
          nodes.push({ name, inputs: src(layer), run: (xs) => tf.concat(xs, axis) });
          alias.set(name, name);
          break;
        }
        case 'MaxPooling2D':
        case 'AveragePooling2D': {
          const size = pairOf(cfg.pool_size, 'pool_size');
          const strides = pairOf(cfg.strides ?? cfg.pool_size, 'strides');
          const padding = paddingOf(cfg, name);
          const trained = layer.class_name === 'MaxPooling2D' ? 'max' : 'avg';
          // rule N4: 'avg' turns max pooling into average pooling; average pooling stays as is
          nodes.push({
            name,
            inputs: src(layer),
            run: ([x], o) => pool2d(x as tf.Tensor4D, size, strides, padding, trained === 'max' && o.pooling === 'avg' ? 'avg' : trained),
          });
          alias.set(name, name);
          break;
        }
        case 'GlobalAveragePooling2D':
          nodes.push({ name, inputs: src(layer), run: ([x]) => tf.mean(x, [1, 2]) });
          alias.set(name, name);
          break;
        case 'Flatten':
          nodes.push({ name, inputs: src(layer), run: ([x]) => tf.reshape(x, [x.shape[0], -1]) });
          alias.set(name, name);
          break;
        case 'Dropout':
          nodes.push({ name, inputs: src(layer), run: ([x]) => x });
          alias.set(name, name);
          break;
        case 'Dense': {
          const kernel = tensorOf(weight(name, 'kernel')!) as tf.Tensor2D;
          const bias = cfg.use_bias === false ? undefined : tensorOf(weight(name, 'bias')!);
          const activation = String(cfg.activation ?? 'linear');
          nodes.push({
            name,
            inputs: src(layer),
            run: ([x]) => {
              const y = tf.matMul(x as tf.Tensor2D, kernel);
              return applyActivation(bias ? tf.add(y, bias) : y, activation, name);
            },
          });
          alias.set(name, name);
          break;
        }
        default:
          throw new Error(`${options.name}: unsupported Keras layer ${layer.class_name} (${name})`);
      }
    }
  } catch (err) {
    tf.dispose(owned);
    convs.forEach((c) => c.dispose());
    throw err;
  }

  const nodeNames = nodes.map((n) => n.name);
  const classOf = new Map(layers.map((l) => [l.name, l.class_name]));
  return new LayerGraph({
    name: options.name,
    inputName: inputLayer.name,
    nodes,
    selectable: options.selectable(nodeNames, classOf),
    supportsPooling: options.supportsPooling,
    preprocess: options.preprocess,
    disposeWeights: () => {
      tf.dispose(owned);
      convs.forEach((c) => c.dispose());
    },
  });
}
