/**
 * A feature network as a small DAG of named tensor functions, shared by every model here.
 *
 * Why one executor: VGG is a chain, MobileNetV2 and Inception are Keras DAGs; all of them need the
 * same things from `features()` — validate the request, run only the nodes the requested layers
 * depend on (never past the deepest one), keep intermediates inside a tidy, and free weights on
 * `dispose()`. Models only describe their nodes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNetwork, FeatureOptions } from '../api.ts';
import { pool2d as fastPool2d } from '../ops/pool.ts';

/** One node: a named output computed from earlier nodes' outputs (or the preprocessed input). */
export interface GraphNode {
  name: string;
  /** Names of the nodes whose outputs are this node's inputs, in order. */
  inputs: string[];
  run(inputs: tf.Tensor[], options: FeatureOptions): tf.Tensor;
}

export interface LayerGraphSpec {
  name: string;
  /** Name the preprocessed image is known by (the nodes' root input). */
  inputName: string;
  /** Nodes in a topological order. */
  nodes: GraphNode[];
  /** Layer names offered to users, in forward order (each must be a node). */
  selectable: string[];
  supportsPooling: boolean;
  /** RGB [0, 1] → what the first node expects. */
  preprocess(image: tf.Tensor4D): tf.Tensor4D;
  /** Frees weights. */
  disposeWeights(): void;
}

/** {@link FeatureNetwork} over a {@link LayerGraphSpec}; also runs to non-selectable nodes (e.g. logits). */
export class LayerGraph implements FeatureNetwork {
  readonly name: string;
  readonly layers: readonly string[];
  readonly supportsPooling: boolean;
  private readonly spec: LayerGraphSpec;
  private readonly index = new Map<string, number>();
  /** Node indices needed for a set of outputs, cached by the sorted output names. */
  private readonly plans = new Map<string, number[]>();
  private disposed = false;

  constructor(spec: LayerGraphSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.supportsPooling = spec.supportsPooling;
    spec.nodes.forEach((n, i) => {
      if (this.index.has(n.name) || n.name === spec.inputName) throw new Error(`${spec.name}: duplicate node name ${n.name}`);
      for (const input of n.inputs) {
        if (input !== spec.inputName && !this.index.has(input)) {
          throw new Error(`${spec.name}: node ${n.name} reads ${input}, which is not computed before it`);
        }
      }
      this.index.set(n.name, i);
    });
    for (const l of spec.selectable) {
      if (!this.index.has(l)) throw new Error(`${spec.name}: selectable layer ${l} is not a node`);
    }
    this.layers = Object.freeze([...spec.selectable]);
  }

  /** All node names (selectable or not), in execution order. */
  get nodeNames(): string[] {
    return this.spec.nodes.map((n) => n.name);
  }

  features(image: tf.Tensor4D, layers: readonly string[], options: FeatureOptions = {}): Map<string, tf.Tensor4D> {
    const outputs = this.run(image, layers, options, true);
    return new Map(layers.map((l) => [l, outputs[l] as tf.Tensor4D]));
  }

  /**
   * Like {@link features} but for any node, including ones not offered as style/content layers
   * (classifier logits in tests). Returns whatever rank the node produces.
   */
  outputs(image: tf.Tensor4D, nodes: readonly string[], options: FeatureOptions = {}): Map<string, tf.Tensor> {
    const outputs = this.run(image, nodes, options, false);
    return new Map(nodes.map((l) => [l, outputs[l]]));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.spec.disposeWeights();
  }

  private run(image: tf.Tensor4D, wanted: readonly string[], options: FeatureOptions, selectableOnly: boolean): Record<string, tf.Tensor> {
    if (this.disposed) throw new Error(`${this.name}: network used after dispose()`);
    if (!(image instanceof tf.Tensor) || image.rank !== 4 || image.shape[3] !== 3) {
      throw new Error(`${this.name}: image must be a [N, H, W, 3] tensor, got ${image instanceof tf.Tensor ? `[${image.shape}]` : typeof image}`);
    }
    if (wanted.length === 0) throw new Error(`${this.name}: no layers requested`);
    if (options.pooling != null && options.pooling !== 'max' && options.pooling !== 'avg') {
      throw new Error(`${this.name}: pooling must be 'max' or 'avg', got '${String(options.pooling)}'`);
    }
    for (const l of wanted) {
      const known = selectableOnly ? this.layers.includes(l) : this.index.has(l);
      if (!known) {
        const some = this.layers.slice(0, 12).join(', ');
        throw new Error(`${this.name}: unknown layer '${l}' (layers are: ${some}${this.layers.length > 12 ? ', …' : ''})`);
      }
    }
    const plan = this.plan(wanted);
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      values.set(this.spec.inputName, this.spec.preprocess(image));
      for (const i of plan) {
        const node = this.spec.nodes[i];
        const inputs = node.inputs.map((n) => values.get(n)!);
        values.set(node.name, node.run(inputs, options));
      }
      const result: Record<string, tf.Tensor> = {};
      for (const l of wanted) result[l] = values.get(l)!;
      return result;
    });
  }

  /** Indices of the nodes the wanted outputs depend on, in execution order. */
  private plan(wanted: readonly string[]): number[] {
    const key = [...new Set(wanted)].sort().join('\u0000');
    const cached = this.plans.get(key);
    if (cached) return cached;
    const needed = new Set<number>();
    const stack = wanted.map((w) => this.index.get(w)!);
    while (stack.length) {
      const i = stack.pop()!;
      if (needed.has(i)) continue;
      needed.add(i);
      for (const input of this.spec.nodes[i].inputs) {
        const j = this.index.get(input);
        if (j != null) stack.push(j);
      }
    }
    const plan = [...needed].sort((a, b) => a - b);
    this.plans.set(key, plan);
    return plan;
  }
}

/**
 * Max or average pooling as chosen by {@link FeatureOptions.pooling}; the fast-gradient version
 * from ops/pool.ts.
 */
export function pool2d(
  x: tf.Tensor4D,
  size: [number, number],
  strides: [number, number],
  padding: 'same' | 'valid',
  kind: 'max' | 'avg',
): tf.Tensor4D {
  return fastPool2d(x, size, strides, padding, kind);
}
