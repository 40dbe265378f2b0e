/**
 * What the session records for history beyond the document updates and keyframes (every
 * keyframe is kept by `Storage.putKeyframe`): a loss sample about once a second. A one-line hook
 * in session.ts; never throws (a failed write is logged once per outage) and never queues behind a slow database (a sample whose predecessor
 * is still being written is skipped: samples are a curve, not data).
 */
import type { FramePayload } from '../../shared/protocol.ts';
import { createLogger } from '../log.ts';
import type { Storage } from '../storage/types.ts';

const log = createLogger('history');

/** At most one loss sample per session per this many ms (frames come at up to FRAME_RATE/s). */
export const LOSS_SAMPLE_INTERVAL_MS = 1000;

const lastSampleAt = new WeakMap<Storage, Map<string, number>>();
const writing = new WeakMap<Storage, Set<string>>();
/** Stores whose last loss-sample write failed: one warning per outage, not one per second. */
const failing = new WeakSet<Storage>();

/**
 * Stores `frame`'s losses for `sessionId` unless one was stored less than
 * {@link LOSS_SAMPLE_INTERVAL_MS} ago or is still being written. Returns whether a write started.
 */
export function recordLossSample(storage: Storage, sessionId: string, frame: Pick<FramePayload, 'iter' | 'losses'>, now = Date.now()): boolean {
  let perSession = lastSampleAt.get(storage);
  if (!perSession) lastSampleAt.set(storage, (perSession = new Map()));
  let inFlight = writing.get(storage);
  if (!inFlight) writing.set(storage, (inFlight = new Set()));
  const last = perSession.get(sessionId);
  if ((last !== undefined && now - last < LOSS_SAMPLE_INTERVAL_MS && now >= last) || inFlight.has(sessionId)) return false;
  perSession.set(sessionId, now);
  inFlight.add(sessionId);
  storage
    .appendLossSample({ sessionId, time: now, iter: frame.iter, losses: { ...frame.losses } })
    .then(
      () => {
        if (failing.delete(storage)) log.info('loss samples are stored again');
      },
      (e: Error) => {
        // A missed sample is a gap in the loss curve, nothing more; the session goes on.
        if (failing.has(storage)) return;
        failing.add(storage);
        log.warn('could not store a loss sample; the loss curve has a gap until storage answers again', { session: sessionId, error: e.message });
      },
    )
    .finally(() => inFlight.delete(sessionId));
  return true;
}
