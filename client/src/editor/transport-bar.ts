/**
 * Run / pause / reset and the engine's live numbers (state, iteration, steps/s, backend).
 *
 * Reset increments the `restart` parameter: the server starts the optimization over from `init`
 * (the content image or noise, chosen in the parameters) whenever it changes, whatever the init
 * mode, so "reset" is an ordinary, synced document edit rather than a separate command.
 */
import type { EngineState, StatusPayload } from '../../../shared/protocol.ts';
import { h } from '../ui/dom.ts';

export interface TransportActions {
  toggleRun(): void;
  reset(): void;
  download(): void;
}

const STATE_LABEL: Record<EngineState, string> = {
  loading: 'Loading model…',
  running: 'Running',
  paused: 'Paused',
  idle: 'Idle',
  error: 'Error',
};

export class TransportBar {
  readonly el: HTMLElement;
  private readonly runBtn = h('button', { type: 'button', class: 'btn primary', title: 'Run / pause (Space)' }, 'Run');
  private readonly resetBtn = h('button', { type: 'button', class: 'btn', title: 'Start over from the start image (content or noise)' }, '↻ Reset');
  private readonly downloadBtn = h('button', { type: 'button', class: 'btn', title: 'Download the current image as PNG', disabled: true }, '⤓ PNG');
  private readonly state = h('span', { class: 'engine-state' }, '—');
  private readonly iter = h('span', { class: 'stat' }, 'iter —');
  private readonly speed = h('span', { class: 'stat' }, '— steps/s');
  private readonly backend = h('span', { class: 'stat' }, '');
  private readonly message = h('div', { class: 'engine-message', hidden: true });
  private connected = true;

  constructor(actions: TransportActions) {
    this.runBtn.addEventListener('click', () => actions.toggleRun());
    this.resetBtn.addEventListener('click', () => actions.reset());
    this.downloadBtn.addEventListener('click', () => actions.download());
    this.el = h(
      'div',
      { class: 'transport' },
      h('div', { class: 'row' }, this.runBtn, this.resetBtn, this.downloadBtn, h('span', { class: 'spacer' }), this.state, this.iter, this.speed, this.backend),
      this.message,
    );
  }

  setRunning(running: boolean): void {
    this.runBtn.textContent = running ? '❚❚ Pause' : '▶ Run';
    this.runBtn.classList.toggle('primary', !running);
  }

  setEditable(editable: boolean): void {
    this.runBtn.disabled = !editable;
    this.resetBtn.disabled = !editable;
  }

  setHasImage(has: boolean): void {
    this.downloadBtn.disabled = !has;
  }

  /**
   * While the socket is down the last engine state ("Running", its steps/s) would be stale: say
   * so instead (C91). Reconnecting needs nothing here: the server sends a fresh status on every
   * connect.
   */
  setConnected(connected: boolean): void {
    this.connected = connected;
    if (connected) return;
    this.state.textContent = 'Not connected';
    this.state.dataset.state = 'disconnected';
    this.speed.textContent = '— steps/s';
  }

  setStatus(s: StatusPayload): void {
    this.state.textContent = STATE_LABEL[s.state] ?? s.state;
    this.state.dataset.state = s.state;
    this.backend.textContent = [s.backend, s.model].filter(Boolean).join(' · ');
    this.setProgress(s.iter, s.stepsPerSec);
    this.message.hidden = !s.message;
    this.message.textContent = s.message ?? '';
  }

  setProgress(iter: number, stepsPerSec: number, backend?: string): void {
    this.iter.textContent = `iter ${iter}`;
    // A frame still queued when the socket dropped: its speed is no longer the engine's now.
    if (this.connected) this.speed.textContent = `${stepsPerSec.toFixed(stepsPerSec < 10 ? 1 : 0)} steps/s`;
    if (backend && !this.backend.textContent) this.backend.textContent = backend;
  }
}
