/**
 * Conversions between the engine's 8-bit {@link RgbImage} and float tensors, plus the resizing
 * and seeded noise the optimization needs. Every tensor here is `[1, H, W, 3]`, RGB in [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbImage } from './api.ts';
import { mulberry32 } from '../../shared/random.ts';

/** Throws a clear error unless `img` is a well-formed RgbImage (`what` names it in the message). */
export function assertRgbImage(img: RgbImage, what: string): void {
  if (img == null || typeof img !== 'object') throw new Error(`${what}: expected an RgbImage, got ${String(img)}`);
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what}: width and height must be positive integers (got ${width}x${height})`);
  }
  if (!(data instanceof Uint8Array)) throw new Error(`${what}: data must be a Uint8Array`);
  if (data.length !== width * height * 3) {
    throw new Error(`${what}: data has ${data.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
}

const INV_255 = Math.fround(1 / 255);

/**
 * `[1, H, W, 3]` float32 tensor with values byte * float32(1/255): TensorFlow's
 * `convert_image_dtype(uint8 -> float32)` to the bit (it multiplies, it does not divide).
 */
export function rgbToTensor(img: RgbImage): tf.Tensor4D {
  assertRgbImage(img, 'image');
  const values = new Float32Array(img.data.length);
  for (let i = 0; i < values.length; i++) values[i] = img.data[i] * INV_255;
  return tf.tensor4d(values, [1, img.height, img.width, 3]);
}

/**
 * How floats become bytes: `round` to nearest, or `truncate` like the TF tutorial's
 * `tensor_to_image` (`np.array(x * 255, dtype=np.uint8)`).
 */
export type Quantize = 'round' | 'truncate';

/** Clamps to [0, 1] and scales to bytes. One readback. */
export async function tensorToRgb(t: tf.Tensor, quantize: Quantize = 'round'): Promise<RgbImage> {
  if (t.rank !== 4 || t.shape[0] !== 1 || t.shape[3] !== 3) {
    throw new Error(`tensorToRgb: expected shape [1, H, W, 3], got [${t.shape.join(', ')}]`);
  }
  const bytes = tf.tidy(() => {
    const scaled = tf.mul(tf.clipByValue(t, 0, 1), 255);
    return tf.cast(quantize === 'round' ? tf.round(scaled) : tf.floor(scaled), 'int32');
  });
  try {
    const values = await bytes.data();
    return { width: t.shape[2]!, height: t.shape[1]!, data: Uint8Array.from(values) };
  } finally {
    bytes.dispose();
  }
}

/**
 * How a size is rounded when an image is scaled to a long side. `floor` reproduces TensorFlow's
 * `tf.cast(shape * scale, tf.int32)` in float32 (the TF tutorial's `load_img`), `round` is the
 * usual nearest-integer choice.
 */
export type SizeRounding = 'floor' | 'round';

/** Size of a `width`x`height` image scaled so its long side is `longSide`, aspect kept. */
export function sizeForLongSide(
  width: number,
  height: number,
  longSide: number,
  rounding: SizeRounding = 'round',
): { width: number; height: number } {
  if (!(width > 0 && height > 0 && longSide > 0)) {
    throw new Error(`sizeForLongSide: sizes must be positive (got ${width}x${height} -> ${longSide})`);
  }
  if (rounding === 'floor') {
    // float32 arithmetic exactly as TF does it: scale = max_dim / long_dim; new = int(shape * scale).
    const f = Math.fround;
    const scale = f(f(longSide) / f(Math.max(width, height)));
    return {
      width: Math.max(1, Math.trunc(f(f(width) * scale))),
      height: Math.max(1, Math.trunc(f(f(height) * scale))),
    };
  }
  const scale = longSide / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

export interface ResizeOptions {
  /**
   * Pre-filter large downscales with 2x2 average pooling so they do not alias (TF's plain
   * `tf.image.resize` does not: `false` is what the TF tutorial does).
   */
  antialias?: boolean;
}

/**
 * Bilinear resize with half-pixel centres (TF2 `tf.image.resize` semantics). Returns a new tensor;
 * the input is not disposed. Same-size input returns a clone.
 */
export function resizeImage(t: tf.Tensor4D, height: number, width: number, options: ResizeOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    let cur = t;
    if (options.antialias) {
      while (cur.shape[1] >= 2 * height && cur.shape[2] >= 2 * width) {
        cur = tf.avgPool(cur, 2, 2, 'valid');
      }
    }
    if (cur.shape[1] === height && cur.shape[2] === width) return tf.clone(cur);
    return tf.image.resizeBilinear(cur, [height, width], false, true);
  });
}

/**
 * Deterministic PRNG (mulberry32) returning floats in [0, 1). Used for noise images so the
 * same seed gives the same image on every backend (tfjs' own random ops are backend-specific).
 */
export const seededRandom = mulberry32;

/** `[1, H, W, 3]` uniform white noise in [0, 1) from `seed`. */
export function noiseImage(height: number, width: number, seed: number): tf.Tensor4D {
  const rand = seededRandom(seed);
  const values = new Float32Array(height * width * 3);
  for (let i = 0; i < values.length; i++) values[i] = rand();
  return tf.tensor4d(values, [1, height, width, 3]);
}

const fingerprints = new WeakMap<RgbImage, string>();

/**
 * A content key for an image: its size and a 64-bit hash (two independent 32-bit multiplicative
 * lanes) of its pixels, cached per object. Lets the engine recognise an unchanged image even when
 * it arrives as a new object (e.g. after a structured clone into a worker).
 */
export function imageFingerprint(img: RgbImage): string {
  const cached = fingerprints.get(img);
  if (cached) return cached;
  const d = img.data;
  let h1 = 0x811c9dc5 ^ d.length;
  let h2 = 0x9747b28c ^ Math.imul(d.length, 0x85ebca6b);
  const words = d.byteOffset % 4 === 0 ? new Uint32Array(d.buffer, d.byteOffset, d.length >>> 2) : null;
  const wordCount = d.length >>> 2;
  for (let i = 0; i < wordCount; i++) {
    const k = words ? words[i] : (d[4 * i] | (d[4 * i + 1] << 8) | (d[4 * i + 2] << 16) | (d[4 * i + 3] << 24)) >>> 0;
    h1 = Math.imul(h1 ^ k, 0x01000193);
    h2 = Math.imul((h2 << 13) | (h2 >>> 19), 5) + 0xe6546b64 + Math.imul(k, 0xcc9e2d51);
  }
  for (let i = wordCount * 4; i < d.length; i++) {
    h1 = Math.imul(h1 ^ d[i], 0x01000193);
    h2 = Math.imul(h2 ^ d[i], 0x5bd1e995);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  const key = `${img.width}x${img.height}:${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
  fingerprints.set(img, key);
  return key;
}
