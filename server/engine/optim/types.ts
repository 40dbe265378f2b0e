/**
 * What the style-transfer loop needs from an optimizer: one update of the image variable from its
 * gradient, with the step's small readback (the loss values) folded into the optimizer's own, so
 * each step costs exactly one device-to-host transfer.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { OptimizerName } from '../api.ts';

export interface ImageOptimizer {
  readonly name: OptimizerName;
  /** Updates completed so far (Adam's `iterations`, L-BFGS' `n_iter`). */
  readonly iterations: number;
  /**
   * Updates `x` in place from `grad` (the gradient of the objective at the current `x`), reads
   * `report` back in the same transfer as any scalars the optimizer needs, and returns its values.
   * Neither `grad` nor `report` is disposed.
   */
  step(x: tf.Variable, grad: tf.Tensor, report: tf.Tensor): Promise<Float32Array>;
  /** The variable was resized to `shape`: carry the state over, or drop what cannot be. */
  resize(shape: readonly number[]): void;
  /** The objective changed (weights, targets, layers): drop state that describes the old one. */
  objectiveChanged(): void;
  dispose(): void;
}
