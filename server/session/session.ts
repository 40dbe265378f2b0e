/**
 * One live session: its Yjs document, awareness, validation fence, persistence and engine.
 *
 * Flow of a client edit: the realtime layer applies a y-protocols message to {@link Session.doc}
 * with the client as transaction origin → `update` is queued in the group commit → once durable,
 * `durableUpdate` listeners relay it to the other clients. In the same transaction's aftermath the
 * {@link DocValidator} checks the touched values; bad ones go back to the origin as errors, good
 * ones re-target the engine (params directly, styles/canvas after decoding / rasterizing).
 *
 * Engine lifecycle: the engine exists while someone is attached (a socket or an MJPEG stream) and
 * for `idlePauseMs` after the last one leaves; then a keyframe is stored and the engine disposed.
 * Reattaching reopens it from the latest keyframe, exactly as after a server restart.
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { ErrorCode, type EngineState, type ErrorPayload, type FramePayload } from '../../shared/protocol.ts';
import type { ContentEntry, Params, StyleEntry } from '../../shared/schema.ts';
import type { RgbImage, StyleInput } from '../engine/api.ts';
import { decodeImage } from '../images/codec.ts';
import type { ImageStore } from '../images/store.ts';
import { createLogger, type Logger } from '../log.ts';
import type { GroupCommit } from '../storage/group-commit.ts';
import type { SessionRecord, Storage } from '../storage/types.ts';
import { CanvasBuilder, Coalescer } from './canvas-builder.ts';
import { DocValidator, seedDocument } from './doc-state.ts';
import { archiveKeyframe, recordLossSample } from '../history/recorder.ts';
import type { EngineFrame, EngineHost, SessionEngine } from './engine-host.ts';

/** Transaction origin of updates replayed from storage (not persisted again, not relayed). */
export const STORAGE_ORIGIN = Symbol('storage');

/** What the realtime layer uses as transaction origin: anything with an `author`. */
export interface UpdateOrigin {
  author: string;
}

export interface SessionDeps {
  storage: Storage;
  commits: GroupCommit;
  images: ImageStore;
  engineHost: EngineHost;
  idlePauseMs: number;
  keyframeIntervalMs: number;
  /** Called when the session has been idle long enough to be dropped from memory. */
  onIdle?: (session: Session) => void;
  metrics?: { step(): void };
}

export interface SessionListener {
  /** `update` is durable; relay it to everyone but `origin`. */
  durableUpdate?(update: Uint8Array, origin: unknown): void;
  frame?(frame: FramePayload): void;
  status?(): void;
  /** Values written by `origin` failed validation. */
  invalid?(origin: unknown, errors: ErrorPayload[]): void;
}

export interface InitialDocument {
  params: Params;
  styles: StyleEntry[];
  content: ContentEntry;
}

function authorOf(origin: unknown): string {
  if (typeof origin === 'object' && origin !== null && typeof (origin as UpdateOrigin).author === 'string') return (origin as UpdateOrigin).author;
  return 'server';
}

export class Session {
  readonly id: string;
  readonly doc = new Y.Doc();
  readonly awareness: awarenessProtocol.Awareness;
  readonly validator: DocValidator;
  private log: Logger;
  private listeners = new Set<SessionListener>();
  private canvas: CanvasBuilder;
  private builtStyles: StyleInput[] | null = null;
  private builtCanvas: RgbImage | null = null;
  private stylesJob: Coalescer;
  private canvasJob: Coalescer;
  private engine: SessionEngine | null = null;
  private opening: Promise<void> | null = null;
  private engineState: EngineState = 'idle';
  private stateMessage: string | undefined;
  private sockets = 0;
  private holders = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private keyframeTimer: NodeJS.Timeout;
  private lastKeyframeIter = -1;
  private closed = false;
  /** Latest frame (JPEG), served to new clients and to frame.jpg / stream.mjpg. */
  latestFrame: FramePayload | null = null;
  iter = 0;
  stepsPerSec = 0;

  private constructor(
    readonly record: SessionRecord,
    private deps: SessionDeps,
  ) {
    this.id = record.id;
    this.log = createLogger(`session:${record.id.slice(0, 6)}`);
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.awareness.setLocalState(null);
    this.validator = new DocValidator(this.doc, (id) => deps.images.has(id));
    this.canvas = new CanvasBuilder(deps.images);
    this.stylesJob = new Coalescer(() => this.rebuildStyles());
    this.canvasJob = new Coalescer(() => this.rebuildCanvas());
    this.doc.on('update', (update: Uint8Array, origin: unknown) => this.onUpdate(update, origin));
    this.doc.on('afterTransaction', (tr: Y.Transaction) => this.onTransaction(tr));
    this.keyframeTimer = setInterval(() => this.saveKeyframe(), deps.keyframeIntervalMs);
    this.keyframeTimer.unref();
    this.armIdleTimer();
  }

  /** Nobody attached: after idlePauseMs the engine is suspended and the session unloaded. */
  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.suspend(), this.deps.idlePauseMs);
    this.idleTimer.unref();
  }

  /**
   * Starts the engine without attaching anyone (a new session, a frame.jpg request): it runs for
   * the idle grace period unless someone attaches.
   */
  wake(): void {
    if (this.closed) return;
    if (this.holders === 0) this.armIdleTimer();
    void this.ensureEngine();
  }

  /** A brand-new session: writes `init` as the first (durable) update. */
  static create(record: SessionRecord, deps: SessionDeps, init: InitialDocument): Session {
    deps.storage.createSession(record);
    const s = new Session(record, deps);
    seedDocument(s.doc, init);
    deps.commits.flush();
    return s;
  }

  /** Rebuilds a stored session by replaying its updates in order, one transaction each. */
  static load(record: SessionRecord, deps: SessionDeps): Session {
    const s = new Session(record, deps);
    for (const u of deps.storage.loadUpdates(record.id)) Y.applyUpdate(s.doc, u.update, STORAGE_ORIGIN);
    const kf = deps.storage.latestKeyframe(record.id);
    if (kf) {
      s.iter = kf.iter;
      s.lastKeyframeIter = kf.iter;
    }
    return s;
  }

  subscribe(l: SessionListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit<K extends keyof SessionListener>(k: K, ...args: Parameters<NonNullable<SessionListener[K]>>): void {
    for (const l of this.listeners) {
      try {
        (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
      } catch (e) {
        this.log.error(`listener ${k} failed`, { error: (e as Error).message });
      }
    }
  }

  private onUpdate(update: Uint8Array, origin: unknown): void {
    if (origin === STORAGE_ORIGIN) return;
    this.deps.commits.append({ sessionId: this.id, update, author: authorOf(origin), time: Date.now() }, (err) => {
      if (err) {
        this.log.error('could not store an update; not relaying it', { error: err.message });
        this.emit('invalid', origin, [{ code: ErrorCode.Internal, message: 'the server could not store this change' }]);
        return;
      }
      this.emit('durableUpdate', update, origin);
    });
  }

  private onTransaction(tr: Y.Transaction): void {
    const { changes, errors } = this.validator.onTransaction(tr);
    if (errors.length && tr.origin !== STORAGE_ORIGIN) this.emit('invalid', tr.origin, errors);
    if (changes.params) this.onParamsChanged();
    if (changes.styles) void this.stylesJob.run().catch((e) => this.fail(e));
    if (changes.canvas) void this.canvasJob.run().catch((e) => this.fail(e));
  }

  private onParamsChanged(): void {
    if (!this.engine) return;
    const params = this.validator.state().params;
    this.engine.update({ params });
    this.engine.setActive(params.running);
    if (!params.running) this.setState('paused');
  }

  private async rebuildStyles(): Promise<void> {
    const styles = await this.canvas.styles(this.validator.state().styles);
    this.builtStyles = styles;
    this.engine?.update({ styles });
  }

  private async rebuildCanvas(): Promise<void> {
    const { content, strokes } = this.validator.state();
    const canvas = await this.canvas.build(content, strokes);
    this.builtCanvas = canvas;
    this.engine?.update({ content: canvas });
  }

  private fail(e: unknown): void {
    this.log.error('engine input failed', { error: (e as Error).message });
    this.setState('error', (e as Error).message);
  }

  private setState(state: EngineState, message?: string): void {
    if (state === this.engineState && message === this.stateMessage) return;
    this.engineState = state;
    this.stateMessage = message;
    this.emit('status');
  }

  get state(): EngineState {
    return this.engineState;
  }
  get message(): string | undefined {
    return this.stateMessage;
  }
  get clientCount(): number {
    return this.sockets;
  }
  get backend(): string {
    return this.deps.engineHost.backend;
  }
  get running(): boolean {
    return this.engine !== null && this.engineState === 'running';
  }

  /**
   * Marks someone as watching (a socket or an MJPEG stream): starts or resumes the engine.
   * Returns the matching release function (idempotent).
   */
  attach(kind: 'socket' | 'stream'): () => void {
    if (this.closed) throw new Error('session is closed');
    this.holders++;
    if (kind === 'socket') this.sockets++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    void this.ensureEngine();
    this.emit('status');
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      if (kind === 'socket') this.sockets--;
      this.emit('status');
      if (this.holders === 0 && !this.closed) this.armIdleTimer();
    };
  }

  private ensureEngine(): Promise<void> {
    if (this.engine || this.closed) return Promise.resolve();
    this.opening ??= this.openEngine().finally(() => (this.opening = null));
    return this.opening;
  }

  private async openEngine(): Promise<void> {
    this.setState('loading');
    try {
      await Promise.all([this.builtStyles ? null : this.stylesJob.run(), this.builtCanvas ? null : this.canvasJob.run()]);
      let initImage: RgbImage | undefined;
      let iterOffset = 0;
      const kf = this.deps.storage.latestKeyframe(this.id);
      if (kf) {
        initImage = await decodeImage(kf.data);
        iterOffset = kf.iter;
      }
      if (this.closed || this.holders === 0 && !this.idleTimer) return;
      if (!this.builtCanvas || !this.builtStyles) throw new Error('engine inputs are missing');
      const params = this.validator.state().params;
      this.engine = this.deps.engineHost.open(
        this.id,
        { content: this.builtCanvas, styles: this.builtStyles, params },
        { initImage, iterOffset },
        {
          frame: (f) => this.onFrame(f),
          state: (s, m) => this.setState(s, m),
          step: () => this.deps.metrics?.step(),
        },
      );
      this.engine.setActive(params.running);
      if (!params.running) this.setState('paused');
    } catch (e) {
      this.fail(e);
    }
  }

  private onFrame(f: EngineFrame): void {
    this.iter = f.iter;
    this.stepsPerSec = f.stepsPerSec;
    this.latestFrame = {
      iter: f.iter,
      w: f.width,
      h: f.height,
      mime: f.mime,
      losses: f.losses,
      stepsPerSec: f.stepsPerSec,
      backend: this.backend,
      data: f.data,
    };
    recordLossSample(this.deps.storage, this.id, this.latestFrame);
    this.emit('frame', this.latestFrame);
  }

  /** Stores the latest frame as a keyframe when the image changed since the last one. */
  saveKeyframe(): void {
    const f = this.latestFrame;
    if (!f || f.iter === this.lastKeyframeIter || this.closed) return;
    try {
      this.deps.storage.putKeyframe({
        sessionId: this.id,
        iter: f.iter,
        width: f.w,
        height: f.h,
        mime: f.mime,
        data: Buffer.from(f.data),
        losses: f.losses,
        time: Date.now(),
      });
      this.lastKeyframeIter = f.iter;
      archiveKeyframe(this.deps.storage, this.id, f);
    } catch (e) {
      this.log.warn('could not store a keyframe', { error: (e as Error).message });
    }
  }

  /** Nobody watched for idlePauseMs: keyframe, free the engine, report idle. */
  private suspend(): void {
    this.idleTimer = null;
    if (this.holders > 0 || this.closed) return;
    this.saveKeyframe();
    this.engine?.dispose();
    this.engine = null;
    this.setState('idle');
    this.deps.onIdle?.(this);
  }

  /** Flushes pending writes, stores a keyframe, frees everything. */
  close(): void {
    if (this.closed) return;
    this.deps.commits.flush();
    this.saveKeyframe();
    this.closed = true;
    clearInterval(this.keyframeTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.engine?.dispose();
    this.engine = null;
    this.awareness.destroy();
    this.doc.destroy();
    this.listeners.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
