/**
 * Content write-in (SPEC E24): when the content changes, what changed is written into the
 * optimized image at once, instead of waiting for the content loss to pull it in (which on the
 * embedded networks takes minutes, or never happens for a thin stroke: the loss compares deep,
 * coarse features). The engine finds the change itself by comparing the old and new content, so
 * strokes, erasing, undo and a new background all work the same way and no caller has to say
 * where it painted.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbImage } from './api.ts';

/**
 * A pixel counts as changed when one of its channels moved by more than this many 8-bit levels:
 * above JPEG/resampling noise of an unchanged photo (re-decoding the same bytes gives 0), below
 * any stroke a person can see.
 */
export const CHANGE_THRESHOLD_LEVELS = 3;

/**
 * Fraction of changed pixels above which a content change counts as a new picture (E24): the
 * whole image starts over from the new content instead of being patched, since a patchwork of
 * the old stylized image and the new photo is not what anyone asked for.
 */
export const NEW_PICTURE_FRACTION = 0.5;

/** Two sizes are the same picture's when their aspect ratios differ by less than this (rounding). */
const SAME_ASPECT = 0.02;

/**
 * Pictures of different sizes are compared as thumbnails of at most this long side, with
 * {@link RESAMPLED_THRESHOLD_LEVELS}: two resampling paths of one photo (the session composes
 * the canvas at the engine's working size, which follows `resolution`) differ by a few levels
 * per pixel, two different photos by tens.
 */
const THUMBNAIL_SIDE = 16;
const RESAMPLED_THRESHOLD_LEVELS = 16;

/**
 * Fraction of pixels that changed from `a` to `b`: at the same size, pixels whose channels moved
 * by more than {@link CHANGE_THRESHOLD_LEVELS}; at different sizes of the same aspect ratio, the
 * same on small box-averaged thumbnails with a looser threshold (so the same picture composed at
 * another size counts as unchanged); 1 when the aspect ratios differ. On the host, on the 8-bit
 * bytes: no device readback (a synchronous one is impossible on webgpu in Node), a few ms at 512².
 */
export function changedFraction(a: RgbImage, b: RgbImage): number {
  if (a.width === b.width && a.height === b.height) return fractionOver(a.data, b.data, CHANGE_THRESHOLD_LEVELS);
  if (Math.abs(a.width / a.height - b.width / b.height) > SAME_ASPECT * (a.width / a.height)) return 1;
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(a.width, a.height, b.width, b.height));
  const width = Math.max(1, Math.round(Math.min(a.width, b.width) * scale));
  const height = Math.max(1, Math.round(Math.min(a.height, b.height) * scale));
  return fractionOver(boxResample(a, width, height), boxResample(b, width, height), RESAMPLED_THRESHOLD_LEVELS);
}

function fractionOver(da: ArrayLike<number>, db: ArrayLike<number>, threshold: number): number {
  let changed = 0;
  for (let i = 0; i < da.length; i += 3) {
    if (Math.abs(da[i] - db[i]) > threshold || Math.abs(da[i + 1] - db[i + 1]) > threshold || Math.abs(da[i + 2] - db[i + 2]) > threshold) changed++;
  }
  return changed / (da.length / 3);
}

/** `img`'s bytes at `width`×`height` (≤ its own size) by averaging the source boxes; as is when equal. */
function boxResample(img: RgbImage, width: number, height: number): Uint8Array | Float32Array {
  if (img.width === width && img.height === height) return img.data;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * img.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * img.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * img.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * img.width) / width));
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const k = (yy * img.width + xx) * 3;
          r += img.data[k];
          g += img.data[k + 1];
          bl += img.data[k + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 3;
      out[o] = r / n;
      out[o + 1] = g / n;
      out[o + 2] = bl / n;
    }
  }
  return out;
}

/**
 * Where `next` differs from `prev` (both `[1, H, W, 3]` in [0, 1] at the working size), as a
 * feathered mask `[1, H, W, 1]` in [0, 1]: 1 on changed pixels (a soft ramp from the threshold to
 * twice it, so resampled stroke edges blend), grown by one pixel and softened by a 3×3 box so
 * the written-in region has no hard seam with the stylized image around it.
 */
export function changeMask(prev: tf.Tensor4D, next: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const t = CHANGE_THRESHOLD_LEVELS / 255;
    const diff = tf.max(tf.abs(tf.sub(next, prev)), 3, true) as tf.Tensor4D;
    const hard = tf.clipByValue(tf.div(tf.sub(diff, t), t), 0, 1) as tf.Tensor4D;
    const grown = tf.maxPool(hard, 3, 1, 'same');
    return tf.avgPool(grown, 3, 1, 'same') as tf.Tensor4D;
  });
}
