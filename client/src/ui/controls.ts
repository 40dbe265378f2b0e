/**
 * Form controls bound to one value each: a log-scale slider with a typed-number box, a linear
 * slider, and a select. Each exposes `set(value)` for updates coming from the document (ignored
 * while the person is dragging that very control) and reports edits through `onInput`
 * (throttled while dragging) and `onCommit` (drag finished: one undo step).
 */
import { h } from './dom.ts';
import type { LogRange as SharedLogRange, LinearRange } from '../../../shared/param-ranges.ts';
import { logRange, positionToValue, valueToPosition, formatNumber, type LogRange } from '../util/log-scale.ts';
import { checkTypedNumber, type EntryRange } from '../util/number-entry.ts';

/** How long a note under a number box stays (it also goes with the next accepted entry). */
const NOTE_MS = 6000;

export interface BoundControl<T> {
  el: HTMLElement;
  set(value: T): void;
  setDisabled(disabled: boolean): void;
}

interface Handlers<T> {
  onInput(value: T): void;
  onCommit(value: T): void;
}

const INPUT_THROTTLE_MS = 60;

function throttled<T>(fn: (v: T) => void): (v: T) => void {
  let last = 0;
  let pending: { v: T } | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (v: T) => {
    const now = performance.now();
    if (now - last >= INPUT_THROTTLE_MS) {
      last = now;
      fn(v);
      return;
    }
    pending = { v };
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (pending) {
        last = performance.now();
        fn(pending.v);
        pending = null;
      }
    }, INPUT_THROTTLE_MS);
  };
}

function row(label: string, id: string, ...children: HTMLElement[]): HTMLElement {
  return h('div', { class: 'control-row' }, h('label', { for: id }, label), ...children);
}

/**
 * A text box for one number (C14): the typed value is checked against `range`; an accepted one
 * is committed, one beyond the range is clamped and committed, a rejected one is not. Either way
 * the box then shows the value that holds (never the rejected text) and a note under the row
 * says what happened.
 */
export function numberBox(
  label: string,
  range: EntryRange,
  current: () => number,
  commit: (v: number) => void,
  attrs: Record<string, unknown> = {},
  format: (v: number) => string = formatNumber,
): { box: HTMLInputElement; note: HTMLElement; show(v: number): void } {
  const box = h('input', { type: 'text', class: 'num', inputmode: 'decimal', spellcheck: 'false', autocomplete: 'off', ...attrs });
  const note = h('div', { class: 'field-note', role: 'status', 'aria-live': 'polite', hidden: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const say = (text: string | null, kind: 'error' | 'info' = 'info') => {
    clearTimeout(timer);
    note.textContent = text ?? '';
    note.hidden = !text;
    note.classList.toggle('error', kind === 'error');
    box.classList.toggle('invalid', kind === 'error' && !!text);
    if (text) timer = setTimeout(() => say(null), NOTE_MS);
  };
  // Typing in progress (not yet committed with Enter or by leaving the box) is never overwritten
  // by a value from the document; everything else is, so an undo shows even while focused.
  let typing = false;
  box.addEventListener('change', () => {
    typing = false;
    const r = checkTypedNumber(box.value, range, label, format);
    if (r.kind === 'rejected') {
      box.value = format(current());
      say(`${r.note}; kept ${format(current())}.`, 'error');
      return;
    }
    box.value = format(r.value);
    say(r.kind === 'clamped' ? `${r.note}.` : null);
    commit(r.value);
  });
  box.addEventListener('input', () => {
    typing = true;
    box.classList.remove('invalid');
  });
  return {
    box,
    note,
    show(v: number) {
      if (!typing) box.value = format(v);
    },
  };
}

/**
 * A slider on a log scale (see util/log-scale.ts) over `range` (shared/param-ranges.ts) plus a
 * text box that accepts `3e4`, `2.5k` (C10, C14).
 */
export function logSlider(id: string, label: string, range: SharedLogRange, hs: Handlers<number>): BoundControl<number> {
  const r: LogRange = logRange(range.min, range.max, { steps: 1000, zeroAtStart: range.zeroAtStart });
  const slider = h('input', { id, type: 'range', min: '0', max: String(r.steps), step: '1', class: 'slider' });
  let value = 0;
  const { box, note, show } = numberBox(label, { min: range.min, max: range.max, zeroAllowed: range.zeroAtStart }, () => value, (v) => hs.onCommit(v), {
    'aria-label': `${label} value`,
  });
  let dragging = false;
  const input = throttled(hs.onInput);
  slider.addEventListener('pointerdown', () => (dragging = true));
  slider.addEventListener('input', () => {
    const v = positionToValue(r, Number(slider.value));
    box.value = formatNumber(v);
    input(v);
  });
  slider.addEventListener('change', () => {
    dragging = false;
    hs.onCommit(positionToValue(r, Number(slider.value)));
  });
  return {
    el: row(label, id, slider, box, note),
    set(v) {
      value = v;
      if (dragging) return;
      slider.value = String(valueToPosition(r, v));
      show(v);
    },
    setDisabled(d) {
      slider.disabled = d;
      box.disabled = d;
    },
  };
}

/** A linear slider with a numeric readout (resolution, style weight/scale). */
export function linearSlider(
  id: string,
  label: string,
  opts: Pick<LinearRange, 'min' | 'max' | 'step'> & { format?: (v: number) => string },
  hs: Handlers<number>,
): BoundControl<number> {
  const slider = h('input', { id, type: 'range', min: String(opts.min), max: String(opts.max), step: String(opts.step), class: 'slider' });
  const out = h('output', { class: 'num readout', for: id });
  const fmt = opts.format ?? formatNumber;
  let dragging = false;
  const input = throttled(hs.onInput);
  slider.addEventListener('pointerdown', () => (dragging = true));
  slider.addEventListener('input', () => {
    out.textContent = fmt(Number(slider.value));
    input(Number(slider.value));
  });
  slider.addEventListener('change', () => {
    dragging = false;
    hs.onCommit(Number(slider.value));
  });
  return {
    el: row(label, id, slider, out),
    set(v) {
      if (dragging) return;
      slider.value = String(v);
      out.textContent = fmt(v);
    },
    setDisabled(d) {
      slider.disabled = d;
    },
  };
}

export function selectControl<T extends string>(
  id: string,
  label: string,
  options: readonly { value: T; label: string }[],
  onCommit: (v: T) => void,
): BoundControl<T> {
  const sel = h('select', { id }, ...options.map((o) => h('option', { value: o.value }, o.label)));
  sel.addEventListener('change', () => onCommit(sel.value as T));
  return {
    el: row(label, id, sel),
    set(v) {
      sel.value = v;
    },
    setDisabled(d) {
      sel.disabled = d;
    },
  };
}
