/**
 * Kernel overrides for tfjs-backend-wasm 4.22, installed when the engine registers that backend.
 *
 * `Identity` (what `tf.clone` and every saved tensor of a custom gradient run) copies the whole
 * buffer on wasm, where the cpu, webgl and webgpu backends share it and count references. The
 * engine saves each convolution's output for its gradient, so a MobileNetV2 step at 256 px made
 * ~240 such copies (~5% of the step). tfjs tensors are immutable and the wasm backend already
 * counts references (its `Reshape` shares data the same way), so sharing is safe.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

let installed = false;

/** Replaces wasm's copying `Identity` by a reference-sharing one (idempotent). */
export function installWasmKernelOverrides(): void {
  if (installed) return;
  const original = tf.getKernel(tf.Identity, 'wasm');
  if (!original) throw new Error('tfjs-backend-wasm registered no Identity kernel');
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return original.kernelFunc(args);
      (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  installed = true;
}
