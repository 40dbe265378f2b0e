/**
 * Engine cost model (S26): how long one optimization step of a network on N pixels takes on this
 * backend, to admit a session's resolution against ENGINE_MAX_STEP_MS before it runs.
 *
 * A step's work is proportional to its pixels for a given network (convolutions dominate). The
 * starting figures are docs/BENCHMARKS.md's measured ms per step on this 2-core machine (wasm,
 * 2 threads) divided by the pixels: mobilenet_v2 264 ms at 256² → 4.0 µs/px, inception_v3
 * 686 ms → 10.5 µs/px, vgg19 3311 ms → 50.5 µs/px, tiny 59 ms → 0.9 µs/px; the cpu backend
 * measured ~28× slower than wasm (mobilenet_v2 at 128 px: 2955 vs 106 ms), WebGPU and native
 * TensorFlow are assumed 4× and 10× faster. Then every real step refines the figure for its
 * network on this backend (exponential moving average), so admission follows the machine.
 */

/** µs per pixel per step on wasm with 2 threads (docs/BENCHMARKS.md, 256 px rows). */
const WASM_US_PER_PIXEL: Record<string, number> = { tiny: 0.9, mobilenet_v2: 4.0, inception_v3: 10.5, vgg19: 50.5 };
/** Backend speed relative to wasm (2 threads). */
const BACKEND_FACTOR: Record<string, number> = { wasm: 1, cpu: 28, webgpu: 0.25, tensorflow: 0.1 };
/** Weight of a new measurement in the moving average. */
const EWMA = 0.2;
/** Steps this small are dominated by fixed overhead: they do not teach the per-pixel figure. */
const MIN_LEARN_PIXELS = 96 * 96;

export class EngineCostModel {
  private learned = new Map<string, number>();

  constructor(private backend: () => string) {}

  /** µs per pixel of one step of `model` on this backend. */
  usPerPixel(model: string): number {
    const l = this.learned.get(model);
    if (l !== undefined) return l;
    return (WASM_US_PER_PIXEL[model] ?? WASM_US_PER_PIXEL.vgg19) * (BACKEND_FACTOR[this.backend()] ?? 1);
  }

  /** Estimated ms of one step of `model` on `pixels` pixels. */
  estimateStepMs(model: string, pixels: number): number {
    return (pixels * this.usPerPixel(model)) / 1000;
  }

  /** A measured step: `ms` for `pixels` pixels of `model`. */
  observe(model: string, pixels: number, ms: number): void {
    if (pixels < MIN_LEARN_PIXELS || !(ms > 0)) return;
    const us = (ms * 1000) / pixels;
    const prev = this.learned.get(model) ?? this.usPerPixel(model);
    this.learned.set(model, prev + EWMA * (us - prev));
  }
}
