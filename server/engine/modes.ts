/**
 * Runs built on {@link createStyleTransfer}: a fixed number of iterations, coarse-to-fine
 * (E14), and the experiments of Gatys, Ecker & Bethge 2015 (E15): content reconstruction from
 * one layer, texture synthesis from a set of style layers, and the figure grid of style layers x
 * content/style ratio. Used by the CLI; every function reports progress through a callback and
 * disposes what it creates (never the network).
 */
import type { FeatureNetwork, LayerWeight, LossValues, OptimizerName, Pooling, RgbImage, StepResult, TransferInputs, TransferParams } from './api.ts';
import { createStyleTransfer, type CreateStyleTransferOptions, type EngineStyleTransfer } from './transfer.ts';
import { getPreset, resolveLayers, type Preset } from './presets.ts';

/** A callback may be async; the run waits for it (e.g. to write a progress frame). */
export type StepCallback<E> = (event: E) => void | Promise<void>;

export interface RunResult {
  image: RgbImage;
  /** Losses of the last step (of the initial image when no step ran). */
  losses: LossValues;
  iterations: number;
}

/** Steps `transfer` `iterations` times, calling `onStep` after each. */
export async function runIterations(
  transfer: EngineStyleTransfer,
  iterations: number,
  onStep?: StepCallback<StepResult>,
): Promise<LossValues> {
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`iterations must be an integer >= 0 (got ${iterations})`);
  let losses = iterations === 0 ? await transfer.evaluate() : null;
  for (let i = 0; i < iterations; i++) {
    const r = await transfer.step();
    losses = r.losses;
    await onStep?.(r);
  }
  return losses!;
}

/**
 * Long sides of a coarse-to-fine schedule ending at `target`: each level is the next one divided
 * by sqrt(2), rounded, down to no less than `min` (ascending order). `target <= min` gives one level.
 */
export function pyramidResolutions(target: number, min = 64): number[] {
  if (!(Number.isInteger(target) && target > 0)) throw new Error(`target resolution must be a positive integer (got ${target})`);
  const levels = [target];
  for (let k = 1; ; k++) {
    const r = Math.round(target / Math.SQRT2 ** k);
    if (r < min || r === levels[levels.length - 1]) break;
    levels.push(r);
  }
  return levels.reverse();
}

export interface CoarseToFineOptions extends CreateStyleTransferOptions {
  /** Iterations at every level, or one number per level (coarsest first). */
  iterationsPerLevel: number | number[];
  /** Smallest long side of the schedule. Default 64. */
  minResolution?: number;
  onStep?: StepCallback<{ step: StepResult; level: number; levels: number; resolution: number }>;
}

/**
 * E14: optimizes at `pyramidResolutions(params.resolution)` in turn, carrying the image (bilinearly
 * upsampled) and the optimizer state to each finer level through a warm `update()`.
 */
export async function runCoarseToFine(network: FeatureNetwork, inputs: TransferInputs, options: CoarseToFineOptions): Promise<RunResult> {
  const levels = pyramidResolutions(inputs.params.resolution, options.minResolution ?? 64);
  const perLevel = typeof options.iterationsPerLevel === 'number' ? levels.map(() => options.iterationsPerLevel as number) : options.iterationsPerLevel;
  if (perLevel.length !== levels.length) {
    throw new Error(`iterationsPerLevel has ${perLevel.length} entries but the schedule has ${levels.length} levels (${levels.join(', ')})`);
  }
  const transfer = createStyleTransfer(network, { ...inputs, params: { ...inputs.params, resolution: levels[0] } }, options);
  try {
    let losses: LossValues | null = null;
    let total = 0;
    for (let li = 0; li < levels.length; li++) {
      if (li > 0) transfer.update({ params: { ...transfer.inputs.params, resolution: levels[li] } });
      losses = await runIterations(transfer, perLevel[li], (step) =>
        options.onStep?.({ step, level: li, levels: levels.length, resolution: levels[li] }),
      );
      total += perLevel[li];
    }
    return { image: await transfer.image(), losses: losses!, iterations: total };
  } finally {
    transfer.dispose();
  }
}

/** Run settings shared by the experiments; defaults follow the paper (gatys2015, L-BFGS, noise). */
export interface ExperimentSettings extends CreateStyleTransferOptions {
  resolution: number;
  iterations: number;
  preset?: string;
  optimizer?: OptimizerName;
  learningRate?: number;
  pooling?: Pooling;
  seed?: number;
  onStep?: StepCallback<StepResult>;
}

function experimentParams(s: ExperimentSettings, extra: Partial<TransferParams>): TransferParams {
  const preset = s.preset ?? 'gatys2015';
  const p = getPreset(preset);
  return {
    preset,
    contentWeight: 1,
    styleWeight: 1,
    tvWeight: 0,
    optimizer: s.optimizer ?? 'lbfgs',
    learningRate: s.learningRate ?? p.suggested.learningRate,
    resolution: s.resolution,
    pooling: s.pooling ?? p.suggested.pooling,
    colors: 'style',
    init: 'noise',
    seed: s.seed ?? 1,
    ...extra,
  };
}

async function runOnce(network: FeatureNetwork, inputs: TransferInputs, s: ExperimentSettings): Promise<RunResult> {
  const transfer = createStyleTransfer(network, inputs, s);
  try {
    const losses = await runIterations(transfer, s.iterations, s.onStep);
    return { image: await transfer.image(), losses, iterations: s.iterations };
  } finally {
    transfer.dispose();
  }
}

/**
 * Content reconstruction (the paper's Fig. 1, bottom row): from white noise, match the content
 * image's features at `layer` only; no style, no TV.
 */
export function reconstructContent(
  network: FeatureNetwork,
  options: ExperimentSettings & { content: RgbImage; layer: string },
): Promise<RunResult> {
  const params = experimentParams(options, { mode: 'reconstruct-content', contentLayers: [{ layer: options.layer, weight: 1 }] });
  return runOnce(network, { content: options.content, styles: [], params }, options);
}

/** A blank (mid-grey) canvas of `width` x `height`: the size carrier for texture synthesis. */
export function blankCanvas(width: number, height: number, value = 128): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

/**
 * Texture synthesis (the paper's Fig. 1, top row): from white noise, match the Gram matrices of
 * `layers` (equal weights) of the style(s); no content. The output has the first style's aspect.
 */
export function synthesizeStyle(
  network: FeatureNetwork,
  options: ExperimentSettings & { styles: RgbImage[]; layers: string[] },
): Promise<RunResult> {
  if (options.styles.length === 0) throw new Error('synthesizeStyle needs at least one style image');
  if (options.layers.length === 0) throw new Error('synthesizeStyle needs at least one style layer');
  const first = options.styles[0];
  const styleLayers = options.layers.map((layer) => ({ layer, weight: 1 / options.layers.length }));
  const params = experimentParams(options, { mode: 'synthesize-style', styleLayers });
  const styles = options.styles.map((image) => ({ image, weight: 1, scale: 1 }));
  return runOnce(network, { content: blankCanvas(first.width, first.height), styles, params }, options);
}

export interface GridOptions extends ExperimentSettings {
  content: RgbImage;
  style: RgbImage;
  /** Rows: style layer sets. Default: cumulative prefixes of the preset's style layers. */
  layerSets?: string[][];
  /** Columns: content/style ratios alpha/beta. Default the paper's 1e-5, 1e-4, 1e-3, 1e-2. */
  ratios?: number[];
  /** Pixels between cells (white). Default 4. */
  padding?: number;
  onCell?: StepCallback<{ row: number; col: number; rows: number; cols: number; layers: string[]; ratio: number; losses: LossValues }>;
}

export interface GridResult {
  image: RgbImage;
  rows: string[][];
  ratios: number[];
  losses: LossValues[][];
}

/** The paper's usual content/style ratio (Gatys et al. 2015, Fig. 2 and 3's middle column). */
const PAPER_RATIO = 1e-3;

/**
 * contentWeight for a grid column. Presets with the paper's absolute losses realise α/β on their
 * base weights (ratio · base.style / base.content). Under `relative` losses every term is scale
 * free, so an absolute α/β means nothing: there the paper's 1e-3 is the preset's own balance and
 * the other columns scale it (1e-5 → ×0.01 … 1e-2 → ×10). On `default` the absolute reading gave
 * content ×5e-5 … ×0.05: every cell pure texture (docs/STYLIZATION.md).
 */
export function gridContentWeight(preset: Preset, ratio: number): number {
  return preset.contentLoss === 'relative' ? ratio / PAPER_RATIO : (ratio * preset.base.style) / preset.base.content;
}

/**
 * The paper's Fig. 3: one transfer per (style layer set, alpha/beta) cell, laid out as rows x
 * columns in one image; the ratio becomes {@link gridContentWeight}, styleWeight = 1. Layer
 * weights are 1/k for a set of k layers under presets that do not average layers themselves
 * (the paper's w_l).
 */
export async function renderGrid(network: FeatureNetwork, options: GridOptions): Promise<GridResult> {
  const presetName = options.preset ?? 'gatys2015';
  const preset = getPreset(presetName);
  const ratios = options.ratios ?? [1e-5, 1e-4, 1e-3, 1e-2];
  let rows = options.layerSets;
  if (!rows) {
    const style = resolveLayers(preset, network, {}).style.map((l) => l.layer);
    rows = style.map((_, i) => style.slice(0, i + 1));
  }
  if (rows.length === 0 || ratios.length === 0) throw new Error('renderGrid needs at least one layer set and one ratio');
  for (const r of ratios) if (!(Number.isFinite(r) && r > 0)) throw new Error(`ratios must be positive numbers (got ${r})`);
  const cells: RgbImage[][] = [];
  const losses: LossValues[][] = [];
  for (let row = 0; row < rows.length; row++) {
    cells.push([]);
    losses.push([]);
    const k = rows[row].length;
    const styleLayers: LayerWeight[] = rows[row].map((layer) => ({ layer, weight: preset.averaging === 'none' ? 1 / k : 1 }));
    for (let col = 0; col < ratios.length; col++) {
      const params = experimentParams(options, {
        preset: presetName,
        styleLayers,
        contentWeight: gridContentWeight(preset, ratios[col]),
        styleWeight: 1,
      });
      const result = await runOnce(network, { content: options.content, styles: [{ image: options.style, weight: 1, scale: 1 }], params }, options);
      cells[row].push(result.image);
      losses[row].push(result.losses);
      await options.onCell?.({ row, col, rows: rows.length, cols: ratios.length, layers: rows[row], ratio: ratios[col], losses: result.losses });
    }
  }
  return { image: composeGrid(cells, options.padding ?? 4), rows, ratios, losses };
}

/** Lays equally sized images out as a grid with `padding` white pixels between and around cells. */
export function composeGrid(cells: RgbImage[][], padding = 4): RgbImage {
  const cw = Math.max(...cells.flat().map((c) => c.width));
  const ch = Math.max(...cells.flat().map((c) => c.height));
  const cols = Math.max(...cells.map((r) => r.length));
  const width = cols * cw + (cols + 1) * padding;
  const height = cells.length * ch + (cells.length + 1) * padding;
  const data = new Uint8Array(width * height * 3).fill(255);
  cells.forEach((row, r) =>
    row.forEach((cell, c) => {
      const x0 = padding + c * (cw + padding);
      const y0 = padding + r * (ch + padding);
      for (let y = 0; y < cell.height; y++) {
        const src = cell.data.subarray(y * cell.width * 3, (y + 1) * cell.width * 3);
        data.set(src, ((y0 + y) * width + x0) * 3);
      }
    }),
  );
  return { width, height, data };
}
