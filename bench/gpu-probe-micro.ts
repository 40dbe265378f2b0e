/**
 * The measurement pieces of bench/gpu-probe.ts below the engine: what the adapter offers with and
 * without Dawn toggles, square matmuls on plain WebGPU (our fp32 kernel, our f16 kernel, a bare
 * f16 subgroup-matrix kernel as the tensor cores' ceiling through WebGPU), and the engine's
 * per-layer kernels (VGG19's convolutions forward and masked-backward, its Gram matrices)
 * against tfjs-backend-webgpu's, each with its error against tfjs.
 *
 * Timings: wall clock around `reps` dispatches in one command buffer, after a warm-up; the GPU
 * work is milliseconds, so the submit's own microseconds do not matter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createGpu, describeAdapter, requestEngineDevice, type AdapterDescription, type EngineDevice } from '../server/engine/platform/webgpu/device.ts';
import { GemmKernels, type F16Support, type GemmPlan } from '../server/engine/platform/webgpu/gemm.ts';
import { gemmFlops, type GemmProblem } from '../server/engine/platform/webgpu/gemm-problem.ts';
import { subgroupMatrixSupport } from '../server/engine/platform/webgpu/register.ts';
import { kernelStats, setWebgpuKernelSettings } from '../server/engine/platform/webgpu/tfjs-kernels.ts';
import { gramMatrix } from '../server/engine/losses.ts';
import { MASKED_CONV2D } from '../server/engine/ops/conv.ts';

export interface AdapterReport {
  toggles: string[];
  adapter: AdapterDescription | null;
  error?: string;
}

/** The adapter as each toggle set shows it. */
export async function adapterReports(toggleSets: string[][]): Promise<AdapterReport[]> {
  const out: AdapterReport[] = [];
  for (const toggles of toggleSets) {
    try {
      const gpu = await createGpu(toggles);
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      out.push({ toggles, adapter: adapter ? describeAdapter(adapter) : null });
    } catch (err) {
      out.push({ toggles, adapter: null, error: (err as Error).message });
    }
  }
  return out;
}

export interface MatmulResult {
  kernel: string;
  n: number;
  ms: number | null;
  tflops: number | null;
  /** max |err| ÷ max |reference| against float64 (sampled entries) or the fp32 kernel. */
  relError: number | null;
  reference?: string;
  plan?: string;
  error?: string;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Median-free simple timing: one warm-up submission, then `reps` dispatches in one submission. */
async function timeEncoded(device: GPUDevice, reps: number, encode: (pass: GPUComputePassEncoder) => void): Promise<number> {
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < n; i++) encode(pass);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run(1);
  return (await run(reps)) / reps;
}

/** A bare f16 subgroup-matrix matmul: f16 A, B in storage, fragments loaded straight from it. */
function bareSubgroupMatrixWgsl(n: number, s: { M: number; N: number; K: number }, sg: number): string {
  const FM = 2;
  const FN = 4;
  const frags = [...Array(FM).keys()].flatMap((i) => [...Array(FN).keys()].map((j) => [i, j] as const));
  return `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> A : array<f16>;
@group(0) @binding(1) var<storage, read> B : array<f16>;
@group(0) @binding(2) var<storage, read_write> C : array<f32>;
@compute @workgroup_size(${sg})
fn main(@builtin(workgroup_id) wg: vec3<u32>) {
  let m0 = wg.y * ${FM * s.M}u;
  let n0 = wg.x * ${FN * s.N}u;
${frags.map(([i, j]) => `  var c${i}${j} = subgroup_matrix_result<f32, ${s.N}, ${s.M}>();`).join('\n')}
  for (var k = 0u; k < ${n}u; k += ${s.K}u) {
${[...Array(FM).keys()].map((i) => `    let a${i} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${s.K}, ${s.M}>>(&A, (m0 + ${i * s.M}u) * ${n}u + k, false, ${n}u);`).join('\n')}
${[...Array(FN).keys()].map((j) => `    let b${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${s.N}, ${s.K}>>(&B, k * ${n}u + n0 + ${j * s.N}u, false, ${n}u);`).join('\n')}
${frags.map(([i, j]) => `    c${i}${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}${j});`).join('\n')}
  }
${frags.map(([i, j]) => `  subgroupMatrixStore(&C, (m0 + ${i * s.M}u) * ${n}u + n0 + ${j * s.N}u, c${i}${j}, false, ${n}u);`).join('\n')}
}`;
}

/** f32 → IEEE half bits (round to nearest even; inputs here are small). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  const round = mant & 0x1fff;
  mant >>>= 13;
  if (round > 0x1000 || (round === 0x1000 && mant & 1)) mant++;
  return sign | ((exp << 10) + mant);
}

/**
 * n×n×n matmuls on the engine's device: our fp32 kernel (checked against float64 on sampled
 * entries), our f16 kernel (against the fp32 result) and the bare subgroup-matrix kernel.
 */
export async function squareMatmuls(d: EngineDevice, n: number, reps: number): Promise<MatmulResult[]> {
  const device = d.device;
  const f16 = subgroupMatrixSupport(d);
  const kernels = new GemmKernels(device, {
    maxWorkgroupStorage: device.limits.maxComputeWorkgroupStorageSize,
    maxInvocations: device.limits.maxComputeInvocationsPerWorkgroup,
    f16: typeof f16 === 'string' ? undefined : f16,
  });
  const rand = seeded(7);
  const a = Float32Array.from({ length: n * n }, () => rand() * 2 - 1);
  const b = Float32Array.from({ length: n * n }, () => rand() * 2 - 1);
  const buf = (data: Float32Array | Uint16Array) => {
    const g = device.createBuffer({ size: data.byteLength, usage: STORAGE() });
    device.queue.writeBuffer(g, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    return g;
  };
  const A = buf(a);
  const B = buf(b);
  const C32 = device.createBuffer({ size: n * n * 4, usage: STORAGE() });
  const C16 = device.createBuffer({ size: n * n * 4, usage: STORAGE() });
  const scratch: GPUBuffer[] = [];
  const alloc = (bytes: number) => {
    const s = device.createBuffer({ size: bytes, usage: STORAGE() });
    scratch.push(s);
    return s;
  };
  const p: GemmProblem = { M: n, N: n, K: n, a: { kind: 'dense', transposed: false }, bTransposed: false, bias: false, activation: 'linear', mask: 'none' };
  const flops = gemmFlops(p);
  const results: MatmulResult[] = [];
  const measure = async (kernel: string, plan: GemmPlan, out: GPUBuffer): Promise<MatmulResult> => {
    try {
      await kernels.prepare(plan);
      const ms = await timeEncoded(device, reps, (pass) => kernels.encode(pass, plan, { a: A, b: B, c: out }, alloc));
      return { kernel, n, ms, tflops: flops / ms / 1e9, relError: null, plan: plan.describe };
    } catch (err) {
      return { kernel, n, ms: null, tflops: null, relError: null, plan: plan.describe, error: (err as Error).message };
    }
  };
  const fp32 = await measure('ours fp32 (WGSL, tiled, vec4)', kernels.plan(p, 'fp32'), C32);
  const c32 = new Float32Array(await readBuffer(device, C32, n * n * 4));
  {
    // float64 reference on 256 sampled entries
    let err = 0;
    let scale = 0;
    for (let s = 0; s < 256; s++) {
      const i = Math.floor(rand() * n);
      const j = Math.floor(rand() * n);
      let ref = 0;
      for (let k = 0; k < n; k++) ref += a[i * n + k] * b[k * n + j];
      err = Math.max(err, Math.abs(c32[i * n + j] - ref));
      scale = Math.max(scale, Math.abs(ref));
    }
    fp32.relError = err / scale;
    fp32.reference = 'float64, 256 sampled entries';
  }
  results.push(fp32);
  if (typeof f16 === 'string') {
    results.push({ kernel: 'ours f16 (subgroup matrices)', n, ms: null, tflops: null, relError: null, error: `not available: ${f16}` });
  } else {
    const r = await measure(`ours f16 (subgroup matrices ${f16.shape.M}x${f16.shape.N}x${f16.shape.K}, f32 in/out, incl. abs-max pass)`, kernels.plan(p, 'f16'), C16);
    if (r.ms != null) {
      r.relError = relErr(new Float32Array(await readBuffer(device, C16, n * n * 4)), c32);
      r.reference = 'ours fp32';
    }
    results.push(r);
    results.push(await bareMatmul(device, f16, n, reps, a, b, c32));
  }
  for (const g of [A, B, C32, C16, ...scratch]) g.destroy();
  return results;
}

function relErr(x: Float32Array, ref: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(x[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / scale;
}

async function bareMatmul(device: GPUDevice, f16: F16Support, n: number, reps: number, a: Float32Array, b: Float32Array, c32: Float32Array): Promise<MatmulResult> {
  const kernel = `bare f16 subgroup-matrix matmul (f16 operands in memory, ${f16.shape.M}x${f16.shape.N}x${f16.shape.K})`;
  try {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: bareSubgroupMatrixWgsl(n, f16.shape, f16.subgroupSize) });
    const pipe = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const err = await device.popErrorScope();
    if (err) throw new Error(err.message);
    const half = (x: Float32Array) => Uint16Array.from(x, toHalf);
    const mk = (data: Uint16Array) => {
      const g = device.createBuffer({ size: data.byteLength, usage: STORAGE() });
      device.queue.writeBuffer(g, 0, data.buffer as ArrayBuffer, 0, data.byteLength);
      return g;
    };
    const A = mk(half(a));
    const B = mk(half(b));
    const C = device.createBuffer({ size: n * n * 4, usage: STORAGE() });
    const bind = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [A, B, C].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const ms = await timeEncoded(device, reps, (pass) => {
      pass.setPipeline(pipe);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(n / (4 * f16.shape.N), n / (2 * f16.shape.M));
    });
    const relError = relErr(new Float32Array(await readBuffer(device, C, n * n * 4)), c32);
    for (const g of [A, B, C]) g.destroy();
    return { kernel, n, ms, tflops: gemmFlops({ M: n, N: n, K: n }) / ms / 1e9, relError, reference: 'ours fp32' };
  } catch (err) {
    return { kernel, n, ms: null, tflops: null, relError: null, error: (err as Error).message };
  }
}

/** The same square matmul on a device with extra Dawn toggles (e.g. without robustness checks). */
export async function matmulWithToggles(toggles: string[], n: number, reps: number): Promise<MatmulResult> {
  try {
    const d = await requestEngineDevice(await createGpu(toggles));
    if (!d) throw new Error('no adapter');
    const [fp32] = await squareMatmuls({ ...d, features: d.features.filter((f) => f !== 'chromium-experimental-subgroup-matrix') }, n, reps);
    d.device.destroy();
    return { ...fp32, kernel: `${fp32.kernel} with ${toggles.join(',')}` };
  } catch (err) {
    return { kernel: `ours fp32 with ${toggles.join(',')}`, n, ms: null, tflops: null, relError: null, error: (err as Error).message };
  }
}

export interface LayerResult {
  op: string;
  shape: string;
  gflop: number;
  ms: Record<string, number | null>;
  /** max |err| ÷ max |tfjs| per variant. */
  relError: Record<string, number | null>;
  plan: Record<string, string>;
}

type Variant = 'tfjs' | 'fp32' | 'f16';

/** ms per call of `f` (reps calls, one read-back at the end) under the variant's kernel settings. */
async function timeTf(variant: Variant, f: () => tf.Tensor, reps: number): Promise<{ ms: number; value: tf.Tensor; plan: string }> {
  setWebgpuKernelSettings(variant === 'tfjs' ? { conv: false, matmul: false, f16: false } : { conv: true, matmul: true, f16: variant === 'f16' });
  const warm = f();
  await warm.data();
  warm.dispose();
  kernelStats.reset();
  const outs: tf.Tensor[] = [];
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) outs.push(f());
  await outs[outs.length - 1].data();
  const ms = (performance.now() - t0) / reps;
  const value = outs.pop()!;
  tf.dispose(outs);
  return { ms, value, plan: variant === 'tfjs' ? 'tfjs-backend-webgpu' : kernelStats.lastPlan };
}

/**
 * VGG19's distinct convolutions at `size` px (forward with bias + ReLU, and the masked backward
 * with the flipped kernel) and its style-layer Gram matrices, under tfjs's kernels and ours.
 */
export async function vggLayers(size: number, variants: Variant[], reps: number, deadline: number): Promise<LayerResult[]> {
  // [input px, Cin, Cout] of each distinct 3×3 convolution of VGG19 up to conv5_1
  const convs: [number, number, number][] = [
    [size, 64, 64],
    [size / 2, 64, 128],
    [size / 2, 128, 128],
    [size / 4, 128, 256],
    [size / 4, 256, 256],
    [size / 8, 256, 512],
    [size / 8, 512, 512],
    [size / 16, 512, 512],
  ];
  const grams: [number, number][] = [
    [size, 64],
    [size / 2, 128],
    [size / 4, 256],
    [size / 8, 512],
    [size / 16, 512],
  ];
  const rows: LayerResult[] = [];
  const run = async (op: string, shape: string, gflop: number, f: () => tf.Tensor) => {
    const row: LayerResult = { op, shape, gflop, ms: {}, relError: {}, plan: {} };
    let reference: tf.Tensor | null = null;
    for (const v of variants) {
      if (performance.now() > deadline) {
        row.ms[v] = null;
        continue;
      }
      try {
        const r = await timeTf(v, f, reps);
        row.ms[v] = r.ms;
        row.plan[v] = r.plan;
        if (v === 'tfjs') reference = r.value;
        else {
          row.relError[v] = reference ? relErr((await r.value.data()) as Float32Array, (await reference.data()) as Float32Array) : null;
          r.value.dispose();
        }
      } catch (err) {
        row.ms[v] = null;
        row.plan[v] = `error: ${(err as Error).message}`;
      }
    }
    tf.dispose(reference ?? []);
    rows.push(row);
  };
  for (const [px, cin, cout] of convs) {
    const x = tf.randomNormal([1, px, px, cin], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, cin, cout], 0, Math.sqrt(2 / (9 * cin)), 'float32', 2) as tf.Tensor4D;
    const bias = tf.randomNormal([cout], 0, 0.1, 'float32', 3) as tf.Tensor1D;
    const y = tf.relu(tf.conv2d(x, w, 1, 'same'));
    const dy = tf.randomNormal([1, px, px, cout], 0, 1, 'float32', 4) as tf.Tensor4D;
    const wb = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const gflop = (2 * px * px * 9 * cin * cout) / 1e9;
    const pad: tf.backend_util.ExplicitPadding = [[0, 0], [1, 1], [1, 1], [0, 0]];
    await run('conv 3x3 + bias + ReLU', `${px}² ${cin}→${cout}`, gflop, () => tf.fused.conv2d({ x, filter: w, bias, strides: 1, pad: 'same', activation: 'relu' }));
    await run('conv input gradient, ReLU mask', `${px}² ${cout}→${cin}`, gflop, () =>
      tf.getKernel(MASKED_CONV2D, 'webgpu')
        ? (tf.engine().runKernel(MASKED_CONV2D, { x: dy, mask: y, filter: wb }, { pad, activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor)
        : tf.tidy(() => tf.conv2d(tf.mul(dy, tf.step(y)), wb, 1, pad)),
    );
    tf.dispose([x, w, bias, y, dy, wb]);
  }
  for (const [px, c] of grams) {
    const f = tf.randomNormal([1, px, px, c], 0, 1, 'float32', 5) as tf.Tensor4D;
    await run('Gram FᵀF/n', `${px}² × ${c}`, (2 * px * px * c * c) / 1e9, () => gramMatrix(f));
    f.dispose();
  }
  setWebgpuKernelSettings({ conv: true, matmul: true, f16: false });
  return rows;
}
