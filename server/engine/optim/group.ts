/**
 * One optimizer over all the variables of an image parameterization (parameterization.ts): the
 * transfer steps, resizes and partially resets them together, with one readback per step.
 *
 * Adam runs per variable (each pyramid level gets its own moments, which is what makes the
 * pyramid work: every level's step is normalised separately). L-BFGS needs one flat vector, so it
 * takes a single variable: the transfer optimizes pixels under L-BFGS (SPEC E23).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerName } from '../api.ts';
import { KerasAdam, type AdamOptions } from './adam.ts';
import { Lbfgs, type LbfgsOptions } from './lbfgs.ts';

export interface VariablesOptimizer {
  readonly name: OptimizerName;
  /** Updates completed so far. */
  readonly iterations: number;
  /**
   * Updates every variable from its gradient and reads `report` back in the same transfer as any
   * scalars the optimizer needs; returns the report's values. Nothing passed in is disposed.
   */
  step(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], report: tf.Tensor): Promise<Float32Array>;
  /** The variables were resampled to `shapes`: carry the state over, or drop what cannot be. */
  resize(shapes: readonly (readonly number[])[]): void;
  /** The objective changed: drop state that describes the old one. */
  objectiveChanged(): void;
  /** The variables were overwritten where `masks[i]` is 1: forget the state there (null: keep it). */
  forget(masks: readonly (tf.Tensor | null)[]): void;
  dispose(): void;
}

export class AdamGroup implements VariablesOptimizer {
  readonly name = 'adam' as const;
  readonly members: KerasAdam[];
  private learningRate: number;

  constructor(
    count: number,
    private readonly options: AdamOptions,
  ) {
    this.learningRate = options.learningRate;
    this.members = Array.from({ length: count }, () => new KerasAdam(options));
  }

  get iterations(): number {
    return this.members[0]?.iterations ?? 0;
  }

  setLearningRate(lr: number): void {
    for (const m of this.members) m.setLearningRate(lr);
    this.learningRate = lr;
  }

  async step(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], report: tf.Tensor): Promise<Float32Array> {
    checkCounts('adam', this.members.length, vars, grads);
    vars.forEach((v, i) => this.members[i].apply(v, grads[i]));
    return (await report.data()) as Float32Array;
  }

  resize(shapes: readonly (readonly number[])[]): void {
    shapes.forEach((s, i) => this.members[i].resize(s));
  }

  objectiveChanged(): void {}

  forget(masks: readonly (tf.Tensor | null)[]): void {
    masks.forEach((mask, i) => mask && this.members[i].forget(mask));
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }

  toString(): string {
    return `adam(lr ${this.learningRate}, ${this.members.length} variables, ${JSON.stringify(this.options)})`;
  }
}

export class LbfgsSingle implements VariablesOptimizer {
  readonly name = 'lbfgs' as const;
  readonly inner: Lbfgs;

  constructor(options: LbfgsOptions) {
    this.inner = new Lbfgs(options);
  }
  get iterations(): number {
    return this.inner.iterations;
  }
  step(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], report: tf.Tensor): Promise<Float32Array> {
    checkCounts('lbfgs', 1, vars, grads);
    return this.inner.step(vars[0], grads[0], report);
  }
  resize(): void {
    this.inner.resize();
  }
  objectiveChanged(): void {
    this.inner.objectiveChanged();
  }
  /** Curvature pairs through overwritten pixels describe another image: start over. */
  forget(): void {
    this.inner.reset();
  }
  dispose(): void {
    this.inner.dispose();
  }
}

function checkCounts(name: string, expected: number, vars: readonly unknown[], grads: readonly unknown[]): void {
  if (vars.length !== expected || grads.length !== expected) {
    throw new Error(`${name}: expected ${expected} variables and gradients, got ${vars.length} and ${grads.length}`);
  }
}
