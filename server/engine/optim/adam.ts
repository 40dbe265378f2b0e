/**
 * Adam exactly as Keras implements it (tf.keras.optimizers.Adam, also Keras 3), the "epsilon hat"
 * form of Kingma & Ba section 2:
 *
 *   t  <- t + 1
 *   m  <- m + (g - m) (1 - beta1)
 *   v  <- v + (g^2 - v) (1 - beta2)
 *   lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
 *   x  <- x - lr_t m / (sqrt(v) + epsilon)
 *
 * (not the bias-corrected-v form x <- x - lr m_hat / (sqrt(v_hat) + epsilon), which differs when
 * epsilon is large, e.g. the TF tutorial's 1e-1). lr_t is computed on the host in float32
 * arithmetic, as Keras computes it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamConstants } from '../presets.ts';
import type { ImageOptimizer } from './types.ts';
import { resizeImage } from '../tensor-image.ts';

export interface AdamOptions extends AdamConstants {
  learningRate: number;
}

export class KerasAdam implements ImageOptimizer {
  readonly name = 'adam' as const;
  private t = 0;
  private m: tf.Tensor | null = null;
  private v: tf.Tensor | null = null;
  /** beta1^t and beta2^t per coordinate, once {@link forget} made step counts differ; else null. */
  private powers: { b1: tf.Tensor; b2: tf.Tensor } | null = null;
  private options: AdamOptions;

  constructor(options: AdamOptions) {
    validate(options);
    this.options = { ...options };
  }

  get iterations(): number {
    return this.t;
  }

  get learningRate(): number {
    return this.options.learningRate;
  }

  /** Changes the step size; moments and the step count carry over. */
  setLearningRate(lr: number): void {
    validate({ ...this.options, learningRate: lr });
    this.options.learningRate = lr;
  }

  /** The first and second moment tensors (null before the first step), for tests and inspection. */
  get moments(): { m: tf.Tensor | null; v: tf.Tensor | null } {
    return { m: this.m, v: this.v };
  }

  /** Applies one update synchronously (no readback). */
  apply(x: tf.Variable, grad: tf.Tensor): void {
    if (grad.shape.join() !== x.shape.join()) {
      throw new Error(`adam: gradient shape [${grad.shape}] does not match variable [${x.shape}]`);
    }
    const { beta1, beta2, epsilon, learningRate } = this.options;
    this.t += 1;
    const lrT = kerasAlpha(learningRate, beta1, beta2, this.t);
    const m0 = this.m;
    const v0 = this.v;
    const p0 = this.powers;
    const out = tf.tidy(() => {
      const mPrev = m0 ?? tf.zerosLike(grad);
      const vPrev = v0 ?? tf.zerosLike(grad);
      const mNext = tf.add(mPrev, tf.mul(tf.sub(grad, mPrev), 1 - beta1));
      const vNext = tf.add(vPrev, tf.mul(tf.sub(tf.square(grad), vPrev), 1 - beta2));
      if (!p0) {
        x.assign(tf.sub(x, tf.div(tf.mul(mNext, lrT), tf.add(tf.sqrt(vNext), epsilon))));
        return { m: mNext, v: vNext };
      }
      // Per-coordinate step counts (after forget()): the same formula with beta^t per coordinate.
      const b1 = tf.mul(p0.b1, beta1);
      const b2 = tf.mul(p0.b2, beta2);
      const rate = tf.div(tf.mul(tf.sqrt(tf.sub(1, b2)), learningRate), tf.sub(1, b1));
      x.assign(tf.sub(x, tf.div(tf.mul(mNext, rate), tf.add(tf.sqrt(vNext), epsilon))));
      return { m: mNext, v: vNext, b1, b2 };
    }) as { m: tf.Tensor; v: tf.Tensor; b1?: tf.Tensor; b2?: tf.Tensor };
    m0?.dispose();
    v0?.dispose();
    if (p0) tf.dispose([p0.b1, p0.b2]);
    this.m = out.m;
    this.v = out.v;
    this.powers = out.b1 && out.b2 ? { b1: out.b1, b2: out.b2 } : null;
  }

  /**
   * Forgets the moments where `mask` is 1 (blending where it is between 0 and 1), as if those
   * coordinates had never been stepped: used where the image was overwritten (a stroke, E24).
   * From then on bias correction runs per coordinate (beta^t kept as tensors), so the fresh
   * coordinates get Adam's usual first steps and the others keep theirs. `mask` broadcasts
   * against the variable (e.g. `[1, H, W, 1]` for `[1, H, W, 3]`) and is not disposed.
   */
  forget(mask: tf.Tensor): void {
    if (this.m == null || this.v == null) return;
    const { beta1, beta2 } = this.options;
    const m0 = this.m;
    const v0 = this.v;
    const p0 = this.powers;
    const t = this.t;
    const [m, v, b1, b2] = tf.tidy(() => {
      const keep = tf.sub(1, mask);
      const b1Prev = p0?.b1 ?? tf.fill(m0.shape, Math.pow(beta1, t));
      const b2Prev = p0?.b2 ?? tf.fill(m0.shape, Math.pow(beta2, t));
      return [
        tf.mul(m0, keep),
        tf.mul(v0, keep),
        tf.add(tf.mul(b1Prev, keep), mask),
        tf.add(tf.mul(b2Prev, keep), mask),
      ];
    });
    tf.dispose([m0, v0]);
    if (p0) tf.dispose([p0.b1, p0.b2]);
    this.m = m;
    this.v = v;
    this.powers = { b1, b2 };
  }

  async step(x: tf.Variable, grad: tf.Tensor, report: tf.Tensor): Promise<Float32Array> {
    this.apply(x, grad);
    return (await report.data()) as Float32Array;
  }

  /**
   * Resamples both moments bilinearly to the new image size, so a resolution change continues
   * warm (the step count is kept). Only `[1, H, W, C]` shapes can be resized.
   */
  resize(shape: readonly number[]): void {
    if (this.m == null || this.v == null) return;
    if (shape.length !== 4 || this.m.rank !== 4) {
      this.reset();
      return;
    }
    const [h, w] = [shape[1], shape[2]];
    const resample = (t: tf.Tensor) => {
      const r = resizeImage(t as tf.Tensor4D, h, w);
      t.dispose();
      return r;
    };
    this.m = resample(this.m);
    this.v = resample(this.v);
    if (this.powers) this.powers = { b1: resample(this.powers.b1), b2: resample(this.powers.b2) };
  }

  /** Adam's moments stay meaningful when the objective changes: nothing to drop. */
  objectiveChanged(): void {}

  reset(): void {
    this.m?.dispose();
    this.v?.dispose();
    if (this.powers) tf.dispose([this.powers.b1, this.powers.b2]);
    this.m = this.v = null;
    this.powers = null;
    this.t = 0;
  }

  dispose(): void {
    this.reset();
  }
}

/**
 * lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), evaluated in float32 like Keras does it (its
 * `beta_1_power` etc. are float32 tensors).
 */
export function kerasAlpha(lr: number, beta1: number, beta2: number, t: number): number {
  const f = Math.fround;
  const b1t = f(Math.pow(f(beta1), t));
  const b2t = f(Math.pow(f(beta2), t));
  return f(f(f(lr) * f(Math.sqrt(f(1 - b2t)))) / f(1 - b1t));
}

function validate(o: AdamOptions): void {
  if (!(Number.isFinite(o.learningRate) && o.learningRate > 0)) {
    throw new Error(`adam: learning rate must be a positive number (got ${o.learningRate})`);
  }
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) {
    throw new Error(`adam: betas must be in [0, 1) (got ${o.beta1}, ${o.beta2})`);
  }
  if (!(o.epsilon >= 0)) throw new Error(`adam: epsilon must be >= 0 (got ${o.epsilon})`);
}
