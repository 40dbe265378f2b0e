/**
 * Fake engine: "optimizes" by moving the image a fixed fraction toward a target (the content
 * tinted with the mean colour of the styles; fake-optimizer.ts), at a fixed step rate, and emits
 * JPEG frames at the configured frame rate. Deterministic enough for tests; honest about being
 * fake (backend `fake`). It honours update/setActive/dispose exactly like the real host, so
 * everything above it (sync, persistence, frames, pause/resume, keyframes) is exercised for real.
 *
 * Like the real host, its pixel work runs in a worker thread (one per host, started at the first
 * open; fake-engine-worker.ts): the main thread keeps the step timer (`events.step`, iteration
 * counts, steps per second) and, once per frame, posts the number of steps taken and the inputs
 * changed since the last frame. In the cluster load run the fake's loops and encode calls on the
 * main thread were ~3 s of 35 s of a server process (docs/RELIABILITY.md).
 */
import { Worker } from 'node:worker_threads';
import type { RgbImage } from '../engine/api.ts';
import { createLogger } from '../log.ts';
import type { EngineEvents, EngineHost, EngineInputs, OpenOptions, SessionEngine } from './engine-host.ts';

const log = createLogger('fake-engine');

export interface FakeEngineOptions {
  frameRate: number;
  frameQuality: number;
  /** Optimizer steps per second per session (default 50). */
  stepsPerSec?: number;
}

/** Main thread → fake engine worker. `id`: one per open (a session id can be opened again). */
export type ToFakeWorker =
  | { type: 'open'; id: number; inputs: EngineInputs; initImage?: RgbImage }
  /** Apply `changes` (if any), then `steps` steps, and post a frame. */
  | { type: 'frame'; id: number; steps: number; changes: Partial<EngineInputs> | null; quality: number }
  | { type: 'close'; id: number };

/** Fake engine worker → main thread. */
export type FromFakeWorker =
  | { type: 'frame'; id: number; width: number; height: number; data: Uint8Array; loss: number }
  | { type: 'failed'; id: number; message: string };

class FakeSessionEngine implements SessionEngine {
  private iter: number;
  private active = false;
  private disposed = false;
  private timer: NodeJS.Timeout | null = null;
  private lastFrameAt = 0;
  /** A frame was asked of the worker and has not come back (one at a time, like the real host). */
  private frameIter: number | null = null;
  private stepTimes: number[] = [];
  /** Steps taken since the last frame asked for. */
  private pendingSteps = 0;
  /** Inputs changed since the last frame asked for (sent with it: at most frameRate copies a second). */
  private changes: Partial<EngineInputs> | null = null;

  constructor(
    readonly id: number,
    private host: FakeEngineHost,
    private events: EngineEvents,
    private opts: Required<FakeEngineOptions>,
    options: OpenOptions,
  ) {
    this.iter = options.iterOffset ?? 0;
  }

  update(changes: Partial<EngineInputs>): void {
    if (this.disposed) return;
    this.changes = { ...this.changes, ...changes };
  }

  setActive(active: boolean): void {
    if (this.disposed || active === this.active) return;
    this.active = active;
    if (active) {
      this.timer = setInterval(() => this.step(), 1000 / this.opts.stepsPerSec);
      this.events.state('running');
    } else {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      this.events.state('paused');
    }
  }

  /** One "optimizer step": counted here, applied by the worker when the next frame is made. */
  private step(): void {
    this.pendingSteps++;
    this.iter++;
    const now = performance.now();
    this.stepTimes.push(now);
    if (this.stepTimes.length > 20) this.stepTimes.shift();
    this.events.step?.();
    if (now - this.lastFrameAt >= 1000 / this.opts.frameRate && this.frameIter === null) {
      this.lastFrameAt = now;
      this.frameIter = this.iter;
      this.host.post({ type: 'frame', id: this.id, steps: this.pendingSteps, changes: this.changes, quality: this.opts.frameQuality });
      this.pendingSteps = 0;
      this.changes = null;
    }
  }

  private stepsPerSec(): number {
    const t = this.stepTimes;
    return t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
  }

  /** The worker's answer to the frame asked for. */
  received(m: FromFakeWorker): void {
    const iter = this.frameIter ?? this.iter;
    this.frameIter = null;
    if (this.disposed) return;
    if (m.type === 'failed') {
      log.warn('fake frame failed', { error: m.message });
      return;
    }
    const loss = m.loss;
    this.events.frame({
      iter,
      width: m.width,
      height: m.height,
      mime: 'image/jpeg',
      data: m.data,
      losses: { total: loss, style: loss / 2, content: loss / 2, tv: 0 },
      stepsPerSec: this.stepsPerSec(),
    });
  }

  /** The worker is gone: no frame will come. */
  failed(message: string): void {
    if (this.disposed) return;
    this.events.state('error', message);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.host.closed(this);
  }
}

/** The fake {@link EngineHost}: one step timer per session, one worker thread for their pixels. */
export class FakeEngineHost implements EngineHost {
  readonly backend = 'fake';
  private engines = new Map<number, FakeSessionEngine>();
  private opts: Required<FakeEngineOptions>;
  private worker: Worker | null = null;
  private nextId = 1;

  constructor(opts: FakeEngineOptions) {
    this.opts = { stepsPerSec: 50, ...opts };
  }

  /** Started at the first open: tests build many hosts that never open a session. */
  private startWorker(): Worker {
    const w = new Worker(new URL('./fake-engine-worker-boot.mjs', import.meta.url));
    // Not what keeps a process alive: the server (or a test's timers) does that.
    w.unref();
    w.on('message', (m: FromFakeWorker) => this.engines.get(m.id)?.received(m));
    const fail = (message: string) => {
      if (this.worker !== w) return; // closed, or already failed
      this.worker = null;
      log.error('fake engine worker failed', { error: message });
      for (const e of this.engines.values()) e.failed(message);
    };
    w.on('error', (e) => fail(e.message));
    w.on('exit', (code) => fail(`the fake engine worker exited (code ${code})`));
    return w;
  }

  /** @internal for the session engines */
  post(m: ToFakeWorker): void {
    this.worker?.postMessage(m);
  }

  /** @internal a session engine was disposed */
  closed(e: FakeSessionEngine): void {
    this.engines.delete(e.id);
    this.post({ type: 'close', id: e.id });
  }

  open(_sessionId: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine {
    this.worker ??= this.startWorker();
    const e = new FakeSessionEngine(this.nextId++, this, events, this.opts, options);
    this.engines.set(e.id, e);
    this.post({ type: 'open', id: e.id, inputs, initImage: options.initImage });
    return e;
  }

  async close(): Promise<void> {
    for (const e of [...this.engines.values()]) e.dispose();
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    await w.terminate();
  }
}
