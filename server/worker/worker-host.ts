/**
 * {@link EngineHost} backed by one worker thread running the real tfjs engine (engine-worker.ts).
 * One worker per server process: the device is shared by round-robin stepping inside it (see the
 * worker). The main thread only posts validated inputs and relays frames, so sockets, storage and
 * REST stay responsive however slow a step is.
 */
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../engine/api.ts';
import { createLogger } from '../log.ts';
import type { EngineEvents, EngineHost, EngineInputs, OpenOptions, SessionEngine } from '../session/engine-host.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import { EngineCostModel } from './engine-cost.ts';

const log = createLogger('engine-host');

export interface WorkerEngineHostOptions {
  backend: BackendName | 'auto';
  /** wasm XNNPACK threads; 0 or absent = one per core (at most 8). */
  wasmThreads?: number;
  model: string;
  vgg19Weights?: string;
  frameRate: number;
  frameQuality: number;
  /** Test hook: run every session on this network (e.g. `tiny`). */
  forceModel?: string;
  /** Steps running longer are preempted (ENGINE_STEP_TIME_LIMIT_MS, default 20 s). */
  stepTimeLimitMs?: number;
  /** Optimizations built at once per owner address (ENGINE_MAX_SESSIONS_PER_IP, default 4). */
  maxSessionsPerGroup?: number;
}

/** Sessions one worker can give interrupt counters to; beyond that, steps are not interrupted. */
const INTERRUPT_SLOTS = 4096;

export class WorkerEngineHost implements EngineHost {
  private worker: Worker;
  private interruptCounters = new Int32Array(new SharedArrayBuffer(INTERRUPT_SLOTS * 4));
  private freeSlots = Array.from({ length: INTERRUPT_SLOTS }, (_, i) => INTERRUPT_SLOTS - 1 - i);
  private sessions = new Map<string, EngineEvents>();
  private backendName = 'pending';
  private fatal: string | null = null;
  private closed = false;
  private forceModel: string | undefined;
  private cost = new EngineCostModel(() => this.backendName);
  /** Resolves with the backend once the worker has initialised it (rejects on failure). */
  readonly ready: Promise<string>;

  constructor(opts: WorkerEngineHostOptions) {
    const data: WorkerInit = { ...opts, stepTimeLimitMs: opts.stepTimeLimitMs ?? 20_000, maxSessionsPerGroup: opts.maxSessionsPerGroup ?? 4, interruptCounters: this.interruptCounters.buffer as SharedArrayBuffer };
    this.forceModel = opts.forceModel;
    this.worker = new Worker(new URL('./engine-worker-boot.mjs', import.meta.url), { workerData: data });
    let resolveReady!: (b: string) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((resolveReady = res), (rejectReady = rej)));
    this.ready.catch(() => {});
    this.worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          this.backendName = m.backend;
          log.info('engine ready', { backend: m.backend });
          resolveReady(m.backend);
          break;
        case 'fatal':
          this.fail(m.message);
          rejectReady(new Error(m.message));
          break;
        case 'state':
          this.sessions.get(m.id)?.state(m.state, m.message);
          break;
        case 'steps': {
          const ev = this.sessions.get(m.id);
          for (let i = 0; i < m.count; i++) ev?.step?.();
          this.interruptedSteps += m.interrupted;
          if (m.count > 0) this.cost.observe(m.model, m.pixels, m.ms / m.count);
          break;
        }
        case 'frame':
          this.tensorCount = m.tensors;
          this.sessions.get(m.id)?.frame({
            iter: m.iter,
            width: m.width,
            height: m.height,
            mime: 'image/jpeg',
            data: m.data,
            losses: m.losses,
            stepsPerSec: m.stepsPerSec,
          });
          break;
        case 'closed':
          break;
      }
    });
    this.worker.on('error', (e) => {
      this.fail(e.message);
      rejectReady(e);
    });
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(`the engine worker exited (code ${code})`);
    });
  }

  private fail(message: string): void {
    this.fatal = message;
    log.error('engine failed', { error: message });
    for (const ev of this.sessions.values()) ev.state('error', message);
  }

  /** Live tensors in the engine worker, as of its latest frame. */
  tensorCount: number | undefined = undefined;

  /** Steps abandoned because their session's inputs changed while they ran (E21). */
  interruptedSteps = 0;

  get backend(): string {
    return this.backendName;
  }

  private send(m: ToWorker): void {
    if (!this.closed) this.worker.postMessage(m);
  }

  /** S26: estimated ms of one step (docs/BENCHMARKS.md figures, refined by the steps measured here). */
  estimateStepMs(model: string, pixels: number): number {
    return this.cost.estimateStepMs(this.forceModel ?? model, pixels);
  }

  open(sessionId: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine {
    this.sessions.set(sessionId, events);
    if (this.fatal) queueMicrotask(() => events.state('error', this.fatal!));
    const slot = this.freeSlots.pop() ?? -1;
    if (slot >= 0) Atomics.store(this.interruptCounters, slot, 0);
    this.send({ type: 'open', id: sessionId, inputs, initImage: options.initImage, iterOffset: options.iterOffset ?? 0, interruptSlot: slot, group: options.group ?? sessionId });
    let disposed = false;
    let seq = 0;
    return {
      update: (changes) => {
        if (disposed) return;
        seq += 1;
        this.send({ type: 'update', id: sessionId, changes, seq });
        // After the post: by the time the interrupted step yields, the update is in its queue.
        if (slot >= 0) Atomics.store(this.interruptCounters, slot, seq);
      },
      setActive: (active) => !disposed && this.send({ type: 'active', id: sessionId, active }),
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.sessions.delete(sessionId);
        this.send({ type: 'close', id: sessionId });
        if (slot >= 0) this.freeSlots.push(slot);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.send({ type: 'shutdown' });
    this.closed = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
      this.worker.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.worker.on('message', (m: FromWorker) => m.type === 'closed' && void this.worker.terminate());
    });
  }
}
