/**
 * The engine worker thread: runs every session's optimization off the main event loop.
 *
 * Scheduling (S26): one worker per server process owns the device (one tfjs backend); it steps
 * the active sessions one step at a time, choosing the next by engine *time* used
 * (fair-scheduler.ts: between owner addresses first, then their sessions), so a session with
 * 1-second steps cannot starve one with 50 ms steps. A step still running after
 * `stepTimeLimitMs` is preempted at its next layer and its session stopped with an error.
 * Messages from the main thread are handled between steps, so a document change reaches the
 * optimization before its next step; and a step that is running when its session's inputs change
 * is abandoned and started over with them (E21, S23), unless the step before it was abandoned too
 * (so that a stream of changes — someone painting — cannot stop the optimization). Frames are
 * read back and JPEG-encoded here at most `frameRate` times per second per session.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FeatureNetwork, RgbImage, StyleTransfer, TransferInputs } from '../engine/api.ts';
import * as tf from '@tensorflow/tfjs-core';
import * as engine from '../engine/index.ts';
import { encodeImage } from '../images/codec.ts';
import type { FromWorker, ToWorker, WireInputs, WorkerInit } from './messages.ts';
import { toTransferParams } from './transfer-params.ts';
import { FairScheduler } from './fair-scheduler.ts';

const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');
const init = workerData as WorkerInit;
const interruptCounters = new Int32Array(init.interruptCounters);
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

interface Slot {
  id: string;
  inputs: Required<WireInputs>;
  initImage?: RgbImage;
  iterOffset: number;
  transfer: engine.EngineStyleTransfer | null;
  modelInUse: string;
  /** Changes received since the last step, applied just before the next one. */
  pending: WireInputs | null;
  active: boolean;
  lastFrameAt: number;
  stepTimes: number[];
  unreportedSteps: number;
  failed: boolean;
  /** Closed while its step was running: dispose once the step is over. */
  closed: boolean;
  /** Its counter in `interruptCounters` (−1: none). */
  interruptSlot: number;
  /** Whether its last step was abandoned (then the next one runs to the end). */
  interruptedLast: boolean;
  /** `seq` of the newest update received (all of them are applied before each step). */
  receivedSeq: number;
  unreportedInterrupts: number;
  /** Loss terms of the last completed step (sent with a frame posted between steps). */
  lastLosses: StepResultLosses;
  /** Engine ms of the completed steps not reported yet. */
  unreportedMs: number;
  group: string;
  /** Not built because its group already runs its maximum of optimizations (S26). */
  waiting: boolean;
}

type StepResultLosses = engine.LossValues;

const slots = new Map<string, Slot>();
const networks = new Map<string, Promise<FeatureNetwork>>();
let shuttingDown = false;
let wake: (() => void) | null = null;
const scheduler = new FairScheduler<Slot>();
const runnable = (s: Slot) => scheduler.setRunnable(s, s.active && !s.failed && !s.closed && !s.waiting);

/** S26: whether `slot`'s group already has its maximum of built optimizations (then it waits). */
function groupFull(slot: Slot): boolean {
  let built = 0;
  for (const s of slots.values()) if (s !== slot && s.group === slot.group && s.transfer && !s.closed) built++;
  return built >= init.maxSessionsPerGroup;
}

/** A group's optimization was freed: its waiting sessions may be built now. */
function releaseWaiting(group: string): void {
  for (const s of slots.values()) {
    if (s.group === group && s.waiting) {
      s.waiting = false;
      runnable(s);
    }
  }
}
/** The slot whose step is running now (its tensors must not be disposed under it). */
let stepping: Slot | null = null;

function network(model: string): Promise<FeatureNetwork> {
  let n = networks.get(model);
  if (!n) {
    if (!(engine.NETWORK_NAMES as readonly string[]).includes(model)) return Promise.reject(new Error(`unknown model '${model}'`));
    n = engine.loadNetwork(model as engine.NetworkName, model === 'vgg19' && init.vgg19Weights ? { weightsPath: init.vgg19Weights } : {});
    n.catch(() => networks.delete(model));
    networks.set(model, n);
  }
  return n;
}

async function build(slot: Slot): Promise<void> {
  const model = init.forceModel ?? slot.inputs.params.model;
  post({ type: 'state', id: slot.id, state: 'loading' });
  const net = await network(model);
  const fromImage = !!slot.initImage;
  slot.transfer = engine.createStyleTransfer(net, {
    content: slot.inputs.content,
    styles: slot.inputs.styles,
    regions: slot.inputs.regions,
    params: toTransferParams(slot.inputs.params, slot.inputs.params.resolution, fromImage),
    ...(slot.initImage ? { initImage: slot.initImage } : {}),
  });
  slot.modelInUse = model;
  post({ type: 'state', id: slot.id, state: slot.active ? 'running' : 'paused' });
}

/**
 * Applies the changes received since the last step. Returns true when they rewrote the image
 * itself (content written in, restart, new picture: E11, E24), which people should see at once.
 */
async function applyPending(slot: Slot): Promise<boolean> {
  const changes = slot.pending;
  slot.pending = null;
  if (!changes || !slot.transfer) return false;
  // Reset (a new `restart`) starts over from the document's start image, not from the keyframe
  // this engine was resumed from (E11).
  if (changes.params && changes.params.restart !== slot.inputs.params.restart) slot.initImage = undefined;
  Object.assign(slot.inputs, changes);
  const model = init.forceModel ?? slot.inputs.params.model;
  if (model !== slot.modelInUse) {
    // A different network cannot be re-targeted warm; restart from the current image.
    const current = await slot.transfer.image();
    slot.iterOffset += slot.transfer.iter;
    slot.transfer.dispose();
    slot.transfer = null;
    slot.initImage = current;
    await build(slot);
    return false;
  }
  const update: Partial<TransferInputs> = {};
  if (changes.content) update.content = changes.content;
  if (changes.styles) update.styles = changes.styles;
  if (changes.regions) update.regions = changes.regions;
  if (changes.params) update.params = toTransferParams(changes.params, changes.params.resolution, !!slot.initImage);
  const rewrites = () => slot.transfer!.counters.inits + slot.transfer!.counters.writeIns;
  const before = rewrites();
  slot.transfer.update(update);
  return rewrites() !== before;
}

/** Reads the current image back and posts it as a frame (JPEG). */
async function postFrame(slot: Slot, losses: StepResultLosses): Promise<void> {
  const t = slot.transfer!;
  const img = await t.image();
  const jpeg = await encodeImage(img, 'image/jpeg', init.frameQuality);
  const data = new Uint8Array(jpeg.buffer.slice(jpeg.byteOffset, jpeg.byteOffset + jpeg.byteLength));
  const st = slot.stepTimes;
  const stepsPerSec = st.length > 1 ? ((st.length - 1) * 1000) / (st[st.length - 1] - st[0]) : 0;
  post(
    { type: 'frame', id: slot.id, iter: slot.iterOffset + t.iter, width: img.width, height: img.height, data, losses, stepsPerSec, tensors: tf.memory().numTensors },
    [data.buffer as ArrayBuffer],
  );
}

/**
 * The step's interrupt check: has the main thread posted an update this step was not built
 * from? (Its counter runs ahead of `receivedSeq` while that update is still in the queue.)
 */
function interruptCheck(slot: Slot): (() => boolean) | undefined {
  if (slot.interruptSlot < 0 || slot.interruptedLast) return undefined;
  const built = slot.receivedSeq;
  return () => Atomics.load(interruptCounters, slot.interruptSlot) > built;
}

/** Runs one step of `slot`; false when it was abandoned because its inputs changed meanwhile. */
async function stepOnce(slot: Slot): Promise<boolean> {
  if (!slot.transfer && groupFull(slot)) {
    slot.waiting = true;
    runnable(slot);
    post({
      type: 'state',
      id: slot.id,
      state: 'loading',
      message: `waiting: the address that owns this session already runs ${init.maxSessionsPerGroup} optimizations at once (ENGINE_MAX_SESSIONS_PER_IP); it starts when one of them stops`,
    });
    return true;
  }
  if (!slot.transfer) await build(slot);
  if (await applyPending(slot)) {
    // The change is in the image now: show it before the step (a step can take seconds on big
    // models or a busy machine; E24 makes a stroke visible without waiting for one).
    slot.lastFrameAt = performance.now();
    await postFrame(slot, slot.lastLosses);
  }
  const t = slot.transfer!;
  let r: Awaited<ReturnType<StyleTransfer['step']>>;
  const started = performance.now();
  const changed = interruptCheck(slot);
  let timedOut = false;
  const interrupt = () => {
    if (changed?.()) return true;
    if (performance.now() - started > init.stepTimeLimitMs) return (timedOut = true);
    return false;
  };
  try {
    r = await t.step({ interrupt });
  } catch (e) {
    if (!(e instanceof engine.StepInterrupted)) throw e;
    if (timedOut) {
      // S26: preempted. Stopped until its inputs change (an update clears `failed`).
      slot.failed = true;
      runnable(slot);
      post({
        type: 'state',
        id: slot.id,
        state: 'error',
        message: `one optimization step of this session took over ${init.stepTimeLimitMs} ms and was stopped (ENGINE_STEP_TIME_LIMIT_MS); lower params.resolution or choose a lighter model`,
      });
      return true;
    }
    slot.interruptedLast = true;
    slot.unreportedInterrupts++;
    return false;
  }
  slot.interruptedLast = false;
  const now = performance.now();
  slot.unreportedMs += r.ms;
  slot.stepTimes.push(now);
  if (slot.stepTimes.length > 20) slot.stepTimes.shift();
  slot.unreportedSteps++;
  if (now - slot.lastFrameAt >= 1000 / init.frameRate) {
    slot.lastFrameAt = now;
    post({ type: 'steps', id: slot.id, count: slot.unreportedSteps, interrupted: slot.unreportedInterrupts, ms: slot.unreportedMs, pixels: t.width * t.height, model: slot.modelInUse });
    slot.unreportedSteps = 0;
    slot.unreportedInterrupts = 0;
    slot.unreportedMs = 0;
    await postFrame(slot, r.losses);
  }
  slot.lastLosses = r.losses;
  return true;
}

function nextActive(): Slot | null {
  return scheduler.next() ?? null;
}

async function loop(): Promise<void> {
  /** A slot whose step was abandoned goes again at once (its turn is not lost). */
  let again: Slot | null = null;
  while (!shuttingDown) {
    const slot: Slot | null = again && slots.get(again.id) === again && again.active && !again.failed ? again : nextActive();
    again = null;
    if (!slot) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    stepping = slot;
    const t0 = performance.now();
    try {
      if (!(await stepOnce(slot))) again = slot;
    } catch (e) {
      slot.failed = true;
      runnable(slot);
      if (!slot.closed) post({ type: 'state', id: slot.id, state: 'error', message: `engine failed: ${(e as Error).message}` });
    } finally {
      // Everything this turn cost (build, step, readback, JPEG) is charged to the session and its group.
      scheduler.charge(slot, performance.now() - t0);
      stepping = null;
      if (slot.closed) slot.transfer?.dispose();
    }
    // Let queued messages (updates, pauses) in before the next step.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'open':
      slots.set(m.id, {
        id: m.id,
        inputs: m.inputs,
        initImage: m.initImage,
        iterOffset: m.iterOffset,
        transfer: null,
        modelInUse: '',
        pending: null,
        active: false,
        lastFrameAt: 0,
        stepTimes: [],
        unreportedSteps: 0,
        failed: false,
        closed: false,
        interruptSlot: m.interruptSlot,
        interruptedLast: false,
        receivedSeq: 0,
        unreportedInterrupts: 0,
        lastLosses: { total: 0, style: 0, content: 0, tv: 0 },
        unreportedMs: 0,
        group: m.group,
        waiting: false,
      });
      scheduler.add(slots.get(m.id)!, m.group);
      break;
    case 'update': {
      const s = slots.get(m.id);
      if (s) {
        s.pending = { ...(s.pending ?? {}), ...m.changes };
        s.receivedSeq = Math.max(s.receivedSeq, m.seq);
        if (!s.transfer) Object.assign(s.inputs, s.pending), (s.pending = null);
        s.failed = false;
        runnable(s);
      }
      break;
    }
    case 'active': {
      const s = slots.get(m.id);
      if (s && s.active !== m.active) {
        s.active = m.active;
        runnable(s);
        s.stepTimes = [];
        post({ type: 'state', id: m.id, state: m.active ? (s.transfer ? 'running' : 'loading') : 'paused' });
      }
      break;
    }
    case 'close': {
      const s = slots.get(m.id);
      slots.delete(m.id);
      if (s) {
        s.closed = true;
        scheduler.remove(s);
        if (s !== stepping) s.transfer?.dispose();
        releaseWaiting(s.group);
      }
      break;
    }
    case 'shutdown':
      shuttingDown = true;
      for (const s of slots.values()) {
        s.closed = true;
        scheduler.remove(s);
        if (s !== stepping) s.transfer?.dispose();
      }
      slots.clear();
      post({ type: 'closed' });
      break;
  }
  wake?.();
});

try {
  const backend = await engine.initBackend(init.backend, init.wasmThreads ? { wasmThreads: init.wasmThreads } : {});
  post({ type: 'ready', backend });
  await loop();
} catch (e) {
  post({ type: 'fatal', message: (e as Error).message });
}
