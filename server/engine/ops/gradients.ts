/**
 * Registers tfjs-core's gradient functions (once per process).
 *
 * @tensorflow/tfjs-core's Node build ships no gradients, so without this `tf.grad` fails with
 * "gradient function not found for Sum". Import this module (backend.ts and the conv ops do)
 * before differentiating anything. See generate-gradients.mjs for where the bundle comes from.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function register(): void {
  // Sum is the first gradient anything needs; if it is there, someone (e.g. @tensorflow/tfjs)
  // already registered the full set and loading our copy again would only log overwrites.
  if (tf.getGradient('Sum') != null) return;
  const bundle = require('./tfjs-gradients.generated.cjs') as { TFJS_CORE_VERSION: string };
  if (bundle.TFJS_CORE_VERSION !== tf.version_core) {
    throw new Error(
      `tfjs-gradients.generated.cjs was built from tfjs-core ${bundle.TFJS_CORE_VERSION} but ${tf.version_core} is installed: ` +
        'run node server/engine/ops/generate-gradients.mjs',
    );
  }
  if (tf.getGradient('Sum') == null) throw new Error('registering tfjs gradients failed (no gradient for Sum)');
}

register();
