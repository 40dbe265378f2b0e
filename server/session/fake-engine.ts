/**
 * In-process fake engine: "optimizes" by moving the image a fixed fraction toward a target (the
 * content tinted with the mean colour of the styles), at a fixed step rate, and emits JPEG frames
 * at the configured frame rate. Deterministic enough for tests; honest about being fake (backend
 * `fake`). It honours update/setActive/dispose exactly like the real host, so everything above it
 * (sync, persistence, frames, pause/resume, keyframes) is exercised for real.
 */
import type { RgbImage } from '../engine/api.ts';
import { encodeImage } from '../images/codec.ts';
import type { EngineEvents, EngineFrame, EngineHost, EngineInputs, OpenOptions, SessionEngine } from './engine-host.ts';

export interface FakeEngineOptions {
  frameRate: number;
  frameQuality: number;
  /** Optimizer steps per second per session (default 50). */
  stepsPerSec?: number;
}

/** Nearest-neighbour resize so the long side is `longSide` (cheap; the fake needs no quality). */
function resizeNearest(img: RgbImage, longSide: number): RgbImage {
  const s = longSide / Math.max(img.width, img.height);
  const w = Math.max(1, Math.round(img.width * s));
  const h = Math.max(1, Math.round(img.height * s));
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor(y / s));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.floor(x / s));
      const i = (y * w + x) * 3, j = (sy * img.width + sx) * 3;
      out[i] = img.data[j];
      out[i + 1] = img.data[j + 1];
      out[i + 2] = img.data[j + 2];
    }
  }
  return { width: w, height: h, data: out };
}

function meanColor(img: RgbImage): [number, number, number] {
  const acc = [0, 0, 0];
  const n = img.width * img.height;
  const stride = Math.max(1, Math.floor(n / 4096));
  let k = 0;
  for (let p = 0; p < n; p += stride, k++) for (let c = 0; c < 3; c++) acc[c] += img.data[p * 3 + c];
  return [acc[0] / k, acc[1] / k, acc[2] / k];
}

class FakeSessionEngine implements SessionEngine {
  private inputs: EngineInputs;
  private target!: Float32Array;
  private image!: Float32Array;
  private width = 0;
  private height = 0;
  private iter: number;
  private active = false;
  private disposed = false;
  private timer: NodeJS.Timeout | null = null;
  private lastFrameAt = 0;
  private encoding = false;
  private stepTimes: number[] = [];
  /** Steps taken since the pixels last moved (see {@link step}). */
  private pendingSteps = 0;
  /** Inputs changed since the target was built (see {@link update}). */
  private targetStale = false;

  constructor(
    inputs: EngineInputs,
    options: OpenOptions,
    private events: EngineEvents,
    private opts: Required<FakeEngineOptions>,
  ) {
    this.inputs = inputs;
    this.iter = options.iterOffset ?? 0;
    this.retarget(options.initImage);
  }

  private retarget(initImage?: RgbImage): void {
    const content = resizeNearest(this.inputs.content, this.inputs.params.resolution);
    const styleColor = this.inputs.styles.length
      ? this.inputs.styles.map((s) => meanColor(s.image)).reduce((a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]]).map((v) => v / this.inputs.styles.length)
      : [128, 128, 128];
    const sw = Math.min(1, this.inputs.params.styleWeight / (this.inputs.params.styleWeight + this.inputs.params.contentWeight + 1e-9));
    this.target = new Float32Array(content.data.length);
    for (let i = 0; i < content.data.length; i++) this.target[i] = content.data[i] * (1 - 0.5 * sw) + styleColor[i % 3] * 0.5 * sw;
    // Painted regions (S34): tinted with their own style's colour instead, as far as the mask covers.
    for (const r of this.inputs.regions ?? []) {
      const color = meanColor(r.image);
      const { mask } = r;
      for (let y = 0; y < content.height; y++) {
        const my = Math.min(mask.height - 1, Math.floor((y * mask.height) / content.height));
        for (let x = 0; x < content.width; x++) {
          const a = mask.data[my * mask.width + Math.min(mask.width - 1, Math.floor((x * mask.width) / content.width))] / 255;
          if (a === 0) continue;
          for (let c = 0; c < 3; c++) {
            const i = (y * content.width + x) * 3 + c;
            this.target[i] += (content.data[i] * (1 - 0.5 * sw) + color[c] * 0.5 * sw - this.target[i]) * a;
          }
        }
      }
    }
    const old = this.image && this.width === content.width && this.height === content.height ? this.image : null;
    this.width = content.width;
    this.height = content.height;
    if (old) return; // warm: keep the image
    const start = initImage ? resizeNearest(initImage, this.inputs.params.resolution) : content;
    this.image = new Float32Array(this.target.length);
    if (start.width === content.width && start.height === content.height) for (let i = 0; i < this.image.length; i++) this.image[i] = start.data[i];
    else for (let i = 0; i < this.image.length; i++) this.image[i] = content.data[i];
  }

  /**
   * New inputs take effect at the next frame: the target (a resize of the content, the styles'
   * colours, the region masks) is rebuilt once there, not on every document change — a painting
   * editor changes the content 20 times a second, and rebuilding it each time cost 0.8 of 35 s of
   * main thread in the cluster load run.
   */
  update(changes: Partial<EngineInputs>): void {
    if (this.disposed) return;
    this.inputs = { ...this.inputs, ...changes };
    this.targetStale = true;
  }

  setActive(active: boolean): void {
    if (this.disposed || active === this.active) return;
    this.active = active;
    if (active) {
      this.timer = setInterval(() => this.step(), 1000 / this.opts.stepsPerSec);
      this.events.state('running');
    } else {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      this.events.state('paused');
    }
  }

  /**
   * One "optimizer step" moves every pixel a fraction `rate` toward the target. The pixels are
   * moved lazily, k steps at once (1 − (1 − rate)^k of the way), when a frame is encoded: the real engine steps in its worker thread, and a fake that looped over the
   * whole image 50 times a second on the main thread (2 s of a 40 s load run) made the load
   * figures measure the fake rather than the server.
   */
  private step(): void {
    this.pendingSteps++;
    this.iter++;
    const now = performance.now();
    this.stepTimes.push(now);
    while (this.stepTimes.length > 20) this.stepTimes.shift();
    this.events.step?.();
    if (now - this.lastFrameAt >= 1000 / this.opts.frameRate && !this.encoding) {
      this.lastFrameAt = now;
      void this.emitFrame(this.applySteps());
    }
  }

  /** Applies the pending steps; returns the mean distance to the target before the last one. */
  private applySteps(): number {
    if (this.targetStale) {
      this.targetStale = false;
      this.retarget();
    }
    const rate = Math.min(0.5, this.inputs.params.learningRate * 2);
    const k = this.pendingSteps;
    this.pendingSteps = 0;
    const moved = 1 - Math.pow(1 - rate, k);
    const beforeLast = k > 0 ? Math.pow(1 - rate, k - 1) : 1;
    let loss = 0;
    for (let i = 0; i < this.image.length; i++) {
      const d = this.target[i] - this.image[i];
      this.image[i] += d * moved;
      loss += Math.abs(d) * beforeLast;
    }
    return loss / this.image.length;
  }

  private stepsPerSec(): number {
    const t = this.stepTimes;
    return t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
  }

  private async emitFrame(loss: number): Promise<void> {
    this.encoding = true;
    try {
      // A plain loop: Uint8Array.from with a callback cost 2 s of main thread in a 20 s load run.
      const img = this.image;
      const data = new Uint8Array(img.length);
      for (let i = 0; i < img.length; i++) {
        const v = img[i];
        data[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
      const jpeg = await encodeImage({ width: this.width, height: this.height, data }, 'image/jpeg', this.opts.frameQuality);
      if (this.disposed) return;
      const frame: EngineFrame = {
        iter: this.iter,
        width: this.width,
        height: this.height,
        mime: 'image/jpeg',
        data: new Uint8Array(jpeg),
        losses: { total: loss, style: loss / 2, content: loss / 2, tv: 0 },
        stepsPerSec: this.stepsPerSec(),
      };
      this.events.frame(frame);
    } finally {
      this.encoding = false;
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The fake {@link EngineHost}; one timer per session. */
export class FakeEngineHost implements EngineHost {
  readonly backend = 'fake';
  private engines = new Set<FakeSessionEngine>();
  private opts: Required<FakeEngineOptions>;

  constructor(opts: FakeEngineOptions) {
    this.opts = { stepsPerSec: 50, ...opts };
  }

  open(_sessionId: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine {
    const e = new FakeSessionEngine(inputs, options, events, this.opts);
    this.engines.add(e);
    const dispose = e.dispose.bind(e);
    e.dispose = () => {
      dispose();
      this.engines.delete(e);
    };
    return e;
  }

  async close(): Promise<void> {
    for (const e of [...this.engines]) e.dispose();
  }
}
