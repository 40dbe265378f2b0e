/** Messages between the main thread ({@link WorkerEngineHost}) and the engine worker. */
import type { BackendName, RgbImage, StyleInput, StyleRegion } from '../engine/api.ts';
import type { EngineState, LossTerms } from '../../shared/protocol.ts';
import type { Params } from '../../shared/schema.ts';

export interface WorkerInit {
  backend: BackendName | 'auto';
  /** wasm XNNPACK threads; 0 = one per core (at most 8). */
  wasmThreads?: number;
  /** The configured default MODEL (new sessions get it in params.model; kept for logs). */
  model: string;
  vgg19Weights?: string;
  frameRate: number;
  frameQuality: number;
  /** Test hook: every session uses this network (e.g. `tiny`) whatever params.model says. */
  forceModel?: string;
  /**
   * One Int32 counter per open session (its `interruptSlot`), set by the main thread to the
   * update's `seq` right after it posts that session an update: a running step that sees a value
   * beyond the updates it was built from starts over with the new inputs instead of finishing
   * with the old ones (E21, S23).
   */
  interruptCounters: SharedArrayBuffer;
  /** A step still running after this long is preempted and its session stopped (S26, ENGINE_STEP_TIME_LIMIT_MS). */
  stepTimeLimitMs: number;
  /** Optimizations built at once per scheduling group (owner address); the others wait (S26, ENGINE_MAX_SESSIONS_PER_IP). */
  maxSessionsPerGroup: number;
}

export interface WireInputs {
  content?: RgbImage;
  styles?: StyleInput[];
  regions?: StyleRegion[];
  params?: Params;
}

export type ToWorker =
  /** `group`: the scheduling group (owner address) the device is shared between first (S26). */
  | { type: 'open'; id: string; inputs: Required<WireInputs>; initImage?: RgbImage; iterOffset: number; interruptSlot: number; group: string }
  /** `seq`: the session's update count, which its interrupt counter is set to right after. */
  | { type: 'update'; id: string; changes: WireInputs; seq: number }
  | { type: 'active'; id: string; active: boolean }
  | { type: 'close'; id: string }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'fatal'; message: string }
  | { type: 'state'; id: string; state: EngineState; message?: string }
  | {
      type: 'frame';
      id: string;
      iter: number;
      width: number;
      height: number;
      data: Uint8Array;
      losses: LossTerms;
      stepsPerSec: number;
      /** Live tfjs tensors in the worker (tf.memory().numTensors): flat over time, or a leak. */
      tensors: number;
    }
  /** `ms`: engine time of those `count` completed steps, on `pixels` pixels of `model` (teaches the cost model). */
  | { type: 'steps'; id: string; count: number; interrupted: number; ms: number; pixels: number; model: string }
  | { type: 'closed' };
