/**
 * L-BFGS as torch.optim.LBFGS does it without a line search (`line_search_fn=None`), with
 * `max_iter = 1`: one {@link Lbfgs.step} is one iteration (one objective evaluation, done by the
 * caller), and calling it repeatedly walks the same path as one torch `step()` with many
 * iterations. Ported logic:
 *
 * - first iteration: d = -g, t = min(1, 1/|g|_1) lr;
 * - later: y = g - g_prev, s = t d_prev; the pair is kept when y.s > 1e-10 (then H_diag = y.s/y.y),
 *   oldest dropped beyond `historySize`; d = -H g by the two-loop recursion; t = lr;
 * - no move when max|g| <= toleranceGrad (torch returns early) or when d is not a descent
 *   direction (g.d > -toleranceChange, torch breaks before moving).
 *
 * State lives in tensors; per step there is exactly one readback, of y.s, y.y, max|g| and |g|_1
 * together with the caller's report (the loss values). The descent test g.d is applied as a mask
 * on the device instead of being read back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ImageOptimizer } from './types.ts';

export interface LbfgsOptions {
  /** torch `lr`: the step length after the first iteration. Default 1. */
  learningRate?: number;
  /** Curvature pairs kept. Default 100. Each pair costs two image-sized tensors. */
  historySize?: number;
  /** torch `tolerance_grad`. Default 1e-7. */
  toleranceGrad?: number;
  /** torch `tolerance_change`. Default 1e-9. */
  toleranceChange?: number;
}

function dot(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(a, b));
}

export class Lbfgs implements ImageOptimizer {
  readonly name = 'lbfgs' as const;
  readonly learningRate: number;
  readonly historySize: number;
  private readonly toleranceGrad: number;
  private readonly toleranceChange: number;
  private nIter = 0;
  private dirs: tf.Tensor[] = []; // y_i
  private steps: tf.Tensor[] = []; // s_i
  private ro: number[] = [];
  private hDiag = 1;
  private d: tf.Tensor | null = null;
  private t = 0;
  private prevGrad: tf.Tensor | null = null;
  /** Times the history was cleared (objective change or resize), for tests and logs. */
  resets = 0;

  constructor(options: LbfgsOptions = {}) {
    this.learningRate = options.learningRate ?? 1;
    this.historySize = options.historySize ?? 100;
    this.toleranceGrad = options.toleranceGrad ?? 1e-7;
    this.toleranceChange = options.toleranceChange ?? 1e-9;
    if (!(this.learningRate > 0)) throw new Error(`lbfgs: learning rate must be > 0 (got ${this.learningRate})`);
    if (!(Number.isInteger(this.historySize) && this.historySize >= 1)) {
      throw new Error(`lbfgs: history size must be an integer >= 1 (got ${this.historySize})`);
    }
  }

  get iterations(): number {
    return this.nIter;
  }

  /** Curvature pairs currently held. */
  get historyLength(): number {
    return this.dirs.length;
  }

  async step(x: tf.Variable, grad: tf.Tensor, report: tf.Tensor): Promise<Float32Array> {
    if (grad.shape.join() !== x.shape.join()) {
      throw new Error(`lbfgs: gradient shape [${grad.shape}] does not match variable [${x.shape}]`);
    }
    const first = this.nIter === 0 || this.d == null || this.prevGrad == null;
    // y and s exist only from the second iteration on; they become history or are dropped.
    let y: tf.Tensor | null = null;
    let s: tf.Tensor | null = null;
    const scalars = tf.tidy(() => {
      const parts: tf.Tensor[] = [tf.reshape(report, [-1])];
      if (!first) {
        y = tf.keep(tf.sub(grad, this.prevGrad!));
        s = tf.keep(tf.mul(this.d!, this.t));
        parts.push(tf.stack([dot(y, s), dot(y, y)]));
      } else {
        parts.push(tf.zeros([2]));
      }
      const absG = tf.abs(grad);
      parts.push(tf.stack([tf.max(absG), tf.sum(absG)]));
      return tf.concat(parts);
    });
    let values: Float32Array;
    try {
      values = (await scalars.data()) as Float32Array;
    } finally {
      scalars.dispose();
    }
    const n = values.length - 4;
    const [ys, yy, maxAbsG, sumAbsG] = Array.from(values.subarray(n));
    const reportValues = values.slice(0, n);

    if (maxAbsG <= this.toleranceGrad) {
      // torch returns before touching any state when the gradient is already small enough.
      (y as tf.Tensor | null)?.dispose();
      (s as tf.Tensor | null)?.dispose();
      return reportValues;
    }
    this.nIter += 1;
    if (first) {
      this.clearHistory();
      this.hDiag = 1;
    } else if (ys > 1e-10) {
      if (this.dirs.length === this.historySize) {
        this.dirs.shift()!.dispose();
        this.steps.shift()!.dispose();
        this.ro.shift();
      }
      this.dirs.push(y!);
      this.steps.push(s!);
      this.ro.push(1 / ys);
      this.hDiag = ys / yy;
    } else {
      (y as tf.Tensor | null)?.dispose();
      (s as tf.Tensor | null)?.dispose();
    }

    const d = first ? tf.neg(grad) : this.twoLoopDirection(grad);
    this.t = first ? Math.min(1, 1 / sumAbsG) * this.learningRate : this.learningRate;
    const t = this.t;
    const tolChange = this.toleranceChange;
    tf.tidy(() => {
      // Move only along a descent direction (torch: `if gtd > -tolerance_change: break`).
      const descent = tf.cast(tf.less(dot(grad, d), -tolChange), 'float32');
      x.assign(tf.add(x, tf.mul(d, tf.mul(descent, t))));
    });
    this.prevGrad?.dispose();
    this.prevGrad = tf.keep(tf.clone(grad));
    this.d?.dispose();
    this.d = d;
    return reportValues;
  }

  /** d = -H g by the two-loop recursion over the stored pairs, H0 = H_diag I. */
  private twoLoopDirection(grad: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const k = this.dirs.length;
      const al: tf.Scalar[] = new Array(k);
      let q: tf.Tensor = tf.neg(grad);
      for (let i = k - 1; i >= 0; i--) {
        al[i] = tf.mul(dot(this.steps[i], q), this.ro[i]);
        q = tf.sub(q, tf.mul(this.dirs[i], al[i]));
      }
      let r = tf.mul(q, this.hDiag);
      for (let i = 0; i < k; i++) {
        const be = tf.mul(dot(this.dirs[i], r), this.ro[i]);
        r = tf.add(r, tf.mul(this.steps[i], tf.sub(al[i], be)));
      }
      return r;
    });
  }

  private clearHistory(): void {
    for (const t of this.dirs) t.dispose();
    for (const t of this.steps) t.dispose();
    this.dirs = [];
    this.steps = [];
    this.ro = [];
  }

  /** Forgets everything: the next step is a first iteration (steepest descent, short step). */
  reset(): void {
    this.clearHistory();
    this.d?.dispose();
    this.prevGrad?.dispose();
    this.d = this.prevGrad = null;
    this.nIter = 0;
    this.hDiag = 1;
    this.resets += 1;
  }

  /** Curvature pairs of another image size are meaningless: start over. */
  resize(): void {
    this.reset();
  }

  /** Curvature pairs of the old objective would mislead the new one: start over. */
  objectiveChanged(): void {
    this.reset();
  }

  dispose(): void {
    this.reset();
  }
}
