/**
 * Picks and initialises the tfjs backend the engine runs on.
 *
 * Why this exists: tfjs silently falls back to another backend when `setBackend` fails, so a
 * server that asked for `wasm` could quietly end up on the (100x slower) `cpu` backend. Here every
 * choice is verified with `tf.getBackend()` and logged, and an explicit request for a backend that
 * cannot start is an error rather than a silent downgrade.
 *
 * Auto order: `tensorflow` (native libtensorflow through @tensorflow/tfjs-node[-gpu], only if
 * someone installed it), `webgpu` (Dawn through the `webgpu` npm package; needs a real adapter),
 * `wasm` (XNNPACK, SIMD), `cpu` (plain JS, always there).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BACKEND_NAMES, type BackendName } from '../api.ts';
import { createLogger } from '../../log.ts';
import '../ops/gradients.ts';
import { installWasmKernelOverrides } from './wasm-kernels.ts';
import { enableWasmThreads, releaseIdleWasmWorkers } from './wasm-threads.ts';
import { createEngineGpu, registerEngineWebgpu } from './webgpu/register.ts';

const log = createLogger('engine');

/** Result of trying one backend: ok, or why it is not available. */
export interface BackendProbe {
  name: BackendName;
  ok: boolean;
  reason?: string;
}

/** Last reason each backend failed, for {@link availableBackendsReport} and error messages. */
const failures = new Map<BackendName, string>();
let current: BackendName | null = null;
let pending: Promise<BackendName> | null = null;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Dynamic import that TypeScript does not try to resolve: the native tfjs-node packages are not
 * dependencies of this project and exist only where an operator installed them.
 */
async function importOptional(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ specifier);
}

async function registerTensorflow(): Promise<void> {
  // Importing @tensorflow/tfjs-node registers its 'tensorflow' backend with the tfjs-core copy it
  // depends on; that only helps us if it is the same copy we use, which we verify below.
  let lastError: unknown;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
      if (tf.findBackendFactory('tensorflow') == null) {
        throw new Error(`${pkg} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs-core`);
      }
      return;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is usable (${errorMessage(lastError)})`);
}

/** What a WebGPU adapter says about itself; Dawn fills `info` (older builds leave it empty). */
interface AdapterInfoLike {
  info?: { description?: string; vendor?: string; architecture?: string; device?: string };
  isFallbackAdapter?: boolean;
}

/**
 * A CPU implementation of WebGPU (Mesa's llvmpipe/lavapipe, SwiftShader, Dawn's fallback): it
 * works, and tests use it, but a step is ~10× slower there than on wasm, so `auto` skips it.
 */
export function isSoftwareAdapter(adapter: AdapterInfoLike): string | null {
  const i = adapter.info ?? {};
  const label = [i.vendor, i.architecture, i.description, i.device].filter(Boolean).join(' ');
  if (adapter.isFallbackAdapter || i.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(label)) return label || 'fallback adapter';
  return null;
}

async function registerWebgpu(mode: 'auto' | 'explicit'): Promise<void> {
  // Dawn with the engine's toggles (platform/webgpu/register.ts); installs WebGPU's globals.
  const gpu = await createEngineGpu();
  // tfjs-backend-webgpu reads navigator.gpu when its module is evaluated and when the backend
  // factory runs, so it has to exist before the dynamic import below.
  const g = globalThis as { navigator?: { gpu?: GPU } };
  let undo: () => void = () => undefined;
  if (g.navigator == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    undo = () => delete (globalThis as { navigator?: unknown }).navigator;
  } else if (g.navigator.gpu == null) {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      undo = () => delete (g.navigator as { gpu?: unknown }).gpu;
    } catch (err) {
      throw new Error(`cannot install navigator.gpu: ${errorMessage(err)}`);
    }
  }
  // Ask for an adapter ourselves first: without one the tfjs factory would fail anyway, but only
  // after logging noise; this fails fast on machines without a GPU (no Vulkan/Metal/D3D). Without
  // one, take navigator.gpu away again so nothing else mistakes this process for a browser.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter == null) {
    undo();
    throw new Error('no WebGPU adapter (no usable GPU driver)');
  }
  const software = isSoftwareAdapter(adapter as unknown as AdapterInfoLike);
  if (software && mode === 'auto') {
    undo();
    throw new Error(`only a software WebGPU adapter (${software}), slower than wasm; ask for webgpu explicitly to use it`);
  }
  // tfjs's webgpu backend on a device of our own (optional features requested) with the engine's
  // kernels installed on it.
  await registerEngineWebgpu(gpu);
}

export interface InitBackendOptions {
  /**
   * wasm only, and only when it first starts in this thread: XNNPACK threads. Default: one per
   * core, at most 8; 1 keeps tfjs' single-threaded build. tfjs disables threads in Node; see
   * wasm-threads.ts for how they are enabled, and for the fallback to 1 when that fails.
   */
  wasmThreads?: number;
}

let wasmThreadsInUse = 1;

/** Threads the wasm backend runs with in this thread (1 until it started multi-threaded). */
export function wasmThreadCount(): number {
  return wasmThreadsInUse;
}

async function registerWasm(_mode: 'auto' | 'explicit', options: InitBackendOptions): Promise<void> {
  const mod = (await import('@tensorflow/tfjs-backend-wasm')) as typeof import('@tensorflow/tfjs-backend-wasm') & {
    default?: typeof import('@tensorflow/tfjs-backend-wasm');
  };
  // The package's Node entry is CommonJS; depending on the loader its exports sit on `default`.
  const setWasmPaths = mod.setWasmPaths ?? mod.default?.setWasmPaths;
  if (typeof setWasmPaths !== 'function') throw new Error('@tensorflow/tfjs-backend-wasm exports no setWasmPaths');
  // In Node the .wasm binaries are read from disk; point tfjs at the installed package's dist/.
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(main) + path.sep;
  setWasmPaths(dist);
  installWasmKernelOverrides();
  if (options.wasmThreads !== 1) wasmThreadsInUse = (await enableWasmThreads(options.wasmThreads)).threads;
}

async function registerCpu(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
}

const REGISTER: Record<BackendName, (mode: 'auto' | 'explicit', options: InitBackendOptions) => Promise<void>> = {
  tensorflow: registerTensorflow,
  webgpu: registerWebgpu,
  wasm: registerWasm,
  cpu: registerCpu,
};

/** Registers (once) and activates `name`; throws with the reason when it cannot run. */
async function tryBackend(name: BackendName, mode: 'auto' | 'explicit', options: InitBackendOptions): Promise<void> {
  if (tf.findBackendFactory(name) == null) await REGISTER[name](mode, options);
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (err) {
    throw new Error(`tf.setBackend('${name}') threw: ${errorMessage(err)}`);
  }
  await tf.ready();
  // The pool keeps the threads it runs on; the spare workers Emscripten pre-spawned go.
  if (name === 'wasm' && wasmThreadsInUse > 1) releaseIdleWasmWorkers();
  const active = tf.getBackend();
  if (!ok || active !== name) {
    throw new Error(`tf.setBackend('${name}') did not take effect (active backend: ${active ?? 'none'})`);
  }
}

async function initBackendUncached(requested: BackendName | 'auto', options: InitBackendOptions): Promise<BackendName> {
  const candidates: readonly BackendName[] = requested === 'auto' ? BACKEND_NAMES : [requested];
  for (const name of candidates) {
    const started = Date.now();
    try {
      await tryBackend(name, requested === 'auto' ? 'auto' : 'explicit', options);
      failures.delete(name);
      current = name;
      log.info('tfjs backend selected', { backend: name, requested, ms: Date.now() - started, ...(name === 'wasm' ? { threads: wasmThreadsInUse } : {}) });
      return name;
    } catch (err) {
      const reason = errorMessage(err);
      failures.set(name, reason);
      if (requested !== 'auto') {
        throw new Error(`tfjs backend '${name}' is not available: ${reason}`);
      }
      log.debug('tfjs backend not available', { backend: name, reason });
    }
  }
  // cpu is always registered, so this only happens if tfjs itself is broken.
  throw new Error(`no tfjs backend could be started: ${[...failures].map(([n, r]) => `${n}: ${r}`).join('; ')}`);
}

/**
 * Makes `requested` (or the best available backend for `'auto'`) the active tfjs backend and
 * returns its name. Throws when an explicitly requested backend cannot start. Cheap to call again:
 * a repeated call for the active backend (or `'auto'` once one is chosen) returns at once.
 * Env handling (e.g. `ENGINE_BACKEND`) is the caller's business.
 */
export async function initBackend(requested: BackendName | 'auto' = 'auto', options: InitBackendOptions = {}): Promise<BackendName> {
  if (requested !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(requested)) {
    throw new Error(`unknown tfjs backend '${String(requested)}' (expected one of auto, ${BACKEND_NAMES.join(', ')})`);
  }
  // Concurrent callers share one initialisation.
  while (pending) await pending.catch(() => undefined);
  if (current != null && tf.getBackend() === current && (requested === 'auto' || requested === current)) {
    return current;
  }
  pending = initBackendUncached(requested, options);
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The backend chosen by the last successful {@link initBackend}, or null before any. */
export function activeBackend(): BackendName | null {
  return current;
}

/**
 * What is known about each backend: which one is active and why the others failed when they were
 * tried. Backends never tried report `ok: false` with reason `not tried`. For status endpoints
 * and logs.
 */
export function availableBackendsReport(): BackendProbe[] {
  return BACKEND_NAMES.map((name) => {
    if (name === current) return { name, ok: true };
    const reason = failures.get(name);
    if (reason != null) return { name, ok: false, reason };
    if (tf.findBackendFactory(name) != null) return { name, ok: true, reason: 'registered, not active' };
    return { name, ok: false, reason: 'not tried' };
  });
}
