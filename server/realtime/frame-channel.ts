/**
 * Latest-wins, acknowledged frame delivery to one client. At most `maxUnacked` frames are in
 * flight; while the window is full only the newest frame waits (older pending ones are dropped),
 * so a slow client sees fewer frames but never delays the optimization or other clients.
 */
import type { FramePayload } from '../../shared/protocol.ts';

/** Sends one frame; must call `acked` exactly once when the client acknowledges (or gives up). */
export type FrameSender = (frame: FramePayload, acked: () => void) => void;

export class FrameChannel {
  private unacked = 0;
  private pending: FramePayload | null = null;
  private closed = false;
  /** Frames handed to the sender / dropped because a newer one replaced them (tests, metrics). */
  sent = 0;
  dropped = 0;

  constructor(
    private send: FrameSender,
    private maxUnacked: number,
  ) {}

  offer(frame: FramePayload): void {
    if (this.closed) return;
    if (this.unacked < this.maxUnacked) this.sendNow(frame);
    else {
      if (this.pending) this.dropped++;
      this.pending = frame;
    }
  }

  private sendNow(frame: FramePayload): void {
    this.unacked++;
    this.sent++;
    let done = false;
    this.send(frame, () => {
      if (done) return;
      done = true;
      this.unacked--;
      const next = this.pending;
      this.pending = null;
      if (next && !this.closed) this.sendNow(next);
    });
  }

  get inFlight(): number {
    return this.unacked;
  }

  close(): void {
    this.closed = true;
    this.pending = null;
  }
}
