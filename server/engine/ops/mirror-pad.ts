/**
 * Mirror padding with a correct gradient. tfjs 4.22's MirrorPad gradient only slices the padded
 * gradient back to the input's shape (its comment: "Pad introduces values around the original
 * tensor"), dropping what flows into the mirrored copies, so every border pixel's gradient is
 * wrong. Built here from slices, reversals and concatenations, whose gradients are exact.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `size` rows (axis 1) or columns (axis 2) of `x` from `start`.
 *
 * Columns are cut from the `[B·H, W·C]` view of `x`: tfjs-wasm 4.22's Slice (and SplitV, the
 * gradient of a concatenation, which calls it) copies a non-contiguous 4-D slice one pixel
 * (C = 3 floats) at a time in JavaScript, a row at a time in 2-D. At 256 px that was 0.5 ms a
 * slice, 30 ms of the default preset's step across the shifts and the pyramid.
 */
export function sliceAlong(x: tf.Tensor4D, axis: 1 | 2, start: number, size: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (axis === 1) return tf.slice(x, [0, start, 0, 0], [b, size, w, c]);
  return tf.tidy(() => tf.reshape(tf.slice(tf.reshape(x, [b * h, w * c]), [0, start * c], [b * h, size * c]), [b, h, size, c]));
}

/** `parts` joined along rows (axis 1) or columns (axis 2); columns through the 2-D view, as above. */
export function concatAlong(parts: tf.Tensor4D[], axis: 1 | 2): tf.Tensor4D {
  if (axis === 1) return tf.concat(parts, 1);
  return tf.tidy(() => {
    const [b, h, , c] = parts[0].shape;
    const joined = tf.concat(parts.map((p) => tf.reshape(p, [b * h, p.shape[2] * c])), 1);
    return tf.reshape(joined, [b, h, joined.shape[1]! / c, c]);
  });
}

/** `size` rows/columns of `x` from `start`, mirrored along `axis` (a 1-wide strip is its own mirror image). */
export function mirroredStrip(x: tf.Tensor4D, axis: 1 | 2, start: number, size: number): tf.Tensor4D {
  const strip = sliceAlong(x, axis, start, size);
  return size === 1 ? strip : tf.reverse(strip, axis);
}

/** Mirrors `p` rows/columns of `x` at both ends of `axis` (1 = H, 2 = W). */
function mirrorAxis(x: tf.Tensor4D, axis: 1 | 2, p: number, mode: 'reflect' | 'symmetric'): tf.Tensor4D {
  if (p === 0) return x;
  const n = x.shape[axis];
  const skip = mode === 'reflect' ? 1 : 0;
  if (p + skip > n) throw new Error(`mirror pad of ${p} (${mode}) needs at least ${p + skip} values along axis ${axis}, got ${n}`);
  return concatAlong([mirroredStrip(x, axis, skip, p), x, mirroredStrip(x, axis, n - p - skip, p)], axis);
}

/**
 * `x` padded by `py` rows and `px` columns on each side with mirrored values, like
 * `tf.mirrorPad(x, [[0,0],[py,py],[px,px],[0,0]], mode)`, with an exact gradient.
 */
export function mirrorPad2d(x: tf.Tensor4D, py: number, px: number, mode: 'reflect' | 'symmetric'): tf.Tensor4D {
  return tf.tidy(() => mirrorAxis(mirrorAxis(x, 1, py, mode), 2, px, mode));
}
