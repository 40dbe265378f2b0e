/**
 * Logarithmic slider mapping. Loss weights and the learning rate span orders of magnitude
 * (shared/param-ranges.ts), so a linear range input is useless; positions map to
 * `min·(max/min)^t`. Position 0 can mean "off" (value 0) for weights where zero is meaningful.
 * Pure, unit tested.
 */
export interface LogRange {
  min: number;
  max: number;
  /** Slider positions are integers 0…steps. */
  steps: number;
  /** When true, position 0 is the value 0 and positions 1…steps span min…max. */
  zeroAtStart: boolean;
}

/** Builds a {@link LogRange}, rejecting ranges a log scale cannot represent. */
export function logRange(min: number, max: number, opts: { steps?: number; zeroAtStart?: boolean } = {}): LogRange {
  if (!(min > 0) || !(max > min) || !Number.isFinite(max)) {
    throw new RangeError(`log range needs 0 < min < max, got ${min}…${max}`);
  }
  const steps = opts.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 2) throw new RangeError(`steps must be an integer ≥ 2, got ${steps}`);
  return { min, max, steps, zeroAtStart: opts.zeroAtStart ?? false };
}

/** Slider position → value. */
export function positionToValue(r: LogRange, position: number): number {
  const p = Math.min(r.steps, Math.max(0, Math.round(position)));
  if (r.zeroAtStart) {
    if (p === 0) return 0;
    const t = (p - 1) / (r.steps - 1);
    return roundSignificant(r.min * Math.pow(r.max / r.min, t));
  }
  return roundSignificant(r.min * Math.pow(r.max / r.min, p / r.steps));
}

/** Value → nearest slider position (values outside the range are clamped). */
export function valueToPosition(r: LogRange, value: number): number {
  if (r.zeroAtStart && value <= 0) return 0;
  const v = Math.min(r.max, Math.max(r.min, value));
  const t = Math.log(v / r.min) / Math.log(r.max / r.min);
  if (r.zeroAtStart) return 1 + Math.round(t * (r.steps - 1));
  return Math.round(t * r.steps);
}

/** Rounds to 3 significant digits so slider values read as 3.16e4, not 31622.776601683792. */
export function roundSignificant(x: number, digits = 3): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(digits));
}

/**
 * Short human form of a number for labels and the activity feed: `3e4`, `2.5e-3`, `0.02`, `1`.
 * Integers below 10 000 and decimals ≥ 0.01 stay plain; everything else is scientific.
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 0.01 && a < 10_000) return String(roundSignificant(x, 3));
  const [mant, exp] = x.toExponential(2).split('e');
  const m = mant.replace(/\.?0+$/, '');
  return `${m}e${Number(exp)}`;
}

/** Parses what a person typed in a number box: plain, scientific (`3e4`) or with a `k`/`M` suffix. */
export function parseNumberInput(text: string): number | null {
  const t = text.trim().replace(/[,_\s]/g, '');
  const m = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([kKmM]?)$/.exec(t);
  if (!m) return null;
  const base = Number(m[1]);
  const mult = m[2] === 'k' || m[2] === 'K' ? 1e3 : m[2] === 'm' || m[2] === 'M' ? 1e6 : 1;
  const v = base * mult;
  return Number.isFinite(v) ? v : null;
}
