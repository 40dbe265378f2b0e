/**
 * A session's keyframes (S13): the latest frame is stored every `KEYFRAME_INTERVAL_MS` while the
 * iteration changes, and on idle and shutdown. The latest keyframe is where the optimization
 * resumes after a restart; all of them are the history. In a cluster a keyframe carries the
 * engine lease's fencing token, and storage refuses it once a newer owner wrote (S35).
 */
import type { FramePayload } from '../../shared/protocol.ts';
import type { Logger } from '../log.ts';
import { StaleFencingTokenError, type Storage } from '../storage/types.ts';

/** What the recorder reads from its session. */
export interface KeyframeSource {
  sessionId: string;
  storage: Storage;
  log: Logger;
  intervalMs: number;
  /** The newest frame, the one a keyframe stores. */
  latest(): FramePayload | null;
  /** Whether this process may store keyframes now: the session is open and runs its engine here. */
  mayWrite(): boolean;
  /** Fencing token of the engine lease held (cluster), or null. */
  fencingToken(): number | null;
  /** Storage refused a keyframe for a stale fencing token: a newer owner runs the engine. */
  leaseLost(): void;
}

export class KeyframeRecorder {
  private lastIter = -1;
  /** Time of the newest keyframe: keyframe times only grow per session (the latest is the greatest). */
  private lastTime = 0;
  /** The keyframe write in flight (at most one: a slow database skips a period rather than queueing). */
  private write: Promise<void> | null = null;
  private timer: NodeJS.Timeout;

  constructor(private readonly src: KeyframeSource) {
    this.timer = setInterval(() => this.save(), src.intervalMs);
    this.timer.unref();
  }

  /** The session was loaded with this keyframe as its latest: nothing to store until the iteration moves on. */
  resumedFrom(kf: { iter: number; time: number }): void {
    this.lastIter = kf.iter;
    this.lastTime = kf.time;
  }

  /** A stored keyframe of this time exists (read on engine start or lease take-over): later ones must be newer. */
  seen(time: number): void {
    this.lastTime = Math.max(this.lastTime, time);
  }

  /**
   * Stores the latest frame as a keyframe when the image changed since the last one. At most one
   * write is in flight; resolves when it is stored (or failed: a keyframe is never worth an error).
   */
  save(): Promise<void> {
    const f = this.src.latest();
    if (!f || f.iter === this.lastIter || !this.src.mayWrite()) return this.write ?? Promise.resolve();
    if (this.write) return this.write;
    const time = Math.max(Date.now(), this.lastTime + 1);
    this.lastTime = time;
    const iter = f.iter;
    const fencingToken = this.src.fencingToken();
    this.write = this.src.storage
      .putKeyframe({
        sessionId: this.src.sessionId,
        iter,
        width: f.w,
        height: f.h,
        mime: f.mime,
        data: Buffer.from(f.data),
        losses: f.losses,
        time,
        ...(fencingToken !== null ? { fencingToken } : {}),
      })
      .then(
        () => {
          this.lastIter = Math.max(this.lastIter, iter);
        },
        (e) => {
          if (e instanceof StaleFencingTokenError) return this.src.leaseLost();
          this.src.log.warn('could not store a keyframe', { error: (e as Error).message });
        },
      )
      .finally(() => (this.write = null));
    return this.write;
  }

  /** No more periodic keyframes (the session closes). */
  stop(): void {
    clearInterval(this.timer);
  }
}
