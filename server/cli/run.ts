/**
 * What `render` runs, per mode, independent of argument parsing and file I/O (so tests can call
 * it with in-memory images). Reports progress with the CLI's iteration convention: event `iter`
 * i carries the losses of the image after i steps.
 */
import type { FeatureNetwork, LossValues, RgbImage, StepResult, StyleInput, StyleRegion, TransferParams } from '../engine/api.ts';
import {
  createStyleTransfer,
  getPreset,
  pyramidResolutions,
  reconstructContent,
  renderGrid,
  resolveLayers,
  runCoarseToFine,
  synthesizeStyle,
  type ExperimentSettings,
} from '../engine/index.ts';
import type { CliMode } from './args.ts';

export interface RenderProgress {
  iter: number;
  losses: LossValues;
  ms: number;
  /** Set for events that are not one optimizer step (e.g. a grid cell finished). */
  label?: string;
}

export interface RenderJob {
  mode: CliMode;
  network: FeatureNetwork;
  content?: RgbImage;
  styles: StyleInput[];
  /** Styles painted into regions (`--style-mask`, or a session's style brushes); transfer mode. */
  regions?: StyleRegion[];
  initImage?: RgbImage;
  params: TransferParams;
  iters: number;
  pyramid: boolean;
  onProgress?: (p: RenderProgress) => void;
  saveEvery?: number;
  onSnapshot?: (iter: number, image: RgbImage) => Promise<void>;
}

/** Splits `total` iterations over `levels` pyramid levels, remainder to the finest. */
export function iterationsPerLevel(total: number, levels: number): number[] {
  const each = Math.floor(total / levels);
  return Array.from({ length: levels }, (_, i) => each + (i === levels - 1 ? total - each * levels : 0));
}

export async function runRender(job: RenderJob): Promise<RgbImage> {
  const { params, network } = job;
  // Engine steps report the losses computed *before* their update: shift by one (see module doc).
  const onStep = (r: StepResult) => job.onProgress?.({ iter: r.iter - 1, losses: r.losses, ms: r.ms });

  if (job.mode === 'transfer') {
    const inputs = { content: job.content!, styles: job.styles, regions: job.regions, params, initImage: job.initImage };
    if (job.pyramid) {
      const levels = pyramidResolutions(params.resolution);
      let done = 0;
      const result = await runCoarseToFine(network, inputs, {
        iterationsPerLevel: iterationsPerLevel(job.iters, levels.length),
        onStep: ({ step }) => job.onProgress?.({ iter: done++, losses: step.losses, ms: step.ms }),
      });
      job.onProgress?.({ iter: job.iters, losses: result.losses, ms: 0, label: 'final' });
      return result.image;
    }
    const transfer = createStyleTransfer(network, inputs);
    try {
      for (let i = 0; i < job.iters; i++) {
        onStep(await transfer.step());
        if (job.saveEvery && transfer.iter % job.saveEvery === 0) await job.onSnapshot?.(transfer.iter, await transfer.image());
      }
      const started = performance.now();
      const losses = await transfer.evaluate();
      job.onProgress?.({ iter: transfer.iter, losses, ms: performance.now() - started });
      return await transfer.image();
    } finally {
      transfer.dispose();
    }
  }

  const settings: ExperimentSettings = {
    resolution: params.resolution,
    iterations: job.iters,
    preset: params.preset,
    optimizer: params.optimizer,
    learningRate: params.learningRate,
    pooling: params.pooling,
    seed: params.seed,
    onStep,
  };
  const layers = resolveLayers(getPreset(params.preset), network, { contentLayers: params.contentLayers, styleLayers: params.styleLayers });
  if (job.mode === 'reconstruct-content') {
    return (await reconstructContent(network, { ...settings, content: job.content!, layer: layers.content[0].layer })).image;
  }
  if (job.mode === 'synthesize-style') {
    const styles = job.styles.map((s) => s.image);
    return (await synthesizeStyle(network, { ...settings, styles, layers: layers.style.map((l) => l.layer) })).image;
  }
  const grid = await renderGrid(network, {
    ...settings,
    content: job.content!,
    style: job.styles[0].image,
    layerSets: params.styleLayers ? layers.style.map((_, i) => layers.style.slice(0, i + 1).map((l) => l.layer)) : undefined,
    onStep: undefined,
    onCell: (c) =>
      job.onProgress?.({ iter: c.row * c.cols + c.col + 1, losses: c.losses, ms: 0, label: `cell ${c.row + 1},${c.col + 1} ` }),
  });
  return grid.image;
}
