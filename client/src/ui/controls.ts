/**
 * Form controls bound to one value each: a log-scale slider with a typed-number box, a linear
 * slider, and a select. Each exposes `set(value)` for updates coming from the document (ignored
 * while the person is dragging that very control) and reports edits through `onInput`
 * (throttled while dragging) and `onCommit` (drag finished: one undo step).
 */
import { h } from './dom.ts';
import { logRange, positionToValue, valueToPosition, formatNumber, parseNumberInput, type LogRange } from '../util/log-scale.ts';

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

/** A slider on a log scale (see util/log-scale.ts) plus a text box that accepts `3e4`, `2.5k`. */
export function logSlider(id: string, label: string, range: { min: number; max: number; zeroAtStart?: boolean }, hs: Handlers<number>): BoundControl<number> {
  const r: LogRange = logRange(range.min, range.max, { steps: 1000, zeroAtStart: range.zeroAtStart });
  const slider = h('input', { id, type: 'range', min: '0', max: String(r.steps), step: '1', class: 'slider' });
  const box = h('input', { type: 'text', class: 'num', inputmode: 'decimal', 'aria-label': `${label} value`, spellcheck: 'false' });
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
  box.addEventListener('change', () => {
    const v = parseNumberInput(box.value);
    if (v === null || v < 0) {
      box.classList.add('invalid');
      return;
    }
    box.classList.remove('invalid');
    hs.onCommit(v);
  });
  return {
    el: row(label, id, slider, box),
    set(v) {
      if (dragging) return;
      slider.value = String(valueToPosition(r, v));
      if (document.activeElement !== box) box.value = formatNumber(v);
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
  opts: { min: number; max: number; step: number; format?: (v: number) => string },
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
