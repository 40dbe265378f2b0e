/**
 * The engine's WebGPU device: Dawn (the `webgpu` npm package) instance, adapter and device, with
 * the optional features our kernels use requested when the adapter offers them, and a
 * description of it all for logs and the probe.
 *
 * Dawn toggles are instance flags: `vulkan_enable_f16_on_nvidia` (Dawn hides `shader-f16` on
 * every NVIDIA GPU without it) and `allow_unsafe_apis` (needed for the experimental
 * `chromium-experimental-subgroup-matrix` feature: tensor cores through VK_KHR_cooperative_matrix).
 * They are only asked for when the f16 kernels are (see tfjs-kernels.ts).
 */

/** Features the engine's kernels can use; requested when present. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'timestamp-query'] as const;

/** Toggles that expose f16 and subgroup matrices on NVIDIA. */
export const F16_TOGGLES = ['vulkan_enable_f16_on_nvidia', 'allow_unsafe_apis'];

export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  features: string[];
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  limits: Record<string, number>;
}

interface DawnModule {
  create: (flags: string[]) => GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;

/** Loads Dawn for Node and installs its WebGPU globals (GPUBufferUsage, …) once. */
export async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    dawn = (await import('webgpu')) as unknown as DawnModule;
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

/** Every instance made here, kept alive for the process (see {@link EngineDevice.gpu}). */
const instances: GPU[] = [];

/** A Dawn `GPU` with the given toggles enabled (`enable-dawn-features=…`). */
export async function createGpu(toggles: readonly string[] = [], disabled: readonly string[] = []): Promise<GPU> {
  const { create } = await loadDawn();
  const flags: string[] = [];
  if (toggles.length) flags.push(`enable-dawn-features=${toggles.join(',')}`);
  if (disabled.length) flags.push(`disable-dawn-features=${disabled.join(',')}`);
  const gpu = create(flags);
  instances.push(gpu);
  return gpu;
}

const LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
] as const;

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = (adapter as unknown as { info?: Record<string, unknown> }).info ?? {};
  const configs = ((info.subgroupMatrixConfigs as SubgroupMatrixConfig[] | undefined) ?? []).map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: c.M,
    N: c.N,
    K: c.K,
  }));
  const limits: Record<string, number> = {};
  for (const l of LIMITS) limits[l] = Number((adapter.limits as unknown as Record<string, number>)[l]);
  return {
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description: String(info.description ?? ''),
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    subgroupMinSize: info.subgroupMinSize as number | undefined,
    subgroupMaxSize: info.subgroupMaxSize as number | undefined,
    features: [...adapter.features].map(String).sort(),
    subgroupMatrixConfigs: configs,
    limits,
  };
}

export interface EngineDevice {
  /**
   * The Dawn instance. Held here on purpose: when a `GPU` object is garbage-collected, dawn.node
   * tears the instance down under its live devices, and the process dies (seen as futex/mutex
   * aborts on lavapipe).
   */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  description: AdapterDescription;
  /** Features the device was created with. */
  features: string[];
}

/**
 * Requests the high-performance adapter and a device with every {@link WANTED_FEATURES} entry it
 * offers and its own maximum compute limits (tfjs asks for the same limits).
 */
export async function requestEngineDevice(gpu: GPU): Promise<EngineDevice | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features as unknown as GPUFeatureName[],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  return { gpu, adapter, device, description: describeAdapter(adapter), features: [...features] };
}

/** The f16-in/f32-out subgroup-matrix shape the kernels use (largest M·N), if the device has one. */
export function pickMatrixShape(d: AdapterDescription): SubgroupMatrixConfig | null {
  const ok = d.subgroupMatrixConfigs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32');
  ok.sort((a, b) => b.M * b.N - a.M * a.N || b.K - a.K);
  return ok[0] ?? null;
}
