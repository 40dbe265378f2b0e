/**
 * The engine's own WebGPU kernels inside tfjs-backend-webgpu 4.22: they replace tfjs's
 * `FusedConv2D`, `Conv2D` and `BatchMatMul` on the `webgpu` backend for the shapes they handle
 * (and hand everything else to tfjs's own kernel), and provide `MASKED_CONV2D` (ops/conv.ts).
 *
 * They run on tfjs's device and record into tfjs's open command encoder and compute pass, reading
 * and writing tfjs tensors' GPU buffers directly, so tensors never leave the GPU and our dispatches
 * are ordered with tfjs's. This leans on the backend's internals (`tensorMap`, `commandEncoder`,
 * `computePassEncoder`, `bufferManager`, `commandQueueOwnedIds`, …), hence the exact version pin
 * of @tensorflow/tfjs-backend-webgpu in package.json and {@link missingInternals}, which turns
 * the kernels off (logged) if a future version changes them.
 *
 * Switches (env, read once; {@link setWebgpuKernelSettings} at run time):
 * - `ENGINE_WEBGPU_KERNELS`: comma list of `conv` (implicit-GEMM convolutions, fused bias +
 *   activation, ReLU mask folded into the backward convolution), `matmul` (BatchMatMul with
 *   split-K: the Gram matrices), `f16` (the tensor-core variant of both, where the adapter offers
 *   subgroup matrices); `none` for tfjs's kernels only. Default `conv,matmul`: the fp32 kernels,
 *   verified against tfjs on Mesa's lavapipe in CI (platform/webgpu/*.test.ts). `f16` is off by
 *   default: no adapter with subgroup matrices has run it yet (bench/gpu-probe checks it first).
 * - `ENGINE_WEBGPU_SUBMIT`: `step` (default) submits only when something is read back — once per
 *   optimizer step, at its loss read-back — instead of tfjs's every 15 dispatches; a number
 *   restores tfjs's batching with that batch size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_CONV2D } from '../../ops/conv.ts';
import { createLogger } from '../../../log.ts';
import { GemmKernels, type F16Support, type GemmPlan, type Precision } from './gemm.ts';
import { problemKey, type Activation, type GemmProblem } from './gemm-problem.ts';

const log = createLogger('engine');

export interface WebgpuKernelSettings {
  conv: boolean;
  matmul: boolean;
  f16: boolean;
  /** Dispatches per submit; Infinity = submit only at read-backs (one command buffer per step). */
  submitBatch: number;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): WebgpuKernelSettings {
  const raw = (env.ENGINE_WEBGPU_KERNELS ?? 'conv,matmul').toLowerCase().trim();
  const names = raw === 'none' || raw === '' ? [] : raw.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!['conv', 'matmul', 'f16'].includes(n)) throw new Error(`ENGINE_WEBGPU_KERNELS: unknown kernel '${n}' (expected conv, matmul, f16 or none)`);
  }
  const submit = (env.ENGINE_WEBGPU_SUBMIT ?? 'step').toLowerCase().trim();
  const batch = submit === 'step' ? Infinity : Number(submit);
  if (!(batch >= 1)) throw new Error(`ENGINE_WEBGPU_SUBMIT must be 'step' or a positive number, got '${submit}'`);
  return { conv: names.includes('conv'), matmul: names.includes('matmul'), f16: names.includes('f16'), submitBatch: batch };
}

let settings: WebgpuKernelSettings | null = null;

/** The settings in force (from the environment until {@link setWebgpuKernelSettings}). */
export function webgpuKernelSettings(): WebgpuKernelSettings {
  settings ??= settingsFromEnv();
  return settings;
}

/** The subset of tfjs-backend-webgpu 4.22's WebGPUBackend this module uses. */
interface TfjsWebgpuBackend {
  device: GPUDevice;
  tensorMap: { get(id: tf.DataId): { resource: unknown } | undefined };
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<tf.DataId>;
  dispatchCountInPass: number;
  uniformPendingDisposal: GPUBuffer[];
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(id: tf.DataId): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  disposeData(id: tf.DataId, force?: boolean): boolean;
}

/** Internals of the backend we rely on that are missing (empty: all there). */
export function missingInternals(backend: object): string[] {
  const b = backend as Record<string, unknown>;
  const fields = ['device', 'tensorMap', 'commandQueueOwnedIds', 'uniformPendingDisposal', 'bufferManager'];
  const methods = ['ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'uploadToGPU', 'makeTensorInfo', 'disposeData'];
  return [...fields.filter((f) => b[f] == null), ...methods.filter((m) => typeof b[m] !== 'function'), ...('dispatchCountInPass' in b ? [] : ['dispatchCountInPass'])];
}

/** Counters for tests and the probe. */
export const kernelStats = {
  /** Products run by our kernels, by precision. */
  ran: { fp32: 0, f16: 0 },
  /** Calls handed to tfjs's kernel, by reason. */
  fallbacks: new Map<string, number>(),
  /** The plan (tile, splits) of the last product ours ran. */
  lastPlan: '',
  reset(): void {
    this.ran.fp32 = 0;
    this.ran.f16 = 0;
    this.fallbacks.clear();
    this.lastPlan = '';
  },
};

function fallback(reason: string): void {
  kernelStats.fallbacks.set(reason, (kernelStats.fallbacks.get(reason) ?? 0) + 1);
}

interface Runtime {
  kernels: GemmKernels;
  plans: Map<string, GemmPlan | { failed: string }>;
}

/** Per device: our pipelines and plans. */
const runtimes = new WeakMap<GPUDevice, Runtime>();
let f16Support: F16Support | undefined;

/** What the f16 kernels can use on the engine's device (set by the backend's installer). */
export function setF16Support(s: F16Support | undefined): void {
  f16Support = s;
}

export function f16Available(): F16Support | undefined {
  return f16Support;
}

function runtime(device: GPUDevice): Runtime {
  let r = runtimes.get(device);
  if (!r) {
    const kernels = new GemmKernels(device, {
      maxWorkgroupStorage: device.limits.maxComputeWorkgroupStorageSize,
      maxInvocations: device.limits.maxComputeInvocationsPerWorkgroup,
      f16: f16Support,
    });
    r = { kernels, plans: new Map() };
    runtimes.set(device, r);
  }
  return r;
}

/** The kernels on `device` (the probe compares plans and timings through this). */
export function gemmKernelsFor(device: GPUDevice): GemmKernels {
  return runtime(device).kernels;
}

/**
 * A compiled plan for `p`, or null (with the reason counted) when our kernels do not take it.
 * Pipelines are created synchronously; their validation is awaited in the background and a
 * failure (logged) sends later calls of that shape to tfjs.
 */
function planFor(backend: TfjsWebgpuBackend, p: GemmProblem): GemmPlan | null {
  const s = webgpuKernelSettings();
  const rt = runtime(backend.device);
  rt.kernels.caps.f16 = f16Support;
  const precision: Precision = s.f16 && f16Support && rt.kernels.unsupported(p, 'f16') == null ? 'f16' : 'fp32';
  const key = `${precision}:${problemKey(p)}`;
  let plan = rt.plans.get(key);
  if (!plan) {
    const why = rt.kernels.unsupported(p, precision);
    if (why) {
      plan = { failed: why };
    } else {
      const made = rt.kernels.plan(p, precision);
      plan = made;
      rt.kernels.prepare(made).catch((err: Error) => {
        rt.plans.set(key, { failed: `pipeline error: ${err.message}` });
        log.error('webgpu kernel failed to compile; tfjs runs this shape instead', { problem: key, plan: made.describe, error: err.message });
      });
    }
    rt.plans.set(key, plan);
  }
  if ('failed' in plan) {
    fallback(plan.failed);
    return null;
  }
  return plan;
}

/** Records `plan` into tfjs's open compute pass; returns the output tensor info. */
function runPlan(backend: TfjsWebgpuBackend, plan: GemmPlan, io: { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; mask?: tf.TensorInfo }, outShape: number[]): tf.TensorInfo {
  const out = backend.makeTensorInfo(outShape, 'float32');
  const all = [io.a, io.b, io.bias, io.mask, out].filter((t): t is tf.TensorInfo => t != null);
  for (const t of all) backend.uploadToGPU(t.dataId);
  const buffer = (t: tf.TensorInfo | undefined) => (t ? (backend.tensorMap.get(t.dataId)!.resource as GPUBuffer) : undefined);
  backend.ensureCommandEncoderReady();
  backend.computePassEncoder ??= backend.commandEncoder!.beginComputePass();
  runtime(backend.device).kernels.encode(
    backend.computePassEncoder,
    plan,
    { a: buffer(io.a)!, b: buffer(io.b)!, c: buffer(out)!, bias: buffer(io.bias), mask: buffer(io.mask) },
    (bytes) => {
      // Released with tfjs's uniforms when the command buffer is submitted.
      const b = backend.bufferManager.acquireBuffer(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
      backend.uniformPendingDisposal.push(b);
      return b;
    },
  );
  for (const t of all) backend.commandQueueOwnedIds.add(t.dataId);
  backend.dispatchCountInPass += plan.dispatches;
  kernelStats.ran[plan.precision]++;
  kernelStats.lastPlan = plan.describe;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  return out;
}

type Conv2DInfo = tf.backend_util.Conv2DInfo;

function convProblem(info: Conv2DInfo, bias: boolean, activation: Activation, mask: GemmProblem['mask']): GemmProblem {
  return {
    M: info.batchSize * info.outHeight * info.outWidth,
    N: info.outChannels,
    K: info.filterHeight * info.filterWidth * info.inChannels,
    a: {
      kind: 'conv',
      batch: info.batchSize,
      H: info.inHeight,
      W: info.inWidth,
      C: info.inChannels,
      KH: info.filterHeight,
      KW: info.filterWidth,
      OH: info.outHeight,
      OW: info.outWidth,
      strideH: info.strideHeight,
      strideW: info.strideWidth,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    },
    bTransposed: false,
    bias,
    activation,
    mask,
  };
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** Our conv for `x`, `filter` (+ bias, activation, mask), or null to let tfjs run it. */
function tryConv(backend: TfjsWebgpuBackend, x: tf.TensorInfo, filter: tf.TensorInfo, attrs: ConvAttrs, extra: { bias?: tf.TensorInfo; activation: string; mask?: tf.TensorInfo; maskKind?: 'relu' | 'relu6' }): tf.TensorInfo | null {
  if (attrs.dataFormat !== 'NHWC') return fallback('NCHW'), null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') return fallback('not float32'), null;
  if (!['linear', 'relu', 'relu6'].includes(extra.activation)) return fallback(`activation ${extra.activation}`), null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return fallback('dilated'), null;
  if (extra.bias && extra.bias.shape.reduce((a, b) => a * b, 1) !== info.outChannels) return fallback('bias shape'), null;
  const p = convProblem(info, extra.bias != null, extra.activation as Activation, extra.mask ? extra.maskKind! : 'none');
  const plan = planFor(backend, p);
  if (!plan) return null;
  return runPlan(backend, plan, { a: x, b: filter, bias: extra.bias, mask: extra.mask }, info.outShape);
}

/** Restores for {@link uninstall}: the kernels we replaced. */
const originals = new Map<string, tf.KernelConfig>();

function override(name: string, kernelFunc: (original: tf.KernelConfig) => tf.KernelFunc): void {
  const original = originals.get(name) ?? tf.getKernel(name, 'webgpu');
  if (!original) throw new Error(`tfjs-backend-webgpu registered no ${name} kernel`);
  originals.set(name, original);
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: kernelFunc(original) });
}

function restore(name: string): void {
  const original = originals.get(name);
  if (!original) return;
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel(original);
  originals.delete(name);
}

function installConv(): void {
  override(tf.FusedConv2D, (original) => (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as ConvAttrs;
    if (preluActivationWeights) return fallback('prelu'), original.kernelFunc(args);
    return tryConv(args.backend as unknown as TfjsWebgpuBackend, x!, filter!, attrs, { bias, activation: attrs.activation ?? 'linear' }) ?? original.kernelFunc(args);
  });
  override(tf.Conv2D, (original) => (args) => {
    const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
    return tryConv(args.backend as unknown as TfjsWebgpuBackend, x, filter, args.attrs as unknown as ConvAttrs, { activation: 'linear' }) ?? original.kernelFunc(args);
  });
  // conv(x ⊙ act'(mask), filter): ours when the shape fits, else tfjs's Step/Mul (or the relu6
  // mask below) and its Conv2D, which is what ops/conv.ts would have run.
  tf.registerKernel({
    kernelName: MASKED_CONV2D,
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const { x, mask, filter } = args.inputs as Record<string, tf.TensorInfo>;
      const { pad, activation } = args.attrs as unknown as { pad: tf.backend_util.ExplicitPadding; activation: 'relu' | 'relu6' };
      const backend = args.backend as unknown as TfjsWebgpuBackend;
      const attrs: ConvAttrs = { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 };
      const ours = tryConv(backend, x, filter, attrs, { activation: 'linear', mask, maskKind: activation });
      if (ours) return ours;
      return maskedConvWithTfjs(backend, x, mask, filter, attrs, activation);
    },
  });
}

/** The masked convolution from tfjs's own kernels (for shapes ours do not take). */
function maskedConvWithTfjs(backend: TfjsWebgpuBackend, x: tf.TensorInfo, mask: tf.TensorInfo, filter: tf.TensorInfo, attrs: ConvAttrs, activation: 'relu' | 'relu6'): tf.TensorInfo {
  const k = (name: string) => {
    const c = name === tf.Conv2D ? originals.get(name) ?? tf.getKernel(name, 'webgpu') : tf.getKernel(name, 'webgpu');
    if (!c) throw new Error(`tfjs-backend-webgpu has no ${name} kernel`);
    return (inputs: tf.NamedTensorInfoMap, a: tf.NamedAttrMap = {}) => c.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs: a }) as tf.TensorInfo;
  };
  const temps: tf.TensorInfo[] = [];
  const keep = <T extends tf.TensorInfo>(t: T) => (temps.push(t), t);
  try {
    let gate: tf.TensorInfo;
    if (activation === 'relu') {
      gate = keep(k(tf.Step)({ x: mask }, { alpha: 0 }));
    } else {
      // relu6' = 1 where 0 < y < 6, i.e. where y·(6 − y) > 0 (as ops/conv.ts computes it)
      const six = keep(backend.makeTensorInfo([], 'float32', new Float32Array([6])));
      const d = keep(k(tf.Sub)({ a: six, b: mask }));
      const prod = keep(k(tf.Multiply)({ a: mask, b: d }));
      gate = keep(k(tf.Step)({ x: prod }, { alpha: 0 }));
    }
    const g = keep(k(tf.Multiply)({ a: x, b: gate }));
    return k(tf.Conv2D)({ x: g, filter }, attrs as unknown as tf.NamedAttrMap);
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

function installMatmul(): void {
  override(tf.BatchMatMul, (original) => (args) => {
    const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as TfjsWebgpuBackend;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback('not float32'), original.kernelFunc(args);
    // tf.matMul passes rank ≥ 2 operands; leading (batch) dimensions must all be 1 here.
    const batch = (t: tf.TensorInfo) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    if (a.shape.length < 2 || b.shape.length < 2 || batch(a) !== 1 || batch(b) !== 1) return fallback('batched matMul'), original.kernelFunc(args);
    const [ar, ac] = a.shape.slice(-2);
    const [br, bc] = b.shape.slice(-2);
    const [M, K] = transposeA ? [ac, ar] : [ar, ac];
    const N = transposeB ? br : bc;
    const p: GemmProblem = { M, N, K, a: { kind: 'dense', transposed: transposeA }, bTransposed: transposeB, bias: false, activation: 'linear', mask: 'none' };
    const plan = planFor(backend, p);
    if (!plan) return original.kernelFunc(args);
    // tfjs's kernel returns the broadcast leading dimensions (all 1 here) followed by [M, N].
    const lead = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return runPlan(backend, plan, { a, b }, [...lead, M, N]);
  });
}

let installedBackend: object | null = null;

/**
 * Applies `next` (merged over the current settings): (un)registers our kernels on `webgpu` and sets
 * tfjs's submit batching. With `conv` and `matmul` both false, tfjs's own kernels run unchanged.
 */
export function setWebgpuKernelSettings(next: Partial<WebgpuKernelSettings>): WebgpuKernelSettings {
  settings = { ...webgpuKernelSettings(), ...next };
  if (installedBackend) apply();
  return settings;
}

function apply(): void {
  const s = webgpuKernelSettings();
  if (s.conv && !originals.has(tf.FusedConv2D)) installConv();
  if (!s.conv && originals.has(tf.FusedConv2D)) {
    restore(tf.FusedConv2D);
    restore(tf.Conv2D);
    if (tf.getKernel(MASKED_CONV2D, 'webgpu')) tf.unregisterKernel(MASKED_CONV2D, 'webgpu');
  }
  if (s.matmul && !originals.has(tf.BatchMatMul)) installMatmul();
  if (!s.matmul && originals.has(tf.BatchMatMul)) restore(tf.BatchMatMul);
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', s.submitBatch === Infinity ? Number.MAX_SAFE_INTEGER : s.submitBatch);
}

/**
 * Installs our kernels for the tfjs webgpu backend instance `backend` (once it exists). Returns
 * why they stay off, or null.
 */
export function installWebgpuKernels(backend: object): string | null {
  const missing = missingInternals(backend);
  if (missing.length) {
    const reason = `tfjs-backend-webgpu lacks internals the engine's kernels use (${missing.join(', ')})`;
    log.warn('engine webgpu kernels off', { reason });
    return reason;
  }
  installedBackend = backend;
  apply();
  const s = webgpuKernelSettings();
  log.info('engine webgpu kernels', { conv: s.conv, matmul: s.matmul, f16: s.f16 && f16Support ? f16Support.mma : s.f16 ? 'unavailable' : false, submit: s.submitBatch === Infinity ? 'per read-back' : s.submitBatch });
  return null;
}
