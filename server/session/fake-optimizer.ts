/**
 * The fake engine's pixel work (fake-engine.ts), a plain module so it can run in the fake's worker
 * thread (fake-engine-worker.ts) and be read and tested without one. "Optimizing" moves the image
 * a fixed fraction toward a target: the content tinted with the mean colour of the styles, and
 * painted regions (S34) tinted with their own style's colour.
 */
import type { RgbImage } from '../engine/api.ts';
import type { EngineInputs } from './engine-host.ts';

/** Nearest-neighbour resize so the long side is `longSide` (cheap; the fake needs no quality). */
export function resizeNearest(img: RgbImage, longSide: number): RgbImage {
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

/** One session's fake optimization: its target, its current image, and the steps applied to it. */
export class FakeOptimizer {
  private inputs: EngineInputs;
  private target!: Float32Array;
  private image!: Float32Array;
  width = 0;
  height = 0;
  /** Inputs changed since the target was built (rebuilt once, at the next frame). */
  private targetStale = false;

  constructor(inputs: EngineInputs, initImage?: RgbImage) {
    this.inputs = inputs;
    this.retarget(initImage);
  }

  /** New inputs take effect at the next {@link frame}: a painting editor changes the content 20 times a second. */
  update(changes: Partial<EngineInputs>): void {
    this.inputs = { ...this.inputs, ...changes };
    this.targetStale = true;
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
   * Applies `steps` optimizer steps at once — each moves every pixel a fraction `rate` toward the
   * target, so k steps move it 1 − (1 − rate)^k of the way — and returns the image as bytes with
   * the mean distance to the target before the last step (the "loss").
   */
  frame(steps: number): { image: RgbImage; loss: number } {
    if (this.targetStale) {
      this.targetStale = false;
      this.retarget();
    }
    const rate = Math.min(0.5, this.inputs.params.learningRate * 2);
    const moved = 1 - Math.pow(1 - rate, steps);
    const beforeLast = steps > 0 ? Math.pow(1 - rate, steps - 1) : 1;
    const img = this.image;
    const data = new Uint8Array(img.length);
    let loss = 0;
    // Plain loops: Uint8Array.from with a callback cost 2 s of main thread in a 20 s load run.
    for (let i = 0; i < img.length; i++) {
      const d = this.target[i] - img[i];
      img[i] += d * moved;
      const v = img[i]; // the stored float32, as a separate conversion pass would read it
      loss += Math.abs(d) * beforeLast;
      data[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    }
    return { image: { width: this.width, height: this.height, data }, loss: loss / img.length };
  }
}
