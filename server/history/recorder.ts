/**
 * What the session layer records for history beyond the document updates: every keyframe (the
 * resume keyframes are pruned to the last few, a timelapse needs them all) and a loss sample
 * about once a second. Both are one-line hooks in session.ts; on a storage without the history
 * queries ({@link historyStoreOf}) they do nothing.
 */
import type { FramePayload } from '../../shared/protocol.ts';
import { historyStoreOf, type Storage } from '../storage/types.ts';

/** At most one loss sample per session per this many ms (frames come at up to FRAME_RATE/s). */
export const LOSS_SAMPLE_INTERVAL_MS = 1000;

const lastSampleAt = new WeakMap<Storage, Map<string, number>>();

/**
 * Stores `frame`'s losses for `sessionId` unless one was stored less than
 * {@link LOSS_SAMPLE_INTERVAL_MS} ago. Never throws (history must not break the live session).
 */
export function recordLossSample(storage: Storage, sessionId: string, frame: Pick<FramePayload, 'iter' | 'losses'>, now = Date.now()): boolean {
  const history = historyStoreOf(storage);
  if (!history) return false;
  let perSession = lastSampleAt.get(storage);
  if (!perSession) lastSampleAt.set(storage, (perSession = new Map()));
  const last = perSession.get(sessionId);
  if (last !== undefined && now - last < LOSS_SAMPLE_INTERVAL_MS && now >= last) return false;
  perSession.set(sessionId, now);
  try {
    history.appendLossSample({ sessionId, time: now, iter: frame.iter, losses: { ...frame.losses } });
    return true;
  } catch {
    return false;
  }
}

/**
 * Archives `frame` as a keyframe of `sessionId` (call right after a resume keyframe was stored).
 * Returns the archive id, or undefined when the storage has no archive or the write failed.
 */
export function archiveKeyframe(storage: Storage, sessionId: string, frame: FramePayload, now = Date.now()): number | undefined {
  const history = historyStoreOf(storage);
  if (!history) return undefined;
  try {
    return history.archiveKeyframe({
      sessionId,
      iter: frame.iter,
      width: frame.w,
      height: frame.h,
      mime: frame.mime,
      data: Buffer.from(frame.data),
      losses: { ...frame.losses },
      time: now,
    });
  } catch {
    return undefined;
  }
}
