/**
 * Shared by the engine's micro-benchmarks (conv-grad.ts, networks.ts,
 * losses.ts): command-line flags and timing of tfjs work with the builtin vs the custom
 * convolution gradients. Not used by the engine itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setConvGradientMode } from '../../server/engine/ops/conv.ts';

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Median ms of `repeat` runs of `fn` after one warm-up, each including the read-back of its result. */
export async function timeMs(fn: () => tf.Tensor | tf.Tensor[], repeat: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= repeat; i++) {
    const t0 = performance.now();
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    await Promise.all(list.map((t) => t.data()));
    tf.dispose(list);
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * `fn` timed with tfjs's builtin gradients and with the custom ones; builtin is null when the
 * backend lacks a kernel tfjs's gradient needs (wasm: DepthwiseConv2dNativeBackpropInput).
 */
export async function timeBuiltinAndCustom(fn: () => tf.Tensor | tf.Tensor[], repeat: number): Promise<{ builtin: number | null; custom: number }> {
  setConvGradientMode('builtin');
  let builtin: number | null;
  try {
    builtin = await timeMs(fn, repeat);
  } catch {
    builtin = null;
  } finally {
    setConvGradientMode('custom');
  }
  return { builtin, custom: await timeMs(fn, repeat) };
}
