/**
 * Latest-wins frame pipeline. The server streams frames and waits for an ack per frame (at most
 * MAX_UNACKED_FRAMES in flight). Decoding takes time, so while one frame decodes only the newest
 * arrival is kept; a frame that is overtaken is acknowledged at once without being shown, and a
 * shown frame is acknowledged right after it was handed to the display. Every frame is acked
 * exactly once, even if decoding fails. Decode and display are injected: tested in Node.
 */
export interface QueuedFrame<F> {
  frame: F;
  ack: () => void;
}

export class LatestFrameQueue<F, D> {
  private busy = false;
  private pending: QueuedFrame<F> | null = null;
  private closed = false;
  shown = 0;
  skipped = 0;
  failed = 0;

  constructor(
    private readonly decode: (frame: F) => Promise<D>,
    private readonly display: (decoded: D, frame: F) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  push(frame: F, ack: () => void): void {
    const once = onceOnly(ack);
    if (this.closed) return once();
    if (this.busy) {
      if (this.pending) {
        this.skipped++;
        this.pending.ack();
      }
      this.pending = { frame, ack: once };
      return;
    }
    void this.run({ frame, ack: once });
  }

  /** Stops displaying; pending frames are acknowledged so the server is not left waiting. */
  close(): void {
    this.closed = true;
    this.pending?.ack();
    this.pending = null;
  }

  private async run(item: QueuedFrame<F>): Promise<void> {
    this.busy = true;
    let next: QueuedFrame<F> | null = item;
    while (next) {
      const current: QueuedFrame<F> = next;
      try {
        const decoded = await this.decode(current.frame);
        if (!this.closed) {
          this.display(decoded, current.frame);
          this.shown++;
        }
      } catch (err) {
        this.failed++;
        this.onError(err);
      } finally {
        current.ack();
      }
      next = this.pending;
      this.pending = null;
    }
    this.busy = false;
  }
}

function onceOnly(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    try {
      fn();
    } catch {
      /* a dead socket's ack: nothing to do */
    }
  };
}
