/**
 * What happens to a number a person typed into a box (C14): accepted, clamped into the slider's
 * range, or rejected — never left showing a value that was not applied. Pure, unit tested; the
 * box (ui/controls.ts) shows the applied value and the note.
 */
import { formatNumber, parseNumberInput } from './log-scale.ts';

export interface EntryRange {
  min: number;
  max: number;
  /** 0 is allowed below `min` (a loss term switched off). */
  zeroAllowed?: boolean;
  /** Only whole numbers (the seed). */
  integer?: boolean;
}

export type Entry =
  | { kind: 'ok'; value: number }
  | { kind: 'clamped'; value: number; note: string }
  | { kind: 'rejected'; note: string };

/** Checks `text` typed for `label` against `range`; `format` writes numbers in notes. */
export function checkTypedNumber(text: string, range: EntryRange, label: string, format: (v: number) => string = formatNumber): Entry {
  const typed = text.trim();
  const v = parseNumberInput(typed);
  const shown = typed.length > 24 ? `${typed.slice(0, 24)}…` : typed;
  if (v === null) return { kind: 'rejected', note: typed ? `“${shown}” is not a number` : `${label} needs a number` };
  if (range.integer && !Number.isInteger(v)) return { kind: 'rejected', note: `${label} must be a whole number` };
  if (v < 0 && range.min >= 0) return { kind: 'rejected', note: `${label} cannot be negative` };
  if (v === 0 && range.zeroAllowed) return { kind: 'ok', value: 0 };
  if (v < range.min) {
    const off = range.zeroAllowed ? ' (0 turns it off)' : '';
    return { kind: 'clamped', value: range.min, note: `${label} starts at ${format(range.min)}${off}: set to ${format(range.min)}` };
  }
  if (v > range.max) return { kind: 'clamped', value: range.max, note: `${label} goes up to ${format(range.max)}: set to ${format(range.max)}` };
  return { kind: 'ok', value: v };
}
