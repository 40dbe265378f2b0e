/**
 * Convolution layers whose input gradient is itself a forward convolution.
 *
 * Why: style transfer differentiates the loss w.r.t. the *image* only, through every convolution
 * of the feature network. tfjs computes that input gradient with the `Conv2DBackpropInput` kernel,
 * which the wasm backend runs as a naive loop (~2.4 GFLOP/s against ~30 GFLOP/s for XNNPACK's
 * forward convolution), and it has no `DepthwiseConv2dNativeBackpropInput` kernel at all, so
 * MobileNet cannot be differentiated there. The identity used instead:
 *
 *   dx = conv(dilate(dy ⊙ act'(y), stride), flip_hw(W) with in/out channels swapped, stride 1,
 *             pad_before = k − 1 − pad_top, pad_after = H + pad_top − 1 − (H_out − 1)·stride)
 *
 * and for depthwise kernels the same with a depthwise convolution (channel multiplier m folded
 * into a reshape-and-sum). Kernels and biases are constants (never trained here), so no weight
 * gradient is computed: they are not inputs of the custom gradient at all.
 *
 * `ENGINE_CONV_GRAD=builtin` (or {@link setConvGradientMode}) switches back to tfjs's own fused
 * ops and gradients, for benchmarks and for checking this code against tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.ts';
import { interruptionPoint } from '../interrupt.ts';

/** Activations that can be fused into a convolution here (with a gradient for each). */
export type ConvActivation = 'linear' | 'relu' | 'relu6';

/** `same`/`valid` as in Keras/TF, or explicit `[[top, bottom], [left, right]]` zero padding. */
export type ConvPadding = 'same' | 'valid' | [[number, number], [number, number]];

export type ConvGradientMode = 'custom' | 'builtin';

/**
 * Kernel name of `conv2d(x ⊙ act'(mask), filter)` with stride 1 and explicit padding: the input
 * gradient of a stride-1 convolution with the activation's gradient mask folded into the
 * convolution's loads (one pass instead of step, multiply and conv). Inputs `{x, mask, filter}`
 * (`mask` = the layer's output y, same shape as x), attrs `{pad: [[0,0],[t,b],[l,r],[0,0]],
 * activation: 'relu' | 'relu6'}`. Registered by backends that fuse it (the engine's own webgpu
 * kernels, platform/webgpu/tfjs-kernels.ts); where it is not, the mask is applied with tfjs ops.
 */
export const MASKED_CONV2D = 'AtelierMaskedConv2D';

/** What a convolution layer is: constant kernel (HWIO, or HWCM for depthwise), bias, geometry. */
export interface ConvSpec {
  /** `[kh, kw, inChannels, outChannels]`; for depthwise `[kh, kw, channels, multiplier]`. */
  kernel: tf.Tensor4D;
  /** `[outChannels]`, optional. */
  bias?: tf.Tensor1D;
  strides?: number | [number, number];
  padding?: ConvPadding;
  activation?: ConvActivation;
}

function modeFromEnv(): ConvGradientMode {
  const env = (process.env.ENGINE_CONV_GRAD ?? 'custom').toLowerCase();
  if (env !== 'custom' && env !== 'builtin') {
    throw new Error(`ENGINE_CONV_GRAD must be 'custom' or 'builtin', got '${env}'`);
  }
  return env;
}

let gradientMode: ConvGradientMode = modeFromEnv();

/**
 * Chooses how convolutions are differentiated from now on (all layers, all networks): `custom`
 * (default; forward convolutions only) or `builtin` (tfjs's gradients, e.g. Conv2DBackpropInput).
 */
export function setConvGradientMode(mode: ConvGradientMode): void {
  if (mode !== 'custom' && mode !== 'builtin') throw new Error(`unknown conv gradient mode '${String(mode)}'`);
  gradientMode = mode;
}

export function getConvGradientMode(): ConvGradientMode {
  return gradientMode;
}

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

function pair(v: number | [number, number] | undefined, fallback: number): [number, number] {
  if (v == null) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : v;
}

function tfPad(padding: ConvPadding): 'same' | 'valid' | ExplicitPad {
  if (padding === 'same' || padding === 'valid') return padding;
  const [[t, b], [l, r]] = padding;
  for (const p of [t, b, l, r]) {
    if (!Number.isInteger(p) || p < 0) throw new Error(`explicit conv padding must be non-negative integers, got ${JSON.stringify(padding)}`);
  }
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

/**
 * `dy ⊙ act'(y)` for the fused activation, computed from the layer output `y`.
 *
 * relu6: y ∈ [0, 6], and its derivative is 1 exactly where 0 < y < 6, i.e. where y·(6 − y) > 0:
 * sub, mul, step, mul. On wasm that is ~2.7× faster than the comparison/logical/cast chain
 * (greater, less, logicalAnd, cast, mul), whose cost rivalled the backward convolution itself.
 */
function activationGrad(dy: tf.Tensor4D, y: tf.Tensor4D, activation: ConvActivation): tf.Tensor4D {
  if (activation === 'linear') return dy;
  if (activation === 'relu') return tf.mul(dy, tf.step(y));
  return tf.mul(dy, tf.step(tf.mul(y, tf.sub(6, y))));
}

/**
 * Inserts `stride − 1` zeros between the rows/columns of `g` ([N, h, w, C] → [N, h·sh, w·sw, C];
 * the trailing zeros are accounted for by the caller's padding). Rows and columns are spread in
 * two passes so that no tensor has more than 4 dimensions: the webgpu backend's shaders stop at
 * rank 4 (its Pad program emits a `vec6`, which WGSL lacks).
 */
function dilate(g: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [n, h, w, c] = g.shape;
  let out = g;
  if (sh > 1) out = tf.reshape(tf.pad(tf.reshape(out, [n * h, 1, w, c]), [[0, 0], [0, sh - 1], [0, 0], [0, 0]]), [n, h * sh, w, c]);
  if (sw > 1) {
    const rows = out.shape[1];
    out = tf.reshape(tf.pad(tf.reshape(out, [n * rows, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]), [n, rows, w * sw, c]);
  }
  return out;
}

/**
 * Pads (or crops, for negative amounts) the spatial dims of `g` so that a stride-1 'valid'
 * convolution with a k×k kernel yields exactly the input size. Returns the explicit padding for
 * the convolution and the possibly cropped tensor.
 */
function backwardPadding(
  g: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): { g: tf.Tensor4D; pad: ExplicitPad } {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  const { top, left } = info.padInfo;
  let before = [kh - 1 - top, kw - 1 - left];
  // The dilated g has out·s rows, the last s − 1 of which are zeros beyond the last output.
  let after = [inHeight + top - outHeight * sh, inWidth + left - outWidth * sw];
  if (before[0] < 0 || before[1] < 0 || after[0] < 0 || after[1] < 0) {
    const [n, h, w, c] = g.shape;
    const cropTop = Math.max(0, -before[0]);
    const cropLeft = Math.max(0, -before[1]);
    const cropBottom = Math.max(0, -after[0]);
    const cropRight = Math.max(0, -after[1]);
    g = tf.slice(g, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
    before = before.map((v) => Math.max(0, v));
    after = after.map((v) => Math.max(0, v));
  }
  return { g, pad: [[0, 0], [before[0], after[0]], [before[1], after[1]], [0, 0]] };
}

/** Shared plumbing of {@link Conv2D} and {@link DepthwiseConv2D}. */
abstract class ConvBase {
  readonly kernel: tf.Tensor4D;
  readonly bias: tf.Tensor1D | undefined;
  readonly strides: [number, number];
  readonly padding: ConvPadding;
  readonly activation: ConvActivation;
  /** The kernel as the backward convolution needs it; built on first use. */
  protected backwardKernel: tf.Tensor4D | null = null;
  private disposed = false;

  constructor(spec: ConvSpec) {
    if (spec.kernel.rank !== 4) throw new Error(`conv kernel must be rank 4, got shape [${spec.kernel.shape}]`);
    this.kernel = spec.kernel;
    this.bias = spec.bias;
    this.strides = pair(spec.strides, 1);
    this.padding = spec.padding ?? 'valid';
    this.activation = spec.activation ?? 'linear';
    tfPad(this.padding); // validates
    const [, , k2, k3] = this.kernel.shape;
    const outChannels = this.depthwiseKernel() ? k2 * k3 : k3;
    if (this.bias && this.bias.shape[0] !== outChannels) {
      throw new Error(`conv bias has ${this.bias.shape[0]} values for ${outChannels} output channels`);
    }
  }

  /** Whether the kernel is `[kh, kw, C, multiplier]` (a static fact of the subclass). */
  protected abstract depthwiseKernel(): boolean;
  protected abstract kernelName: string;
  protected abstract makeBackwardKernel(): tf.Tensor4D;
  /** dx from the activation-adjusted, dilated and padded gradient. */
  protected abstract backwardConv(g: tf.Tensor4D, pad: ExplicitPad, inChannels: number): tf.Tensor4D;
  protected abstract builtinForward(x: tf.Tensor4D): tf.Tensor4D;

  /** dx through {@link MASKED_CONV2D} where the active backend has it (null: take the general path). */
  protected maskedBackward(_dy: tf.Tensor4D, _y: tf.Tensor4D, _info: tf.backend_util.Conv2DInfo): tf.Tensor4D | null {
    return null;
  }

  /** Applies the layer; differentiable w.r.t. `x` in either gradient mode. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    if (this.disposed) throw new Error('conv layer used after dispose()');
    interruptionPoint();
    if (gradientMode === 'builtin') return this.builtinForward(x);
    return this.customOp(x);
  }

  /** Frees the kernel, bias and the derived backward kernel. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kernel.dispose();
    this.bias?.dispose();
    this.backwardKernel?.dispose();
  }

  protected forwardKernel(x: tf.Tensor4D): tf.Tensor4D {
    const inputs: tf.NamedTensorMap = { x, filter: this.kernel };
    if (this.bias) inputs.bias = this.bias;
    const attrs = {
      strides: this.strides,
      pad: tfPad(this.padding),
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined,
      activation: this.activation,
    };
    // Calling the kernel directly: tf.fused.* refuses to fuse non-linear activations while a
    // gradient is being recorded, which would split this into three ops and three tape entries.
    return tf.engine().runKernel(this.kernelName, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }

  private customOp(x: tf.Tensor4D): tf.Tensor4D {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x4 = args[0] as tf.Tensor4D;
      const save = args[1] as tf.GradSaveFunc;
      const y = this.forwardKernel(x4);
      save([y]);
      const inShape = x4.shape;
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => this.inputGradient(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, inShape),
      };
    });
    return op(x) as tf.Tensor4D;
  }

  private inputGradient(dy: tf.Tensor4D, y: tf.Tensor4D, inShape: [number, number, number, number]): tf.Tensor4D {
    interruptionPoint();
    return tf.tidy(() => {
      const info = tf.backend_util.computeConv2DInfo(
        inShape,
        this.kernel.shape,
        this.strides,
        1,
        tfPad(this.padding),
        undefined,
        this.depthwiseKernel(),
      );
      if (!this.backwardKernel) this.backwardKernel = tf.keep(this.makeBackwardKernel());
      const fused = this.maskedBackward(dy, y, info);
      if (fused) return fused;
      const g = dilate(activationGrad(dy, y, this.activation), this.strides[0], this.strides[1]);
      const padded = backwardPadding(g, info);
      return this.backwardConv(padded.g, padded.pad, inShape[3]);
    });
  }
}

/** A 2-D convolution (+ bias + activation) with a forward-conv input gradient. */
export class Conv2D extends ConvBase {
  protected kernelName = tf.FusedConv2D;

  protected depthwiseKernel(): boolean {
    return false;
  }

  protected makeBackwardKernel(): tf.Tensor4D {
    // flip spatially, swap in/out channels: [kh, kw, Ci, Co] → [kh, kw, Co, Ci]
    return tf.tidy(() => tf.transpose(tf.reverse(this.kernel, [0, 1]), [0, 1, 3, 2]));
  }

  protected backwardConv(g: tf.Tensor4D, pad: ExplicitPad): tf.Tensor4D {
    const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
    return tf.engine().runKernel(tf.Conv2D, { x: g, filter: this.backwardKernel! }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }

  protected override maskedBackward(dy: tf.Tensor4D, y: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D | null {
    if (this.activation === 'linear' || this.strides[0] !== 1 || this.strides[1] !== 1) return null;
    if (tf.getKernel(MASKED_CONV2D, tf.getBackend()) == null) return null;
    const padded = backwardPadding(dy, info);
    if (padded.g !== dy) return null; // cropped: the mask would need the same crop
    const attrs = { pad: padded.pad, activation: this.activation };
    return tf.engine().runKernel(MASKED_CONV2D, { x: dy, mask: y, filter: this.backwardKernel! }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }

  protected builtinForward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.fused.conv2d({ x, filter: this.kernel, bias: this.bias, strides: this.strides, pad: tfPad(this.padding), activation: this.activation });
  }
}

/** A depthwise convolution (+ bias + activation) with a depthwise-conv input gradient. */
export class DepthwiseConv2D extends ConvBase {
  protected kernelName = tf.FusedDepthwiseConv2D;

  protected depthwiseKernel(): boolean {
    return true;
  }

  protected makeBackwardKernel(): tf.Tensor4D {
    // [kh, kw, C, m] → flipped, one filter per (c, k) output channel: [kh, kw, C·m, 1]
    const [kh, kw, c, m] = this.kernel.shape;
    return tf.tidy(() => tf.reshape(tf.reverse(this.kernel, [0, 1]), [kh, kw, c * m, 1]));
  }

  protected backwardConv(g: tf.Tensor4D, pad: ExplicitPad, inChannels: number): tf.Tensor4D {
    const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
    const perOutput = tf.engine().runKernel(
      tf.DepthwiseConv2dNative,
      { x: g, filter: this.backwardKernel! },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;
    const m = this.kernel.shape[3];
    if (m === 1) return perOutput;
    const [n, h, w] = perOutput.shape;
    // rank 3, not [n, h, w, C, m]: webgpu kernels handle at most 4 dimensions
    return tf.reshape(tf.sum(tf.reshape(perOutput, [n * h * w, inChannels, m]), 2), [n, h, w, inChannels]);
  }

  protected builtinForward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.fused.depthwiseConv2d({
      x,
      filter: this.kernel,
      bias: this.bias,
      strides: this.strides,
      pad: tfPad(this.padding) as 'same' | 'valid',
      activation: this.activation,
    });
  }
}
