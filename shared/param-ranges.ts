/**
 * The ranges the studio's sliders offer: where results are still meaningful, declared once so the
 * engine owners can retune them (e.g. after stylization work) without touching the client. The
 * document schema (schema.ts) accepts wider values — other clients may write them, and the studio
 * shows them as they are — but a person typing a value beyond a slider's range gets it clamped,
 * with a visible note (client SPEC C10, C14).
 *
 * How these were chosen (mobilenet_v2, default preset, wasm, 128 px, 60 Adam steps from the
 * content image, cat × Starry Night; multipliers on the preset's base weights):
 * - style weight: 0.1 is the TV-smoothed photo, 1 visible texture; 10, 30, 100 and 1000 look
 *   alike (speckle saturates: the default preset's losses are relative) → 0.01…20.
 * - content weight: 0.01…1 look alike (the image starts from the content), 10 is cleaner, 100 is
 *   essentially the photo → 0.01…100.
 * - TV weight: 0.01…1 look alike, 10 blurs the strokes, 100 blurs the subject → 0.01…30.
 * - learning rate (Adam on [0,1] pixels): 0.001 barely moves in 60 steps, 0.02 is the default,
 *   0.1 and above turn the image into coloured noise within a few steps → 0.001…0.1.
 */
import type { ParamKey } from './schema.ts';

export interface LogRange {
  scale: 'log';
  min: number;
  max: number;
  /** The slider's first position means 0 ("term off"); typing 0 is allowed too. */
  zeroAtStart?: boolean;
}

export interface LinearRange {
  scale: 'linear';
  min: number;
  max: number;
  step: number;
}

export type SliderRange = LogRange | LinearRange;

/** Ranges of the numeric parameters' sliders (params panel). */
export const PARAM_RANGES = {
  contentWeight: { scale: 'log', min: 1e-2, max: 100, zeroAtStart: true },
  styleWeight: { scale: 'log', min: 1e-2, max: 20, zeroAtStart: true },
  tvWeight: { scale: 'log', min: 1e-2, max: 30, zeroAtStart: true },
  learningRate: { scale: 'log', min: 1e-3, max: 0.1 },
  resolution: { scale: 'linear', min: 64, max: 1024, step: 32 },
} as const satisfies Partial<Record<ParamKey, SliderRange>>;

/** Ranges of each style's sliders (styles panel): blend weight and scale. */
export const STYLE_RANGES = {
  weight: { scale: 'linear', min: 0, max: 10, step: 0.05 },
  scale: { scale: 'linear', min: 0.1, max: 4, step: 0.05 },
} as const satisfies Record<string, SliderRange>;

/** The seed box: any whole number the schema accepts. */
export const SEED_RANGE = { min: 0, max: 2 ** 31 - 1 } as const;
