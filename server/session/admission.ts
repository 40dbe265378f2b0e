/**
 * Admission of a session's engine inputs against their budgets (S25, S26): which styles fit the
 * style-pixel budget, and at which resolution one engine step fits the step budget. Pure
 * functions of the validated state, so the session layer stays a thin caller and tests need no
 * server.
 */
import { ErrorCode, type ErrorPayload } from '../../shared/protocol.ts';
import type { ContentEntry, Params, StyleEntry } from '../../shared/schema.ts';
import { fitInside } from '../images/store.ts';
import { styleSide } from './canvas-builder.ts';

/**
 * S25: styles in document order while their pixels at the size the engine resizes them to
 * (long side scale × resolution, enlarging if need be) add up to at most `maxPixels`; the others
 * are left out, each with an OVER_BUDGET error.
 */
export function admitStyles(
  styles: readonly StyleEntry[],
  resolution: number,
  dims: (imageId: string) => { width: number; height: number } | undefined,
  maxPixels: number,
  pathOf: (i: number) => string = (i) => `styles[${i}]`,
): { admitted: StyleEntry[]; errors: ErrorPayload[]; pixels: number } {
  const errors: ErrorPayload[] = [];
  const admitted: StyleEntry[] = [];
  let total = 0;
  styles.forEach((s, i) => {
    const d = dims(s.imageId) ?? { width: 1, height: 1 };
    const side = styleSide(s.scale, resolution);
    const k = side / Math.max(d.width, d.height);
    const used = { width: Math.max(1, Math.round(d.width * k)), height: Math.max(1, Math.round(d.height * k)) };
    const px = used.width * used.height;
    if (total + px > maxPixels) {
      errors.push({
        code: ErrorCode.OverBudget,
        path: pathOf(i),
        message: `this style would add ${px} pixels (used at ${used.width}x${used.height}: scale ${s.scale} × resolution ${resolution}), over the session's style budget of ${maxPixels} pixels (SESSION_MAX_STYLE_PIXELS); it is not used — lower its scale or remove a style`,
      });
      return;
    }
    total += px;
    admitted.push(s);
  });
  return { admitted, errors, pixels: total };
}

/** Pixels of one step at resolution `r` (long side) for a canvas of the content's aspect. */
export function stepPixels(content: Pick<ContentEntry, 'width' | 'height'>, r: number): number {
  const s = fitInside(content.width, content.height, r);
  const k = r / Math.max(s.width, s.height);
  return Math.round(s.width * k) * Math.round(s.height * k);
}

/**
 * S26: the resolution the engine runs at — params.resolution when one step of the model there is
 * estimated within `maxStepMs` and has at most `maxStepPixels` pixels, else the largest resolution
 * that fits both (at least 32) — and the OVER_BUDGET error to tell the writer when it was lowered.
 * Both apply to the real engine only (the one with an estimate): time because one step holds the
 * device, pixels because the step's activations are the engine's memory (mobilenet_v2 on wasm:
 * +1.25 GB of RSS at 735 px, which the time budget alone admitted once steps got faster).
 */
export function admitResolution(
  params: Pick<Params, 'resolution' | 'model'>,
  content: Pick<ContentEntry, 'width' | 'height'>,
  estimateStepMs: ((model: string, pixels: number) => number) | undefined,
  maxStepMs: number,
  backend: string,
  maxStepPixels = Infinity,
): { resolution: number; error?: ErrorPayload } {
  if (!estimateStepMs) return { resolution: params.resolution };
  const fits = (r: number) => {
    const px = stepPixels(content, r);
    return px <= maxStepPixels && estimateStepMs(params.model, px) <= maxStepMs;
  };
  if (fits(params.resolution)) return { resolution: params.resolution };
  const pixels = stepPixels(content, params.resolution);
  const ms = estimateStepMs(params.model, pixels);
  let res = Math.max(32, Math.floor(params.resolution * Math.min(1, Math.sqrt(maxStepMs / ms), Math.sqrt(maxStepPixels / pixels))));
  while (res > 32 && !fits(res)) res--;
  const message =
    ms > maxStepMs
      ? `one ${params.model} step at ${params.resolution} px is estimated at ${Math.round(ms)} ms on ${backend}, over the engine budget of ${maxStepMs} ms per step (ENGINE_MAX_STEP_MS); the optimization runs at ${res} px`
      : `one ${params.model} step at ${params.resolution} px works on ${pixels} pixels, over the engine budget of ${maxStepPixels} pixels per step (ENGINE_MAX_STEP_PIXELS, which bounds the engine's memory); the optimization runs at ${res} px`;
  return { resolution: res, error: { code: ErrorCode.OverBudget, path: 'params.resolution', message } };
}
