/**
 * Plans and encodes the engine's own GEMM kernels on a WebGPU device: picks a tile and a split-K
 * factor per problem, compiles (once per shape) and records the dispatches into a compute pass
 * the caller owns. Plain WebGPU: the tfjs glue (tfjs-kernels.ts) and the probe (bench/gpu-probe.ts)
 * both drive it, with their own buffers.
 */
import { gemmFlops, problemKey, splitKReduceWgsl, vec4Unsupported, type GemmProblem } from './gemm-problem.ts';
import { FP32_TILES, fp32GemmWgsl, tileSharedBytes, tileThreads, type Fp32Tile } from './gemm-wgsl.ts';
import { ABSMAX_PARTS, absMaxWgsl, F16_TILES, f16GemmWgsl, f16SharedBytes, f16Threads, f16TileProblem, type F16Tile, type MatrixShape } from './gemm-f16-wgsl.ts';

export type Precision = 'fp32' | 'f16';

/** What the device offers the f16 kernel. */
export interface F16Support {
  /** Subgroup-matrix shape (f16 in, f32 out) for `subgroup-matrix`; `emulated` runs everywhere `shader-f16` does. */
  mma: 'subgroup-matrix' | 'emulated';
  shape: MatrixShape;
  subgroupSize: number;
}

export interface GemmDeviceCaps {
  maxWorkgroupStorage: number;
  maxInvocations: number;
  /** Absent: no f16 kernels on this device. May be changed later (tests switch to the emulation). */
  f16?: F16Support;
}

export interface GemmPlan {
  problem: GemmProblem;
  precision: Precision;
  /** Human-readable: tile, splits, workgroups. */
  describe: string;
  flops: number;
  /** Dispatches this plan records (absmax pre-pass, main kernel, split-K reduction). */
  dispatches: number;
  // internals
  main: { key: string; code: () => string; grid: [number, number, number] };
  reduce?: { key: string; code: () => string; grid: [number, number, number] };
  absMax?: { key: string; code: () => string; nA: number; nB: number };
  splits: number;
}

export interface GemmBuffers {
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  bias?: GPUBuffer;
  mask?: GPUBuffer;
}

/** Temporary buffers that must live until the recorded commands are submitted. */
export type ScratchAllocator = (bytes: number) => GPUBuffer;

/**
 * Workgroups below which a product is split along K. 2 per SM of a 132-SM H100; the probe
 * reports per-layer plans so this can be tuned on the card.
 */
export let TARGET_WORKGROUPS = 264;
export function setTargetWorkgroups(n: number): void {
  TARGET_WORKGROUPS = n;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** 2-D grid for `n` workgroups of a 1-D kernel (each dimension ≤ 65535). */
function grid1d(n: number): [number, number, number] {
  if (n <= 65535) return [n, 1, 1];
  const x = 65535;
  return [x, ceilDiv(n, x), 1];
}

interface TileChoice {
  BM: number;
  BN: number;
  BK: number;
}

/**
 * The largest tile with little padding waste (≥ 75% of its outputs real) that fills the GPU on its
 * own or through split-K: a big tile with K slices beats a small tile without (the 8×8-per-
 * invocation layout reads half as much workgroup memory per FMA as the 4×4 one, and the partial
 * sums are small next to the product). Each slice keeps ≥ 16 K-steps of the tile. "Fills" means
 * ≥ half of {@link TARGET_WORKGROUPS}; failing that, the choice with the most workgroups.
 */
function chooseTile<T extends TileChoice>(p: GemmProblem, tiles: readonly T[]): { tile: T; splits: number; kChunk: number } {
  const wgs = (t: T) => ceilDiv(p.M, t.BM) * ceilDiv(p.N, t.BN);
  const efficiency = (t: T) => (p.M * p.N) / (ceilDiv(p.M, t.BM) * t.BM * ceilDiv(p.N, t.BN) * t.BN);
  const splitsFor = (t: T) => (wgs(t) >= TARGET_WORKGROUPS ? 1 : Math.max(1, Math.min(ceilDiv(TARGET_WORKGROUPS, wgs(t)), Math.floor(p.K / (t.BK * 16)), 256)));
  const good = tiles.filter((t) => efficiency(t) >= 0.75);
  const pool = good.length ? good : [...tiles].sort((a, b) => efficiency(b) - efficiency(a)).slice(0, 1);
  const tile =
    pool.find((t) => wgs(t) * splitsFor(t) >= TARGET_WORKGROUPS / 2) ??
    pool.reduce((best, t) => (wgs(t) * splitsFor(t) > wgs(best) * splitsFor(best) ? t : best));
  let splits = splitsFor(tile);
  const kChunk = ceilDiv(ceilDiv(p.K, splits), tile.BK) * tile.BK;
  splits = ceilDiv(p.K, kChunk);
  return { tile, splits, kChunk };
}

export class GemmKernels {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  readonly compiled: string[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly caps: GemmDeviceCaps,
  ) {}

  /** Tiles this device can run. */
  private fp32Tiles(): Fp32Tile[] {
    return FP32_TILES.filter((t) => tileSharedBytes(t) <= this.caps.maxWorkgroupStorage && tileThreads(t) <= this.caps.maxInvocations);
  }

  private f16Tiles(f: F16Support): F16Tile[] {
    return F16_TILES.filter(
      (t) =>
        f16TileProblem(t, f.shape, f.subgroupSize) == null &&
        f16SharedBytes(t, f.shape, f.subgroupSize) <= this.caps.maxWorkgroupStorage &&
        f16Threads(t, f.subgroupSize) <= this.caps.maxInvocations,
    );
  }

  /** Why `p` cannot run at `precision` here, or null. */
  unsupported(p: GemmProblem, precision: Precision): string | null {
    const why = vec4Unsupported(p);
    if (why) return why;
    if (precision === 'f16') {
      if (!this.caps.f16) return 'no f16 support on this device';
      if (!this.f16Tiles(this.caps.f16).length) return 'no f16 tile fits this device';
    } else if (!this.fp32Tiles().length) return 'no fp32 tile fits this device';
    return null;
  }

  plan(p: GemmProblem, precision: Precision): GemmPlan {
    const why = this.unsupported(p, precision);
    if (why) throw new Error(`gemm ${problemKey(p)}: ${why}`);
    const key = problemKey(p);
    if (precision === 'fp32') {
      const { tile, splits, kChunk } = chooseTile(p, this.fp32Tiles());
      const grid: [number, number, number] = [ceilDiv(p.N, tile.BN), ceilDiv(p.M, tile.BM), splits];
      const t = `${tile.BM}x${tile.BN}x${tile.BK}/${tile.TM}x${tile.TN}`;
      return {
        problem: p,
        precision,
        describe: `fp32 tile ${t}, ${grid[0] * grid[1]} tiles${splits > 1 ? ` x ${splits} K-splits` : ''}`,
        flops: gemmFlops(p),
        dispatches: splits > 1 ? 2 : 1,
        splits,
        main: { key: `fp32:${key}:${t}:${splits}:${kChunk}`, code: () => fp32GemmWgsl(p, { tile, splits, kChunk }), grid },
        reduce: splits > 1 ? this.reducePlan(p, splits) : undefined,
      };
    }
    const f = this.caps.f16!;
    const { tile, splits, kChunk } = chooseTile(p, this.f16Tiles(f));
    const grid: [number, number, number] = [ceilDiv(p.N, tile.BN), ceilDiv(p.M, tile.BM), splits];
    const aLen = p.a.kind === 'conv' ? p.a.batch * p.a.H * p.a.W * p.a.C : p.M * p.K;
    const t = `${tile.BM}x${tile.BN}x${tile.BK}/${tile.SGM}x${tile.SGN}sg`;
    const mma = f.mma === 'subgroup-matrix' ? `${f.shape.M}x${f.shape.N}x${f.shape.K}` : 'emulated';
    return {
      problem: p,
      precision,
      describe: `f16 (${mma}) tile ${t}, ${grid[0] * grid[1]} tiles${splits > 1 ? ` x ${splits} K-splits` : ''}`,
      flops: gemmFlops(p),
      dispatches: splits > 1 ? 3 : 2,
      splits,
      absMax: { key: `absmax:${aLen / 4}:${(p.K * p.N) / 4}`, code: () => absMaxWgsl(aLen / 4, (p.K * p.N) / 4), nA: aLen / 4, nB: (p.K * p.N) / 4 },
      main: {
        key: `f16:${f.mma}:${f.shape.M}.${f.shape.N}.${f.shape.K}:${f.subgroupSize}:${key}:${t}:${splits}:${kChunk}`,
        code: () => f16GemmWgsl(p, { tile, shape: f.shape, subgroupSize: f.subgroupSize, mma: f.mma, splits, kChunk }),
        grid,
      },
      reduce: splits > 1 ? this.reducePlan(p, splits) : undefined,
    };
  }

  private reducePlan(p: GemmProblem, splits: number): GemmPlan['reduce'] {
    const total = (p.M * p.N) / 4;
    return { key: `reduce:${problemKey(p)}:${splits}`, code: () => splitKReduceWgsl(p, splits), grid: grid1d(ceilDiv(total, 256)) };
  }

  private pipeline(key: string, code: () => string): GPUComputePipeline {
    let pipe = this.pipelines.get(key);
    if (!pipe) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      pipe = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, pipe);
      this.compiled.push(key);
    }
    return pipe;
  }

  /**
   * Compiles a plan's pipelines now and reports WGSL/pipeline errors as a rejected promise (Dawn
   * reports them asynchronously otherwise).
   */
  async prepare(plan: GemmPlan): Promise<void> {
    this.device.pushErrorScope('validation');
    for (const s of [plan.absMax, plan.main, plan.reduce]) if (s) this.pipeline(s.key, s.code);
    const err = await this.device.popErrorScope();
    if (err) {
      for (const s of [plan.absMax, plan.main, plan.reduce]) if (s) this.pipelines.delete(s.key);
      throw new Error(`${plan.describe}: ${err.message}`);
    }
  }

  /** The WGSL of a plan's main kernel (for inspection and error reports). */
  source(plan: GemmPlan): string {
    return plan.main.code();
  }

  /** Records the plan's dispatches into `pass`. */
  encode(pass: GPUComputePassEncoder, plan: GemmPlan, bufs: GemmBuffers, scratch: ScratchAllocator): void {
    const p = plan.problem;
    const bind = (pipe: GPUComputePipeline, entries: [number, GPUBuffer | undefined][]) =>
      this.device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: entries.filter((e): e is [number, GPUBuffer] => e[1] != null).map(([binding, buffer]) => ({ binding, resource: { buffer } })),
      });
    let scale: GPUBuffer | undefined;
    if (plan.absMax) {
      scale = scratch(2 * ABSMAX_PARTS * 4);
      const pipe = this.pipeline(plan.absMax.key, plan.absMax.code);
      pass.setPipeline(pipe);
      pass.setBindGroup(0, bind(pipe, [[0, bufs.a], [1, bufs.b], [2, scale]]));
      pass.dispatchWorkgroups(2 * ABSMAX_PARTS);
    }
    const partials = plan.splits > 1 ? scratch(plan.splits * p.M * p.N * 4) : undefined;
    const main = this.pipeline(plan.main.key, plan.main.code);
    pass.setPipeline(main);
    pass.setBindGroup(
      0,
      bind(main, [
        [0, bufs.a],
        [1, bufs.b],
        [2, partials ?? bufs.c],
        [3, partials ? undefined : p.bias ? bufs.bias : undefined],
        [4, p.mask !== 'none' ? bufs.mask : undefined],
        [5, scale],
      ]),
    );
    pass.dispatchWorkgroups(...plan.main.grid);
    if (plan.reduce && partials) {
      const pipe = this.pipeline(plan.reduce.key, plan.reduce.code);
      pass.setPipeline(pipe);
      pass.setBindGroup(0, bind(pipe, [[0, partials], [1, bufs.c], [2, p.bias ? bufs.bias : undefined]]));
      pass.dispatchWorkgroups(...plan.reduce.grid);
    }
  }
}
