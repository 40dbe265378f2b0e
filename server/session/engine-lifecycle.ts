/**
 * A session's engine lifecycle (S12, S35): the engine exists while someone is attached (a socket or
 * an MJPEG stream) and for `idlePauseMs` after the last one leaves; then a keyframe is stored and
 * the engine disposed. Reattaching reopens it from the latest keyframe, exactly as after a server
 * restart. In a cluster the engine runs only while this process holds the session's engine lease
 * (with its fencing token); otherwise the owner's frames and state are mirrored here.
 *
 * The session (session.ts) owns the document and builds the engine's inputs; this class decides
 * when an engine runs and reports its state and frames.
 */
import type { EngineState, FramePayload } from '../../shared/protocol.ts';
import type { Params } from '../../shared/schema.ts';
import type { RgbImage } from '../engine/api.ts';
import { decodeImage } from '../images/codec.ts';
import type { Logger } from '../log.ts';
import { StorageUnavailableError, type Storage } from '../storage/types.ts';
import type { EngineFrame, EngineHost, EngineInputs, SessionEngine } from './engine-host.ts';
import type { KeyframeRecorder } from './keyframe-recorder.ts';
import { recordLossSample } from './loss-samples.ts';

export interface EngineLifecycleDeps {
  sessionId: string;
  log: Logger;
  storage: Storage;
  engineHost: EngineHost;
  idlePauseMs: number;
  metrics?: { step(): void };
  keyframes: KeyframeRecorder;
  /** Cluster: ask for the engine lease (granted later with {@link EngineLifecycle.grantEngine}) / give it back. Absent in one process. */
  lease?: { want(): void; release(): void };
  /** Builds the inputs not built yet (styles, canvas, regions). */
  buildInputs(): Promise<unknown>;
  /** The built inputs, or null while one is missing. */
  inputs(): Omit<EngineInputs, 'params'> | null;
  /** The params the engine gets (validated, with the admitted resolution). */
  params(): Params;
  /** The engine's scheduling group (S26). */
  group(): string;
  isClosed(): boolean;
  /** Applies stored updates this process missed (cluster, on taking the lease). */
  catchUp(): Promise<void>;
  /** The engine state or client count changed. */
  status(): void;
  frame(frame: FramePayload): void;
  /** Idle long enough to be dropped from memory. */
  idle(): void;
}

export class EngineLifecycle {
  private engine: SessionEngine | null = null;
  private opening: Promise<void> | null = null;
  private engineState: EngineState = 'idle';
  private stateMessage: string | undefined;
  private sockets = 0;
  private holders = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private lease: number | null = null;
  /** Latest frame (JPEG), served to new clients and to frame.jpg / stream.mjpg. */
  latestFrame: FramePayload | null = null;
  iter = 0;
  stepsPerSec = 0;

  constructor(private readonly deps: EngineLifecycleDeps) {
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
    if (this.deps.isClosed()) return;
    if (this.holders === 0) this.armIdleTimer();
    void this.ensureEngine();
  }

  /**
   * Marks someone as watching (a socket or an MJPEG stream): starts or resumes the engine.
   * Returns the matching release function (idempotent).
   */
  attach(kind: 'socket' | 'stream'): () => void {
    this.holders++;
    if (kind === 'socket') this.sockets++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    void this.ensureEngine();
    // The status names the socket count only: a stream coming or going changes nothing in it
    // (255 streams opened at once sent 255 status broadcasts to every socket of the session).
    if (kind === 'socket') this.deps.status();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      if (kind === 'socket') {
        this.sockets--;
        this.deps.status();
      }
      if (this.holders === 0 && !this.deps.isClosed()) this.armIdleTimer();
    };
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
  get watcherCount(): number {
    return this.holders;
  }
  get backend(): string {
    return this.deps.engineHost.backend;
  }
  get running(): boolean {
    return this.engine !== null && this.engineState === 'running';
  }
  /** Fencing token of the engine lease this process holds (cluster), or null. */
  get fencingToken(): number | null {
    return this.lease;
  }

  /** Re-targets the running engine, if any (the inputs are kept by the session for the next open). */
  update(changes: Partial<EngineInputs>): void {
    this.engine?.update(changes);
  }

  /** The params changed: re-target the running engine and pause or resume it. */
  paramsChanged(): void {
    if (!this.engine) return;
    const params = this.deps.params();
    this.engine.update({ params });
    this.engine.setActive(params.running);
    if (!params.running) this.setState('paused');
  }

  /** Building an input failed: the engine cannot run until the inputs change. */
  fail(e: unknown): void {
    if (this.deps.isClosed()) return; // a rebuild that was in flight when the session closed: nothing to report
    this.deps.log.error('engine input failed', { error: (e as Error).message });
    this.setState('error', (e as Error).message);
  }

  private setState(state: EngineState, message?: string): void {
    if (state === this.engineState && message === this.stateMessage) return;
    this.engineState = state;
    this.stateMessage = message;
    this.deps.status();
  }

  private ensureEngine(): Promise<void> {
    if (this.engine || this.deps.isClosed()) return Promise.resolve();
    if (this.deps.lease && this.lease === null) {
      this.deps.lease.want();
      return Promise.resolve();
    }
    this.opening ??= this.openEngine().finally(() => (this.opening = null));
    return this.opening;
  }

  private async openEngine(): Promise<void> {
    const { deps } = this;
    this.setState('loading');
    try {
      await deps.buildInputs();
      let initImage: RgbImage | undefined;
      let iterOffset = 0;
      const kf = await deps.storage.latestKeyframe(deps.sessionId);
      if (kf) {
        deps.keyframes.seen(kf.time);
        initImage = await decodeImage(kf.data);
        iterOffset = kf.iter;
      }
      if (deps.isClosed() || this.holders === 0 && !this.idleTimer || !this.ownsEngine) return;
      const inputs = deps.inputs();
      if (!inputs) throw new Error('engine inputs are missing');
      const params = deps.params();
      this.engine = deps.engineHost.open(
        deps.sessionId,
        { ...inputs, params },
        { initImage, iterOffset, group: deps.group() },
        {
          frame: (f) => this.onFrame(f),
          state: (s, m) => this.setState(s, m),
          step: () => deps.metrics?.step(),
        },
      );
      this.engine.setActive(params.running);
      if (!params.running) this.setState('paused');
    } catch (e) {
      if (e instanceof StorageUnavailableError && !deps.isClosed()) {
        // The keyframe could not be read: try again rather than restart the optimization from scratch.
        deps.log.warn('could not read the keyframe to resume from; retrying', { error: e.message });
        setTimeout(() => void this.ensureEngine(), 1000).unref();
        return;
      }
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
    recordLossSample(this.deps.storage, this.deps.sessionId, this.latestFrame);
    this.deps.frame(this.latestFrame);
  }

  /** Nobody watched for idlePauseMs: keyframe, free the engine, report idle. */
  private suspend(): void {
    this.idleTimer = null;
    if (this.holders > 0 || this.deps.isClosed()) return;
    void this.deps.keyframes.save();
    this.engine?.dispose();
    this.engine = null;
    this.dropLease();
    this.setState('idle');
    this.deps.idle();
  }

  /** The session closes: no timer, no engine, no lease. */
  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.engine?.dispose();
    this.engine = null;
    this.dropLease();
  }

  // --- cluster (several processes; see server/cluster) ---

  /** Whether this process runs the session's engine: always in one process, with the lease in a cluster. */
  get ownsEngine(): boolean {
    return !this.deps.lease || this.lease !== null;
  }

  /** Whether the session wants an engine now (someone attached, or woken within the grace period). */
  get wantsEngine(): boolean {
    return !this.deps.isClosed() && (this.holders > 0 || this.idleTimer !== null);
  }

  /**
   * This process now holds the engine lease with `fencingToken`: catch up on stored updates it may
   * have missed (a dead owner's last ones) and start the engine from the latest keyframe.
   */
  grantEngine(fencingToken: number): void {
    if (this.deps.isClosed()) return;
    this.lease = fencingToken;
    void (async () => {
      try {
        await this.deps.catchUp();
        const kf = await this.deps.storage.latestKeyframe(this.deps.sessionId);
        if (kf && kf.iter > this.iter) this.iter = kf.iter;
        if (kf) this.deps.keyframes.seen(kf.time);
      } catch (e) {
        this.deps.log.warn('could not catch up from storage on taking the engine', { error: (e as Error).message });
      }
      if (this.wantsEngine && this.lease === fencingToken) void this.ensureEngine();
    })();
  }

  /** The lease was lost (expired, or a newer owner's fencing token): stop the engine here. */
  revokeEngine(): void {
    if (this.lease === null) return;
    this.deps.log.warn('engine lease lost; another process runs the optimization now');
    this.lease = null;
    this.engine?.dispose();
    this.engine = null;
    if (this.wantsEngine) this.deps.lease?.want();
  }

  /** No engine needed here any more: stop waiting for the lease, give it back if held. */
  private dropLease(): void {
    this.lease = null;
    this.deps.lease?.release();
  }

  /** A frame of the owning process: relay it to this process's clients (ignored by the owner). */
  applyRemoteFrame(frame: FramePayload): void {
    if (this.deps.isClosed() || this.ownsEngine) return;
    this.iter = frame.iter;
    this.stepsPerSec = frame.stepsPerSec;
    this.latestFrame = frame;
    this.deps.frame(frame);
  }

  /** The owner's engine state, mirrored on the other processes. */
  applyRemoteState(state: EngineState, message?: string): void {
    if (this.deps.isClosed() || this.ownsEngine) return;
    this.setState(state, message);
  }
}
