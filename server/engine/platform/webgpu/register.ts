/**
 * Registers tfjs's `webgpu` backend on a device the engine creates itself (tfjs-backend-webgpu's
 * own factory asks for no optional features: no `shader-f16`, no subgroups), and installs the
 * engine's kernels on it (tfjs-kernels.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createLogger } from '../../../log.ts';
import { createGpu, F16_TOGGLES, pickMatrixShape, requestEngineDevice, type EngineDevice } from './device.ts';
import type { F16Support } from './gemm.ts';
import { installWebgpuKernels, setF16Support, webgpuKernelSettings } from './tfjs-kernels.ts';

const log = createLogger('engine');

/**
 * Dawn instance toggles: `ENGINE_WEBGPU_TOGGLES` (comma list) plus, when the f16 kernels are asked
 * for, those that expose f16 and subgroup matrices on NVIDIA.
 */
export function dawnToggles(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.ENGINE_WEBGPU_TOGGLES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [...new Set([...(webgpuKernelSettings().f16 ? F16_TOGGLES : []), ...extra])];
}

/** The Dawn `GPU` the engine uses, with {@link dawnToggles}. */
export function createEngineGpu(): Promise<GPU> {
  return createGpu(dawnToggles());
}

/** Tensor-core f16 support of a device (subgroup matrices f16 → f32 and a fixed subgroup size), or why not. */
export function subgroupMatrixSupport(d: EngineDevice): F16Support | string {
  if (!d.features.includes('shader-f16')) return 'no shader-f16';
  if (!d.features.includes('chromium-experimental-subgroup-matrix')) return 'no chromium-experimental-subgroup-matrix';
  const shape = pickMatrixShape(d.description);
  if (!shape) return 'no f16→f32 subgroup-matrix configuration';
  const { subgroupMinSize: min, subgroupMaxSize: max } = d.description;
  if (!min || min !== max) return `subgroup size varies (${min}..${max})`;
  return { mma: 'subgroup-matrix', shape: { M: shape.M, N: shape.N, K: shape.K }, subgroupSize: max };
}

let engineDevice: EngineDevice | null = null;

/** The device the webgpu backend runs on (null before {@link registerEngineWebgpu}). */
export function activeEngineDevice(): EngineDevice | null {
  return engineDevice;
}

/**
 * Creates the engine's device on `gpu` and (re)registers tfjs's `webgpu` backend on it. Needs
 * `navigator.gpu` installed before (tfjs-backend-webgpu checks it when its module loads).
 */
export async function registerEngineWebgpu(gpu: GPU): Promise<void> {
  const d = await requestEngineDevice(gpu);
  if (!d) throw new Error('no WebGPU adapter');
  const f16 = subgroupMatrixSupport(d);
  setF16Support(typeof f16 === 'string' ? undefined : f16);
  if (webgpuKernelSettings().f16 && typeof f16 === 'string') log.warn('f16 webgpu kernels unavailable; fp32 runs instead', { reason: f16 });
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as {
    WebGPUBackend?: new (device: GPUDevice, info?: unknown) => tf.KernelBackend;
    default?: { WebGPUBackend: new (device: GPUDevice, info?: unknown) => tf.KernelBackend };
  };
  const WebGPUBackend = mod.WebGPUBackend ?? mod.default?.WebGPUBackend;
  if (!WebGPUBackend) throw new Error('@tensorflow/tfjs-backend-webgpu exports no WebGPUBackend');
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  engineDevice = d;
  tf.registerBackend(
    'webgpu',
    () => {
      const backend = new WebGPUBackend(d.device, (d.adapter as unknown as { info?: unknown }).info);
      installWebgpuKernels(backend);
      return backend;
    },
    3,
  );
}
