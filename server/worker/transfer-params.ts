/**
 * Session parameters (the document's `params`, shared/schema.ts) → engine parameters. One mapping
 * for the engine worker and for `render --from-session`, so a re-render runs the same objective
 * the live session ran. A plain module: the worker file itself can only run inside a thread.
 */
import type { TransferParams } from '../engine/api.ts';
import type { Params } from '../../shared/schema.ts';

/**
 * @param resolution long side to optimize at (the session's own, or a larger re-render size)
 * @param fromImage start from a given image (a keyframe) instead of `params.init`
 */
export function toTransferParams(p: Params, resolution: number, fromImage: boolean): TransferParams {
  return {
    preset: p.preset,
    contentWeight: p.contentWeight,
    styleWeight: p.styleWeight,
    tvWeight: p.tvWeight,
    optimizer: p.optimizer,
    learningRate: p.learningRate,
    resolution,
    pooling: p.pooling,
    colors: p.colors,
    init: fromImage ? 'image' : p.init,
    seed: p.seed,
    restart: p.restart,
  };
}
