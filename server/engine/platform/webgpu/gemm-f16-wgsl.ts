/**
 * The f16 tensor-core variant of the GEMM / implicit-GEMM convolution: inputs rounded to f16 in
 * workgroup memory, products accumulated in f32 by subgroup matrices (WGSL
 * `chromium_experimental_subgroup_matrix`: VK_KHR_cooperative_matrix, i.e. tensor cores on NVIDIA).
 * Tensors in and out stay f32 (the image, the losses and Adam never see f16).
 *
 * Range: VGG activations reach 1e3–1e4 and gradients can be far below f16's smallest normal
 * (6e-5), so each operand is scaled by a power of two that maps its largest magnitude to 2^14
 * (below f16's 65504 with room for rounding) and the result is multiplied back in f32. The maxima
 * come from a pre-pass ({@link absMaxWgsl}, 2×256 partial maxima) that the GEMM's prologue reduces,
 * so nothing is read back to the CPU. Powers of two make the scaling itself exact; what remains is
 * f16's 11-bit rounding of each input (relative 2^-11 ≈ 4.9e-4 per operand).
 *
 * `mma: 'emulated'` builds the same kernel (same tiles, f16 staging, scaling, epilogue) with the
 * subgroup-matrix calls replaced by plain f32 loops, so everything except those calls is tested
 * on adapters without subgroup matrices (Mesa's lavapipe in CI). With `'subgroup-matrix'` the
 * workgroup is split into subgroups of `subgroupSize` invocations by local index, which assumes a
 * fixed subgroup size (the planner requires subgroupMinSize = subgroupMaxSize; 32 on NVIDIA).
 */
import { activationWgsl, loadAWgsl, loadATransposedWgsl, loadBWgsl, type GemmProblem } from './gemm-problem.ts';

/** One subgroup-matrix shape the adapter offers (GPUSubgroupMatrixConfig with f16 in, f32 out). */
export interface MatrixShape {
  M: number;
  N: number;
  K: number;
}

export interface F16Tile {
  BM: number;
  BN: number;
  BK: number;
  /** Subgroups along M and N; each owns a (BM/SGM)×(BN/SGN) block of fragments. */
  SGM: number;
  SGN: number;
}

export const F16_TILES: readonly F16Tile[] = [
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 4 },
  { BM: 64, BN: 64, BK: 32, SGM: 2, SGN: 2 },
];

/** Partial maxima per operand written by {@link absMaxWgsl}. */
export const ABSMAX_PARTS = 256;

/** Row padding of the f16 tiles in workgroup memory (elements; 16 bytes). */
const PAD = 8;

export interface F16KernelOptions {
  tile: F16Tile;
  shape: MatrixShape;
  subgroupSize: number;
  mma: 'subgroup-matrix' | 'emulated';
  splits: number;
  kChunk: number;
}

export function f16Threads(t: F16Tile, subgroupSize: number): number {
  return t.SGM * t.SGN * subgroupSize;
}

export function f16SharedBytes(t: F16Tile, shape: MatrixShape, subgroupSize: number): number {
  const staging = Math.max(t.SGM * t.SGN * shape.M * shape.N, 2 * f16Threads(t, subgroupSize));
  return 2 * (2 * t.BM * (t.BK + PAD) + 2 * t.BK * (t.BN + PAD)) + 4 * staging;
}

/** Why this tile/shape pair cannot be built (null when it can). */
export function f16TileProblem(t: F16Tile, s: MatrixShape, subgroupSize: number): string | null {
  const WM = t.BM / t.SGM;
  const WN = t.BN / t.SGN;
  if (WM % s.M || WN % s.N || t.BK % s.K) return `tile ${t.BM}x${t.BN}x${t.BK} is not a multiple of the ${s.M}x${s.N}x${s.K} matrices`;
  if ((s.M * s.N) % (4 * subgroupSize)) return `a ${s.M}x${s.N} result is not a whole number of vec4s per invocation of a subgroup of ${subgroupSize}`;
  const wg = f16Threads(t, subgroupSize);
  if (wg & (wg - 1)) return `workgroup of ${wg} is not a power of two`;
  return null;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Max |x| of two f32 tensors (`nA`, `nB` vec4s) as {@link ABSMAX_PARTS} partial maxima each:
 * SCALE[0..256) for A, SCALE[256..512) for B. Dispatch (512).
 */
export function absMaxWgsl(nA: number, nB: number): string {
  return `@group(0) @binding(0) var<storage, read> X : array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> Y : array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> SCALE : array<f32>;
var<workgroup> red : array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let second = wg.x >= ${ABSMAX_PARTS}u;
  let part = wg.x % ${ABSMAX_PARTS}u;
  var m = vec4<f32>(0.0);
  if (second) {
    for (var i = part * 256u + tid; i < ${nB}u; i += ${ABSMAX_PARTS * 256}u) { m = max(m, abs(Y[i])); }
  } else {
    for (var i = part * 256u + tid; i < ${nA}u; i += ${ABSMAX_PARTS * 256}u) { m = max(m, abs(X[i])); }
  }
  red[tid] = max(max(m.x, m.y), max(m.z, m.w));
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  if (tid == 0u) { SCALE[wg.x] = red[0]; }
}
`;
}

/** WGSL: the power-of-two exponent that maps max |x| = `mx` to about 2^14. */
const SCALE_FN = `fn scaleExponent(mx: f32) -> f32 {
  if (!(mx > 0.0)) { return 0.0; }
  return clamp(floor(log2(16384.0 / mx)), -120.0, 120.0);
}`;

/**
 * Bindings: 0 A, 1 B, 2 C (vec4; partials when split), 3 BIAS (not split), 4 MASK, 5 SCALE
 * (512 partial maxima from {@link absMaxWgsl}). Dispatch (ceil(N/BN), ceil(M/BM), splits).
 */
export function f16GemmWgsl(p: GemmProblem, o: F16KernelOptions): string {
  const { BM, BN, BK, SGM, SGN } = o.tile;
  const { M: CM, N: CN, K: CK } = o.shape;
  const SGS = o.subgroupSize;
  const why = f16TileProblem(o.tile, o.shape, SGS);
  if (why) throw new Error(why);
  const WG = f16Threads(o.tile, SGS);
  const WM = BM / SGM;
  const WN = BN / SGN;
  const FM = WM / CM;
  const FN = WN / CN;
  const BKP = BK + PAD;
  const BNP = BN + PAD;
  const split = o.splits > 1;
  const aT = p.a.kind === 'dense' && p.a.transposed;
  const real = o.mma === 'subgroup-matrix';
  const aVecs = (BM * BK) / 4;
  const bVecs = (BK * BN) / 4;
  const LA = Math.ceil(aVecs / WG);
  const LB = Math.ceil(bVecs / WG);
  const frag = CM * CN;
  const staging = Math.max(SGM * SGN * frag, 2 * WG);
  const toF16 = (v: string, s: string) => `vec4<f16>(clamp(${v} * ${s}, vec4<f32>(-65504.0), vec4<f32>(65504.0)))`;

  const loadTile = [
    ...range(LA).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const g = (l + 1) * WG > aVecs ? `if (${i} < ${aVecs}u) ` : '';
      return aT
        ? `    ${g}{ ra${l} = loadAT(k0 + ${i} / ${BM / 4}u, m0 + (${i} % ${BM / 4}u) * 4u); }`
        : `    ${g}{ ra${l} = loadA(m0 + ${i} / ${BK / 4}u, k0 + (${i} % ${BK / 4}u) * 4u); }`;
    }),
    ...range(LB).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const g = (l + 1) * WG > bVecs ? `if (${i} < ${bVecs}u) ` : '';
      return p.bTransposed
        ? `    ${g}{ rb${l} = loadBT(n0 + ${i} / ${BK / 4}u, k0 + (${i} % ${BK / 4}u) * 4u); }`
        : `    ${g}{ rb${l} = loadB(k0 + ${i} / ${BN / 4}u, n0 + (${i} % ${BN / 4}u) * 4u); }`;
    }),
  ].join('\n');

  // Registers → f16 tiles As[buf][m][k] (row stride BKP) and Bs[buf][k][n] (row stride BNP).
  const storeTile = [
    ...range(LA).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const g = (l + 1) * WG > aVecs ? `if (${i} < ${aVecs}u) ` : '';
      const base = aT
        ? `let k = ${i} / ${BM / 4}u; let m = (${i} % ${BM / 4}u) * 4u; let at = (buf * ${BM}u + m) * ${BKP}u + k; let st = ${BKP}u;`
        : `let m = ${i} / ${BK / 4}u; let k = (${i} % ${BK / 4}u) * 4u; let at = (buf * ${BM}u + m) * ${BKP}u + k; let st = 1u;`;
      return `    ${g}{ ${base} let h = ${toF16(`ra${l}`, 'sa')}; As[at] = h.x; As[at + st] = h.y; As[at + 2u * st] = h.z; As[at + 3u * st] = h.w; }`;
    }),
    ...range(LB).map((l) => {
      const i = `(tid + ${l * WG}u)`;
      const g = (l + 1) * WG > bVecs ? `if (${i} < ${bVecs}u) ` : '';
      const base = p.bTransposed
        ? `let n = ${i} / ${BK / 4}u; let k = (${i} % ${BK / 4}u) * 4u; let at = (buf * ${BK}u + k) * ${BNP}u + n; let st = ${BNP}u;`
        : `let k = ${i} / ${BN / 4}u; let n = (${i} % ${BN / 4}u) * 4u; let at = (buf * ${BK}u + k) * ${BNP}u + n; let st = 1u;`;
      return `    ${g}{ ${base} let h = ${toF16(`rb${l}`, 'sb')}; Bs[at] = h.x; Bs[at + st] = h.y; Bs[at + 2u * st] = h.z; Bs[at + 3u * st] = h.w; }`;
    }),
  ].join('\n');

  const fr = (fm: number, fn: number) => `acc_${fm}_${fn}`;
  const fragRow0 = (fm: number) => `(sgm * ${WM}u + ${fm * CM}u)`;
  const fragCol0 = (fn: number) => `(sgn * ${WN}u + ${fn * CN}u)`;
  const perLane = frag / SGS; // result elements each invocation holds in the emulation

  let accDecl: string;
  let mmaStep: string;
  let stage: (fm: number, fn: number) => string;
  if (real) {
    accDecl = range(FM).flatMap((fm) => range(FN).map((fn) => `  var ${fr(fm, fn)} = subgroup_matrix_result<f32, ${CN}, ${CM}>();`)).join('\n');
    mmaStep = [
      ...range(FM).map((fm) => `        let l${fm} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${CK}, ${CM}>>(&As, (cur * ${BM}u + ${fragRow0(fm)}) * ${BKP}u + kk, false, ${BKP}u);`),
      ...range(FN).map((fn) => `        let r${fn} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${CN}, ${CK}>>(&Bs, (cur * ${BK}u + kk) * ${BNP}u + ${fragCol0(fn)}, false, ${BNP}u);`),
      ...range(FM).flatMap((fm) => range(FN).map((fn) => `        ${fr(fm, fn)} = subgroupMatrixMultiplyAccumulate(l${fm}, r${fn}, ${fr(fm, fn)});`)),
    ].join('\n');
    stage = (fm, fn) => `    subgroupMatrixStore(&Cs, sg * ${frag}u, ${fr(fm, fn)}, false, ${CN}u);`;
  } else {
    // Each invocation of a "subgroup" (SGS consecutive local indices) owns result elements
    // e = lane + SGS·j of every fragment, as a subgroup matrix spreads them over its invocations.
    accDecl = range(FM)
      .flatMap((fm) => range(FN).flatMap((fn) => range(perLane).map((j) => `  var ${fr(fm, fn)}_${j} = 0.0;`)))
      .join('\n');
    mmaStep = range(FM)
      .flatMap((fm) =>
        range(FN).flatMap((fn) =>
          range(perLane).map((j) => {
            const e = `(lane + ${j * SGS}u)`;
            return `        { let row = ${fragRow0(fm)} + ${e} / ${CN}u; let col = ${fragCol0(fn)} + ${e} % ${CN}u;
          for (var t = 0u; t < ${CK}u; t++) { ${fr(fm, fn)}_${j} = fma(f32(As[(cur * ${BM}u + row) * ${BKP}u + kk + t]), f32(Bs[(cur * ${BK}u + kk + t) * ${BNP}u + col]), ${fr(fm, fn)}_${j}); } }`;
          }),
        ),
      )
      .join('\n');
    stage = (fm, fn) => range(perLane).map((j) => `    Cs[sg * ${frag}u + lane + ${j * SGS}u] = ${fr(fm, fn)}_${j};`).join('\n');
  }

  // Staged fragment → scaled (+ bias, activation) vec4 stores, guarded at the matrix edges.
  const epilogue = (fm: number, fn: number) => {
    const vecsPerLane = frag / 4 / SGS;
    const body = range(vecsPerLane)
      .map((j) => {
        const e = `(lane + ${j * SGS}u) * 4u`;
        return `    { let e = ${e}; let row = m0 + ${fragRow0(fm)} + e / ${CN}u; let col = n0 + ${fragCol0(fn)} + e % ${CN}u;
      if (row < ${p.M}u && col < ${p.N}u) {
        let s = sg * ${frag}u + e;
        var v = vec4<f32>(Cs[s], Cs[s + 1u], Cs[s + 2u], Cs[s + 3u]) * inv;
        ${split ? `C[wg.z * ${(p.M * p.N) / 4}u + (row * ${p.N}u + col) / 4u] = v;` : `${p.bias ? 'v += BIAS[col / 4u];' : ''}
        C[(row * ${p.N}u + col) / 4u] = ${activationWgsl(p.activation, 'v', true)};`}
      } }`;
      })
      .join('\n');
    return `${stage(fm, fn)}
    workgroupBarrier();
${body}
    workgroupBarrier();`;
  };

  return `// f16 (${real ? `subgroup matrices ${CM}x${CN}x${CK}` : 'emulated matrices'}) ${split ? `split-K(${o.splits}) ` : ''}GEMM ${p.M}x${p.N}x${p.K}, tile ${BM}x${BN}x${BK}, ${SGM}x${SGN} subgroups of ${SGS}
enable f16;
${real ? 'enable chromium_experimental_subgroup_matrix;\ndiagnostic(off, chromium.subgroup_matrix_uniformity);' : ''}
@group(0) @binding(0) var<storage, read> A : array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B : array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C : array<vec4<f32>>;
${p.bias && !split ? '@group(0) @binding(3) var<storage, read> BIAS : array<vec4<f32>>;' : ''}
${p.mask !== 'none' ? '@group(0) @binding(4) var<storage, read> MASK : array<vec4<f32>>;' : ''}
@group(0) @binding(5) var<storage, read> SCALE : array<f32>;

var<workgroup> As : array<f16, ${2 * BM * BKP}>;
var<workgroup> Bs : array<f16, ${2 * BK * BNP}>;
var<workgroup> Cs : array<f32, ${staging}>;

${aT ? loadATransposedWgsl(p) : loadAWgsl(p)}
${loadBWgsl(p)}
${SCALE_FN}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let sg = tid / ${SGS}u;
  let lane = tid % ${SGS}u;
  let sgm = sg / ${SGN}u;
  let sgn = sg % ${SGN}u;
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;

  // Operand scales from the 2x${ABSMAX_PARTS} partial maxima.
  var ma = 0.0;
  var mb = 0.0;
  for (var i = tid; i < ${ABSMAX_PARTS}u; i += ${WG}u) { ma = max(ma, SCALE[i]); mb = max(mb, SCALE[${ABSMAX_PARTS}u + i]); }
  Cs[tid] = ma;
  Cs[${WG}u + tid] = mb;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (tid < s) { Cs[tid] = max(Cs[tid], Cs[tid + s]); Cs[${WG}u + tid] = max(Cs[${WG}u + tid], Cs[${WG}u + tid + s]); }
    workgroupBarrier();
  }
  let ea = scaleExponent(Cs[0]);
  let eb = scaleExponent(Cs[${WG}u]);
  let sa = exp2(ea);
  let sb = exp2(eb);
  let inv = exp2(-(ea + eb));
  workgroupBarrier();

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
    for (var kk = 0u; kk < ${BK}u; kk += ${CK}u) {
${mmaStep}
    }
    if (more) {
      let buf = 1u - cur;
${storeTile}
    }
    workgroupBarrier();
  }
${range(FM)
  .flatMap((fm) => range(FN).map((fn) => epilogue(fm, fn)))
  .join('\n')}
}
`;
}
