/**
 * Interruptible steps: a step can be abandoned part-way when its inputs have already changed,
 * so that a change reaches the image one step sooner (live latency; see SPEC E21).
 *
 * Why checkpoints in the layers: a step is one synchronous run of tfjs kernels (forward through
 * the network, then the gradient back through it); nothing else runs on the engine's thread until
 * it ends. The convolution layers call {@link interruptionPoint} once per layer in each
 * direction, which asks the check installed by {@link runInterruptible} — in the server a read
 * of a shared-memory counter that the main thread advances with each update it posts.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Thrown out of `StyleTransfer.step()` when its interrupt check said yes; nothing was changed. */
export class StepInterrupted extends Error {
  constructor() {
    super('step interrupted: its inputs changed while it ran');
    this.name = 'StepInterrupted';
  }
}

let check: (() => boolean) | null = null;

/** Throws {@link StepInterrupted} if the running interruptible computation should stop now. */
export function interruptionPoint(): void {
  if (check !== null && check()) throw new StepInterrupted();
}

/**
 * Runs the synchronous `fn` with `shouldStop` consulted at every {@link interruptionPoint}. If it
 * is interrupted, the gradient tape tfjs left behind is released (its saved tensors would leak:
 * tfjs frees them only when a gradient computation completes) and {@link StepInterrupted} is
 * rethrown.
 */
export function runInterruptible<T>(fn: () => T, shouldStop: (() => boolean) | undefined): T {
  if (!shouldStop) return fn();
  const outer = check;
  check = shouldStop;
  try {
    return fn();
  } catch (err) {
    if (err instanceof StepInterrupted) releaseAbandonedTape();
    throw err;
  } finally {
    check = outer;
  }
}

interface TapeState {
  activeTape: { saved?: tf.Tensor[] }[] | null;
  gradientDepth: number;
}

/** tfjs internals (engine.state): tested by the E21 memory test, which fails if they change. */
function releaseAbandonedTape(): void {
  const state = (tf.engine() as unknown as { state: TapeState }).state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
}
