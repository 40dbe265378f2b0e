/**
 * The fp32 GEMM / implicit-GEMM convolution kernel in WGSL, generated per problem shape.
 *
 * Why our own: tfjs-backend-webgpu 4.22's Conv2DMM computes a 32×32 output tile per workgroup
 * (8×8 threads, 4×4 outputs each): ~2 multiply-adds per shared-memory load, and its matMuls get
 * only 16–64 workgroups for a Gram matrix (C×C outputs, K = H·W). Measured on an H100: a VGG19
 * Gatys step at 512 px ran at ~9% of the card's fp32 peak (../shared/gpu/README.md).
 *
 * This kernel: a BM×BN output tile per workgroup (up to 128×128), TM×TN outputs per invocation
 * (up to 8×8: per K step an invocation reads 16 floats from workgroup memory, as 4 vec4s, for 64
 * FMAs — 4 per float read where tfjs's 4×4 layout gets 2), vec4 global loads,
 * A and B tiles double-buffered in workgroup memory (the next K slice is fetched into registers
 * while the current one is multiplied, one barrier per slice), the convolution's im2col done on
 * the fly in the A loads (zero padding by bounds), bias + activation fused into the store, the ReLU
 * gradient mask folded into the A loads of a backward convolution, and split-K (each workgroup
 * of z-slice s sums K range s, a second pass adds the slices) for products with few output tiles
 * and a long K such as Gram matrices.
 *
 * Thread layout (the classic SGEMM arrangement): invocation (tx, ty) owns rows
 * r·BM/RM + 4·ty + i (RM = TM/4 chunks of 4) and columns c·BN/RN + 4·tx + j, so its shared-memory
 * reads are vec4s at distinct addresses across the workgroup.
 *
 * All shapes are baked into the source as constants (one pipeline per layer shape: a VGG19 step
 * has ~20), so index arithmetic is strength-reduced by the compiler and there is no uniform
 * buffer per dispatch.
 */
import { activationWgsl, loadAWgsl, loadATransposedWgsl, loadBWgsl, type GemmProblem } from './gemm-problem.ts';

/** Tile shape of the fp32 kernel. */
export interface Fp32Tile {
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
}

/** The configurations the planner chooses from (largest first). */
export const FP32_TILES: readonly Fp32Tile[] = [
  { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
  { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4 },
  { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
  { BM: 32, BN: 32, BK: 16, TM: 4, TN: 4 },
];

export function tileThreads(t: Fp32Tile): number {
  return (t.BM / t.TM) * (t.BN / t.TN);
}

/** Workgroup memory of a tile (A and B, double-buffered, f32). */
export function tileSharedBytes(t: Fp32Tile): number {
  return 2 * t.BK * (t.BM + t.BN) * 4;
}

export function validateTile(t: Fp32Tile): void {
  const ok =
    t.TM % 4 === 0 && t.TN % 4 === 0 && t.BM % t.TM === 0 && t.BN % t.TN === 0 && t.BK % 4 === 0 &&
    // each row chunk must be a whole number of vec4s
    (t.BM / (t.TM / 4)) % 4 === 0 && (t.BN / (t.TN / 4)) % 4 === 0;
  if (!ok) throw new Error(`invalid fp32 tile ${JSON.stringify(t)}`);
}

export interface Fp32KernelOptions {
  tile: Fp32Tile;
  /** K-slices (1 = no split); with > 1 the kernel writes raw partial sums [splits, M, N]. */
  splits: number;
  /** K per slice (a multiple of BK), ≥ K / splits. */
  kChunk: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Bindings: 0 A, 1 B, 2 C (or the partials), 3 BIAS (if any, and not split), 4 MASK (if any).
 * Dispatch: (ceil(N/BN), ceil(M/BM), splits).
 */
export function fp32GemmWgsl(p: GemmProblem, o: Fp32KernelOptions): string {
  const { BM, BN, BK, TM, TN } = o.tile;
  validateTile(o.tile);
  const RM = TM / 4;
  const RN = TN / 4;
  const threadsN = BN / TN;
  const WG = tileThreads(o.tile);
  const BM4 = BM / 4;
  const BN4 = BN / 4;
  const rowChunk = BM / RM; // rows between an invocation's row chunks
  const colChunk4 = BN / RN / 4; // vec4 columns between its column chunks
  const split = o.splits > 1;
  const aT = p.a.kind === 'dense' && p.a.transposed;
  // Per-invocation loads of one K slice (vec4 each).
  const aVecs = BM * (BK / 4); // same count whichever way A is read
  const bVecs = BK * BN4;
  const LA = Math.ceil(aVecs / WG);
  const LB = Math.ceil(bVecs / WG);

  const loadTile = [
    ...range(LA).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const guard = (l + 1) * WG > aVecs ? `if (${i} < ${aVecs}u) ` : '';
      return aT
        ? `    ${guard}{ ra${l} = loadAT(k0 + ${i} / ${BM4}u, m0 + (${i} % ${BM4}u) * 4u); }`
        : `    ${guard}{ ra${l} = loadA(m0 + ${i} / ${BK / 4}u, k0 + (${i} % ${BK / 4}u) * 4u); }`;
    }),
    ...range(LB).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const guard = (l + 1) * WG > bVecs ? `if (${i} < ${bVecs}u) ` : '';
      return p.bTransposed
        ? `    ${guard}{ rb${l} = loadBT(n0 + ${i} / ${BK / 4}u, k0 + (${i} % ${BK / 4}u) * 4u); }`
        : `    ${guard}{ rb${l} = loadB(k0 + ${i} / ${BN4}u, n0 + (${i} % ${BN4}u) * 4u); }`;
    }),
  ].join('\n');

  // Registers → shared buffer `buf` (As[buf][k][m4], Bs[buf][k][n4]).
  const storeTile = [
    ...range(LA).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const guard = (l + 1) * WG > aVecs ? `if (${i} < ${aVecs}u) ` : '';
      if (aT) return `    ${guard}{ As[(buf * ${BK}u + ${i} / ${BM4}u) * ${BM4}u + ${i} % ${BM4}u] = ra${l}; }`;
      // A read along k: scatter the 4 k values of row m into 4 rows of the k-major tile.
      return `    ${guard}{
      let m = ${i} / ${BK / 4}u; let kq = (${i} % ${BK / 4}u) * 4u;
      let base = (buf * ${BK}u + kq) * ${BM4}u + m / 4u; let j = m % 4u;
      As[base][j] = ra${l}.x; As[base + ${BM4}u][j] = ra${l}.y; As[base + ${2 * BM4}u][j] = ra${l}.z; As[base + ${3 * BM4}u][j] = ra${l}.w;
    }`;
    }),
    ...range(LB).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const guard = (l + 1) * WG > bVecs ? `if (${i} < ${bVecs}u) ` : '';
      if (!p.bTransposed) return `    ${guard}{ Bs[(buf * ${BK}u + ${i} / ${BN4}u) * ${BN4}u + ${i} % ${BN4}u] = rb${l}; }`;
      return `    ${guard}{
      let n = ${i} / ${BK / 4}u; let kq = (${i} % ${BK / 4}u) * 4u;
      let base = (buf * ${BK}u + kq) * ${BN4}u + n / 4u; let j = n % 4u;
      Bs[base][j] = rb${l}.x; Bs[base + ${BN4}u][j] = rb${l}.y; Bs[base + ${2 * BN4}u][j] = rb${l}.z; Bs[base + ${3 * BN4}u][j] = rb${l}.w;
    }`;
    }),
  ].join('\n');

  const acc = (r: number, i: number, c: number) => `acc_${r}_${i}_${c}`;
  const accDecl = range(RM).flatMap((r) => range(4).flatMap((i) => range(RN).map((c) => `  var ${acc(r, i, c)} = vec4<f32>(0.0);`))).join('\n');
  const fma = range(RM)
    .flatMap((r) => range(4).flatMap((i) => range(RN).map((c) => `      ${acc(r, i, c)} = fma(vec4<f32>(a${r}[${i}]), b${c}, ${acc(r, i, c)});`)))
    .join('\n');
  const aRead = range(RM).map((r) => `      let a${r} = As[kb * ${BM4}u + ${(r * rowChunk) / 4}u + ty];`).join('\n');
  const bRead = range(RN).map((c) => `      let b${c} = Bs[kb * ${BN4}u + ${c * colChunk4}u + tx];`).join('\n');

  const store = range(RM)
    .flatMap((r) =>
      range(4).flatMap((i) =>
        range(RN).map((c) => {
          const m = `m0 + ${r * rowChunk + i}u + ty * 4u`;
          const n4 = `n0 / 4u + ${c * colChunk4}u + tx`;
          if (split) return `  { let m = ${m}; let n4 = ${n4}; if (m < ${p.M}u && n4 < ${p.N / 4}u) { C[wg.z * ${(p.M * p.N) / 4}u + m * ${p.N / 4}u + n4] = ${acc(r, i, c)}; } }`;
          const v = p.bias ? `${acc(r, i, c)} + BIAS[n4]` : acc(r, i, c);
          return `  { let m = ${m}; let n4 = ${n4}; if (m < ${p.M}u && n4 < ${p.N / 4}u) { C[m * ${p.N / 4}u + n4] = ${activationWgsl(p.activation, v, true)}; } }`;
        }),
      ),
    )
    .join('\n');

  return `// fp32 ${split ? `split-K(${o.splits}) ` : ''}GEMM ${p.M}x${p.N}x${p.K} (${p.a.kind === 'conv' ? `conv ${p.a.KH}x${p.a.KW}` : 'dense'}), tile ${BM}x${BN}x${BK}, ${TM}x${TN} per invocation
@group(0) @binding(0) var<storage, read> A : array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B : array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C : array<vec4<f32>>;
${p.bias && !split ? '@group(0) @binding(3) var<storage, read> BIAS : array<vec4<f32>>;' : ''}
${p.mask !== 'none' ? '@group(0) @binding(4) var<storage, read> MASK : array<vec4<f32>>;' : ''}

var<workgroup> As : array<vec4<f32>, ${2 * BK * BM4}>;
var<workgroup> Bs : array<vec4<f32>, ${2 * BK * BN4}>;

${aT ? loadATransposedWgsl(p) : loadAWgsl(p)}
${loadBWgsl(p)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let tx = tid % ${threadsN}u;
  let ty = tid / ${threadsN}u;
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  let kBegin = wg.z * ${o.kChunk}u;
  let kEnd = min(${p.K}u, kBegin + ${o.kChunk}u);
  let slices = select(0u, (kEnd - kBegin + ${BK - 1}u) / ${BK}u, kEnd > kBegin);
${range(LA).map((l) => `  var ra${l} = vec4<f32>(0.0);`).join('\n')}
${range(LB).map((l) => `  var rb${l} = vec4<f32>(0.0);`).join('\n')}
${accDecl}
  if (slices > 0u) {
    let k0 = kBegin;
    let buf = 0u;
${loadTile}
${storeTile}
  }
  workgroupBarrier();
  for (var s = 0u; s < slices; s++) {
    let cur = s % 2u;
    let more = s + 1u < slices;
    if (more) {
      let k0 = kBegin + (s + 1u) * ${BK}u;
${loadTile}
    }
    for (var kk = 0u; kk < ${BK}u; kk++) {
      let kb = cur * ${BK}u + kk;
${aRead}
${bRead}
${fma}
    }
    if (more) {
      let buf = 1u - cur;
${storeTile}
    }
    workgroupBarrier();
  }
${store}
}
`;
}
