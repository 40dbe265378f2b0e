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

/**
 * Fraction of pixels of `a` and `b` (same size) whose channels differ by more than
 * {@link CHANGE_THRESHOLD_LEVELS}. On the host, on the 8-bit bytes: no device readback (a
 * synchronous one is impossible on webgpu in Node), ~1 ms for a 512² image.
 */
export function changedFraction(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) return 1;
  const da = a.data;
  const db = b.data;
  let changed = 0;
  for (let i = 0; i < da.length; i += 3) {
    if (
      Math.abs(da[i] - db[i]) > CHANGE_THRESHOLD_LEVELS ||
      Math.abs(da[i + 1] - db[i + 1]) > CHANGE_THRESHOLD_LEVELS ||
      Math.abs(da[i + 2] - db[i + 2]) > CHANGE_THRESHOLD_LEVELS
    ) {
      changed++;
    }
  }
  return changed / (a.width * a.height);
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
