/**
 * The data behind the live loss chart: a bounded history of loss terms per iteration and the
 * log-scale axis that fits them. Kept apart from drawing so it is tested in Node.
 */
import type { LossTerms } from '../../../shared/protocol.ts';

export const LOSS_SERIES = ['total', 'style', 'content', 'tv'] as const;
export type LossSeries = (typeof LOSS_SERIES)[number];

export interface LossSample extends LossTerms {
  iter: number;
}

export class LossHistory {
  private samples: LossSample[] = [];
  constructor(readonly capacity = 600) {}

  get length(): number {
    return this.samples.length;
  }
  all(): readonly LossSample[] {
    return this.samples;
  }

  /**
   * Adds a sample. An iteration at or below the last one means the optimization restarted
   * (reset, new content): the history starts over so the chart does not draw a jump backwards.
   */
  push(iter: number, losses: LossTerms): void {
    const last = this.samples.at(-1);
    if (last && iter < last.iter) this.samples = [];
    else if (last && iter === last.iter) this.samples.pop();
    this.samples.push({ iter, ...losses });
    if (this.samples.length > this.capacity) {
      // Halve the resolution of the older half instead of dropping the start of the curve.
      const keepTail = Math.floor(this.capacity / 2);
      const head = this.samples.slice(0, this.samples.length - keepTail).filter((_, i) => i % 2 === 0);
      this.samples = head.concat(this.samples.slice(-keepTail));
    }
  }

  clear(): void {
    this.samples = [];
  }
}

export interface LogAxis {
  /** log10 of the bottom and top of the axis, whole decades. */
  lo: number;
  hi: number;
}

/** Whole-decade log axis covering every positive finite value of the given series. */
export function logAxisFor(samples: readonly LossSample[], series: readonly LossSeries[] = LOSS_SERIES): LogAxis | null {
  let min = Infinity;
  let max = -Infinity;
  for (const s of samples) {
    for (const k of series) {
      const v = s[k];
      if (v > 0 && Number.isFinite(v)) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  if (min === Infinity) return null;
  const lo = Math.floor(Math.log10(min));
  let hi = Math.ceil(Math.log10(max));
  if (hi <= lo) hi = lo + 1;
  return { lo, hi };
}

/** Where a value sits on a log axis, 0 (bottom) … 1 (top); null for values a log axis cannot show. */
export function logPosition(axis: LogAxis, v: number): number | null {
  if (!(v > 0) || !Number.isFinite(v)) return null;
  return (Math.log10(v) - axis.lo) / (axis.hi - axis.lo);
}
