/**
 * The session layer's view of "an engine": where validated session state goes in and encoded
 * frames come out. Two implementations: {@link FakeEngineHost} (fake-engine.ts, in-process,
 * deterministic, for tests and ATELIER_FAKE_ENGINE=1) and the worker-thread host on the real
 * tfjs engine (server/worker/worker-host.ts). Keeping this seam small means the realtime and
 * storage code never waits on tensor code and is tested without it.
 */
import type { RgbImage, StyleInput, StyleRegion } from '../engine/api.ts';
import type { EngineState, LossTerms } from '../../shared/protocol.ts';
import type { Params } from '../../shared/schema.ts';

/** What a session's optimization is defined by, already validated and decoded. */
export interface EngineInputs {
  /** The composed canvas (content photo or background + strokes), at content width×height. */
  content: RgbImage;
  styles: StyleInput[];
  /** Styles painted into regions (S34), each with its mask at the canvas's working size. */
  regions: StyleRegion[];
  params: Params;
}

/** One encoded frame of a session's optimization. */
export interface EngineFrame {
  iter: number;
  width: number;
  height: number;
  mime: 'image/jpeg';
  data: Uint8Array;
  losses: LossTerms;
  stepsPerSec: number;
}

export interface EngineEvents {
  frame(frame: EngineFrame): void;
  state(state: EngineState, message?: string): void;
  /** Called after every optimizer step (metrics). */
  step?(): void;
}

export interface OpenOptions {
  /** Start from this image (a keyframe) instead of params.init. */
  initImage?: RgbImage;
  /** Iterations already done before `initImage` (so `iter` keeps counting across restarts). */
  iterOffset?: number;
  /** Scheduling group (the client address that owns the session): the device is shared fairly between groups first (S26). */
  group?: string;
}

/** A running optimization of one session. */
export interface SessionEngine {
  /** Re-targets warm: the current image carries over (changing `params.model` rebuilds from it). */
  update(changes: Partial<EngineInputs>): void;
  /** Pauses (false) or resumes (true) stepping; a paused engine keeps its image. */
  setActive(active: boolean): void;
  /** Stops and frees it; no events after this. */
  dispose(): void;
}

export interface EngineHost {
  /** Backend name once known (`fake`, `tensorflow`, `webgpu`, `wasm`, `cpu`), else `pending`. */
  readonly backend: string;
  /** Live engine tensors as last reported, where the engine reports them (for /metrics and soak runs). */
  readonly tensorCount?: number;
  /** Model used when a session's params name none it can load (the configured MODEL). */
  open(sessionId: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine;
  /**
   * Estimated milliseconds of one optimization step of `model` on `pixels` pixels on this
   * backend (S26); absent = no engine budget (the fake engine's steps cost nothing to speak of).
   */
  estimateStepMs?(model: string, pixels: number): number;
  close(): Promise<void>;
}
