/**
 * What one matrix product is, independent of how a kernel computes it: C[M, N] = A[M, K] · B[K, N]
 * (+ bias, activation), where A is either a dense matrix or the implicit im2col matrix of an NHWC
 * image (a convolution as a GEMM: M = output pixels, K = kh·kw·Cin, N = Cout, and B is the HWIO
 * kernel read as [kh·kw·Cin, Cout] — exactly its memory layout).
 *
 * Shared by the fp32 kernel (gemm-wgsl.ts), the f16 subgroup-matrix kernel (gemm-f16-wgsl.ts) and
 * the runner that plans and encodes them (gemm.ts). Pure data and arithmetic: no WebGPU, no tfjs.
 */

export type Activation = 'linear' | 'relu' | 'relu6';

/** How A is stored. */
export type ASource =
  /** Row-major [M, K] (`transposed`: stored [K, M], i.e. a transposed operand as in matMul(aᵀ, b)). */
  | { kind: 'dense'; transposed: boolean }
  /**
   * The im2col matrix of an NHWC image [batch, H, W, C] for a kh×kw convolution: row m = output pixel
   * (b, oy, ox), column k = (ky, kx, c); taps outside the image are the zero padding.
   */
  | { kind: 'conv'; batch: number; H: number; W: number; C: number; KH: number; KW: number; OH: number; OW: number; strideH: number; strideW: number; padTop: number; padLeft: number };

export interface GemmProblem {
  M: number;
  N: number;
  K: number;
  a: ASource;
  /** B stored [N, K] instead of [K, N]. */
  bTransposed: boolean;
  bias: boolean;
  activation: Activation;
  /**
   * A is multiplied elementwise by act'(mask), with `mask` laid out like A's storage: the ReLU
   * gradient mask folded into a backward convolution (dx = conv(dy ⊙ relu'(y), flipped W)).
   */
  mask: 'none' | 'relu' | 'relu6';
}

/** Why a problem cannot run on the vec4 kernels (null when it can). */
export function vec4Unsupported(p: GemmProblem): string | null {
  if (p.M < 1 || p.N < 1 || p.K < 1) return 'empty product';
  if (p.N % 4 !== 0) return `N = ${p.N} is not a multiple of 4 (vec4 stores)`;
  if (p.bTransposed && p.K % 4 !== 0) return `K = ${p.K} is not a multiple of 4 (B is [N, K], read as vec4 along K)`;
  if (p.a.kind === 'conv' && p.a.C % 4 !== 0) return `Cin = ${p.a.C} is not a multiple of 4 (vec4 loads along channels)`;
  if (p.a.kind === 'dense' && !p.a.transposed && p.K % 4 !== 0) return `K = ${p.K} is not a multiple of 4 (A is [M, K], read as vec4 along K)`;
  if (p.a.kind === 'dense' && p.a.transposed && p.M % 4 !== 0) return `M = ${p.M} is not a multiple of 4 (A is [K, M], read as vec4 along M)`;
  if (p.mask !== 'none' && p.a.kind !== 'conv') return 'the activation mask is only folded into convolutions';
  // Indices are u32 in the shaders; storage bindings are far below this anyway.
  if (p.M * p.K > 2 ** 31 || p.M * p.N > 2 ** 31) return 'too large for 32-bit indices';
  return null;
}

/** Multiply-adds ×2 of the product (what TFLOP/s figures count). */
export function gemmFlops(p: Pick<GemmProblem, 'M' | 'N' | 'K'>): number {
  return 2 * p.M * p.N * p.K;
}

/** A short stable string naming everything a shader depends on. */
export function problemKey(p: GemmProblem): string {
  const a = p.a.kind === 'dense' ? `d${p.a.transposed ? 't' : ''}` : `c${[p.a.batch, p.a.H, p.a.W, p.a.C, p.a.KH, p.a.KW, p.a.OH, p.a.OW, p.a.strideH, p.a.strideW, p.a.padTop, p.a.padLeft].join('.')}`;
  return `${p.M}x${p.N}x${p.K}:${a}:${p.bTransposed ? 'bt' : 'b'}:${p.bias ? 'bias' : ''}:${p.activation}:${p.mask}`;
}

/** WGSL expression applying `act` to the vec4 or scalar expression `v`. */
export function activationWgsl(act: Activation, v: string, vec: boolean): string {
  const zero = vec ? 'vec4<f32>(0.0)' : '0.0';
  const six = vec ? 'vec4<f32>(6.0)' : '6.0';
  if (act === 'relu') return `max(${v}, ${zero})`;
  if (act === 'relu6') return `clamp(${v}, ${zero}, ${six})`;
  return v;
}

/**
 * WGSL function `loadA(m, k) -> vec4<f32>`: A[m, k..k+3] (dense row-major or implicit im2col;
 * zero outside the matrix and in the padding), masked by act'(mask) when the problem has a mask.
 * Needs bindings named `A` (and `MASK`) as `array<vec4<f32>>`. For `dense` transposed A use
 * {@link loadATransposedWgsl} instead.
 */
export function loadAWgsl(p: GemmProblem): string {
  const maskExpr = (idx: string) => {
    if (p.mask === 'none') return '';
    const m = `MASK[${idx}]`;
    const keep = p.mask === 'relu' ? `${m} > vec4<f32>(0.0)` : `(${m} > vec4<f32>(0.0)) & (${m} < vec4<f32>(6.0))`;
    return `  v = select(vec4<f32>(0.0), v, ${keep});\n`;
  };
  if (p.a.kind === 'dense') {
    if (p.a.transposed) throw new Error('loadAWgsl: use loadATransposedWgsl for a transposed A');
    return `fn loadA(m: u32, k: u32) -> vec4<f32> {
  if (m >= ${p.M}u || k >= ${p.K}u) { return vec4<f32>(0.0); }
  return A[(m * ${p.K}u + k) / 4u];
}`;
  }
  const c = p.a;
  return `fn loadA(m: u32, k: u32) -> vec4<f32> {
  if (m >= ${p.M}u || k >= ${p.K}u) { return vec4<f32>(0.0); }
  let ci = k % ${c.C}u;
  let tap = k / ${c.C}u;
  let kx = tap % ${c.KW}u;
  let ky = tap / ${c.KW}u;
  let ox = m % ${c.OW}u;
  let rest = m / ${c.OW}u;
  let oy = rest % ${c.OH}u;
  let b = rest / ${c.OH}u;
  let iy = i32(oy * ${c.strideH}u + ky) - ${c.padTop};
  let ix = i32(ox * ${c.strideW}u + kx) - ${c.padLeft};
  if (iy < 0 || iy >= ${c.H} || ix < 0 || ix >= ${c.W}) { return vec4<f32>(0.0); }
  let idx = (((b * ${c.H}u + u32(iy)) * ${c.W}u + u32(ix)) * ${c.C}u + ci) / 4u;
  var v = A[idx];
${maskExpr('idx')}  return v;
}`;
}

/** WGSL `loadAT(k, m) -> vec4<f32>`: A[m..m+3, k] of an A stored transposed ([K, M]). */
export function loadATransposedWgsl(p: GemmProblem): string {
  return `fn loadAT(k: u32, m: u32) -> vec4<f32> {
  if (m >= ${p.M}u || k >= ${p.K}u) { return vec4<f32>(0.0); }
  return A[(k * ${p.M}u + m) / 4u];
}`;
}

/**
 * WGSL `loadB(k, n) -> vec4<f32>`: B[k, n..n+3] (B stored [K, N]) or, for a transposed B,
 * `loadBT(n, k)`: B[k..k+3, n] (B stored [N, K]). Zero outside.
 */
export function loadBWgsl(p: GemmProblem): string {
  if (p.bTransposed) {
    return `fn loadBT(n: u32, k: u32) -> vec4<f32> {
  if (n >= ${p.N}u || k >= ${p.K}u) { return vec4<f32>(0.0); }
  return B[(n * ${p.K}u + k) / 4u];
}`;
  }
  return `fn loadB(k: u32, n: u32) -> vec4<f32> {
  if (k >= ${p.K}u || n >= ${p.N}u) { return vec4<f32>(0.0); }
  return B[(k * ${p.N}u + n) / 4u];
}`;
}

/**
 * The split-K reduction: out[i] = act(Σ_s partial[s][i] · scale + bias), one invocation per vec4 of
 * C. `scaleExpr` (WGSL, f32) is 1 for fp32 partials and the inverse input scaling for f16 ones.
 */
export function splitKReduceWgsl(p: GemmProblem, splits: number, preamble = '', scaleExpr = '1.0'): string {
  const n4 = p.N / 4;
  const total = (p.M * p.N) / 4;
  return `${preamble}
@group(0) @binding(0) var<storage, read> P : array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> C : array<vec4<f32>>;
${p.bias ? '@group(0) @binding(2) var<storage, read> BIAS : array<vec4<f32>>;' : ''}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= ${total}u) { return; }
  var s = vec4<f32>(0.0);
  for (var j = 0u; j < ${splits}u; j++) { s += P[j * ${total}u + i]; }
  var v = s * (${scaleExpr});
  ${p.bias ? `v += BIAS[i % ${n4}u];` : ''}
  C[i] = ${activationWgsl(p.activation, 'v', true)};
}`;
}
