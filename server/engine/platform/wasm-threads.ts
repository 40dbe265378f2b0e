/**
 * Multi-threaded tfjs wasm (the `tfjs-backend-wasm-threaded-simd` build: XNNPACK + pthreadpool)
 * in Node, without patching node_modules.
 *
 * Why this exists: @tensorflow/tfjs-backend-wasm 4.x hard-codes `WASM_HAS_MULTITHREAD_SUPPORT`
 * to false under Node (tfjs issue #3830), so the engine ran wasm on one core. Setting the flag
 * alone is not enough; the threaded Emscripten glue breaks in Node in three places, each fixed
 * here from the outside:
 *
 * 1. The pthread pool is spawned with `new Worker(blobUrl)` (tfjs hands Emscripten a Blob URL of
 *    the worker script), and the glue first overwrites the global `Worker` with
 *    `worker_threads.Worker`, which cannot load `blob:` URLs. We install a `Worker` global whose
 *    setter ignores that assignment; it is a `worker_threads.Worker` subclass that reads the Blob
 *    inside the thread and runs the script the way Node would run a CommonJS worker file (the
 *    script's own Node branch then provides `self`, `postMessage`, `importScripts`, `onmessage`).
 * 2. Each pthread worker then `importScripts` the main glue from `mainScriptUrlOrBlob`, which tfjs
 *    sets to a Blob of the glue function's source cut out of the rollup bundle; that source refers
 *    to bundle-scope helpers (`require$$0`, `__values`, ...) and cannot run alone. We rewrite that
 *    one `load` message to point at the package's standalone `wasm-out/...-threaded-simd.js`
 *    (same Emscripten build as the bundled copy and the same .wasm binary).
 * 3. The glue `ref()`s a worker whenever it starts a pthread, and pthreadpool's threads live for
 *    ever, so the process would never exit. Our workers stay ref'd only until they have loaded
 *    (so start-up is not cut short), then stay unref'd.
 *
 * In addition, tfjs' C++ caps the pool at half of `emscripten_num_logical_cores()` (it assumes
 * hyper-threading), which Node answers with `os.cpus().length`; on a 2-core machine that is one
 * thread whatever `setThreadsCount` says. We make `os.cpus()` report at least `2 * threads`
 * entries, only when called from the tfjs wasm glue (checked on the call stack).
 *
 * Because a broken threaded start would hang `tf.setBackend('wasm')` for good (Emscripten waits
 * for every pool worker to report `loaded`) and the backend can only initialise once per thread,
 * {@link enableWasmThreads} first proves the whole thing in a throw-away worker thread under a
 * time limit, and only then flips the flag in the calling thread.
 */
import * as tfCore from '@tensorflow/tfjs-core';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import { resolveObjectURL } from 'node:buffer';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../log.ts';

const log = createLogger('engine');

/**
 * The pool size compiled into tfjs-backend-wasm 4.22's threaded build (`PTHREAD_POOL_SIZE`).
 * More threads would make pthreadpool spawn workers while the main thread blocks on them.
 */
export const MAX_WASM_THREADS = 8;

/** What {@link enableWasmThreads} achieved: `threads > 1`, or single-threaded with the reason. */
export type WasmThreadsResult = { threads: number; reason?: undefined } | { threads: 1; reason: string };

export interface WasmThreadsOptions {
  /** Time limit for the trial start in a worker thread, ms (default 10000). */
  timeoutMs?: number;
}

type TfCore = typeof import('@tensorflow/tfjs-core');
type TfWasm = typeof import('@tensorflow/tfjs-backend-wasm');

interface Paths {
  /** dist/ folder of @tensorflow/tfjs-backend-wasm (with trailing separator), for setWasmPaths. */
  dist: string;
  /** The standalone threaded Emscripten glue the pthread workers load. */
  glue: string;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function wasmPaths(): Paths {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const distDir = path.dirname(main);
  const glue = path.join(distDir, '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  if (!existsSync(glue)) throw new Error(`threaded wasm glue not found at ${glue}`);
  return { dist: distDir + path.sep, glue };
}

async function loadTf(): Promise<{ tf: TfCore; wasm: TfWasm }> {
  const tf = await import('@tensorflow/tfjs-core');
  const mod = (await import('@tensorflow/tfjs-backend-wasm')) as TfWasm & { default?: TfWasm };
  // The package's Node entry is CommonJS; depending on the loader its exports sit on `default`.
  const wasm = typeof mod.setThreadsCount === 'function' ? mod : mod.default;
  if (wasm == null || typeof wasm.setThreadsCount !== 'function') {
    throw new Error('@tensorflow/tfjs-backend-wasm exports no setThreadsCount');
  }
  return { tf, wasm };
}

/** Whether this runtime has what wasm threads need at all (shared memory, atomics, workers). */
function runtimeSupportsThreads(): string | null {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  try {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    if (!(mem.buffer instanceof SharedArrayBuffer)) return 'WebAssembly shared memory is not supported';
  } catch (err) {
    return `WebAssembly shared memory is not supported (${errorMessage(err)})`;
  }
  return null;
}

/**
 * Runs in each pthread worker (eval'd, CommonJS): reads the Blob tfjs made of the Emscripten
 * worker script and runs it with the `require`/`__filename` a CommonJS worker file would get.
 * Messages that arrive meanwhile wait in parentPort's queue until the script listens.
 */
const PTHREAD_BOOTSTRAP = `'use strict';
const { workerData } = require('node:worker_threads');
workerData.script.text().then((src) => {
  new Function('require', '__filename', '__dirname', src)(require, workerData.filename, workerData.dirname);
}).catch((err) => { setImmediate(() => { throw err; }); });
`;

let installed: { threads: number } | null = null;

/**
 * Whether the current call comes from the tfjs wasm glue (`_emscripten_num_logical_cores`). The
 * path test also holds for source-mapped frames (tsx maps the bundle back to tfjs-backend-wasm/src).
 */
function calledFromWasmGlue(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 8;
  try {
    return /tfjs-backend-wasm/.test(new Error().stack ?? '');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Installs the `Worker` global and the `os.cpus()` widening described in the file comment.
 * Idempotent per thread; a later call can only raise the reported core count.
 */
function installShims(threads: number, paths: Paths): void {
  if (installed) {
    installed.threads = Math.max(installed.threads, threads);
    return;
  }
  const state = { threads };
  const glue = paths.glue;

  class EmscriptenPthreadWorker extends NodeWorker {
    private loadedOnce = false;

    constructor(url: string | URL, options?: WorkerOptions) {
      const href = String(url);
      if (!href.startsWith('blob:')) {
        super(url, options);
        return;
      }
      const script = resolveObjectURL(href);
      if (script == null) throw new Error(`wasm pthread worker script ${href} is not a live Blob URL`);
      super(PTHREAD_BOOTSTRAP, {
        eval: true,
        // The pthread script is plain JS: do not re-run the parent's --import hooks (tsx) in
        // each of the eight pool workers.
        execArgv: [],
        workerData: { script, filename: glue, dirname: path.dirname(glue) },
      });
    }

    override ref(): void {
      // The glue calls ref() when it hands a pthread to this worker; pthreadpool threads never
      // finish, so honouring it would keep the process alive for ever.
      if (!this.loadedOnce) super.ref();
    }

    override unref(): void {
      // First called when the worker reports `loaded`; from then on it stays unref'd.
      this.loadedOnce = true;
      super.unref();
    }

    override postMessage(message: unknown, transferList?: readonly import('node:worker_threads').TransferListItem[]): void {
      const m = message as { cmd?: unknown; urlOrBlob?: unknown } | null;
      if (m != null && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
        message = { ...m, urlOrBlob: glue };
      }
      super.postMessage(message, transferList);
    }
  }

  const g = globalThis as { Worker?: unknown };
  const existing = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  if (existing && !existing.configurable) throw new Error('globalThis.Worker exists and cannot be replaced');
  if (g.Worker != null) throw new Error('globalThis.Worker is already defined by something else');
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    enumerable: false,
    get: () => EmscriptenPthreadWorker,
    // The glue runs `global.Worker = worker_threads.Worker` when it starts; keep ours.
    set: () => undefined,
  });

  const originalCpus = os.cpus;
  os.cpus = function cpus(): os.CpuInfo[] {
    const list = originalCpus.call(os);
    const want = 2 * state.threads;
    if (list.length >= want || !calledFromWasmGlue()) return list;
    const filler: os.CpuInfo = list[0] ?? { model: 'unknown', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
    return Array.from({ length: want }, (_, i) => list[i] ?? filler);
  };
  installed = state;
}

/**
 * The worker-thread side of the trial start: installs the shims, starts the threaded backend,
 * runs a small conv2d and reports the thread count tfjs ended up with. Exported for the probe
 * worker only.
 */
export async function runWasmThreadsProbe(threads: number): Promise<{ threads: number }> {
  const paths = wasmPaths();
  const { tf, wasm } = await loadTf();
  installShims(threads, paths);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  wasm.setWasmPaths(paths.dist);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('threaded wasm backend did not start');
  const x = tf.randomUniform([1, 16, 16, 8], -1, 1, 'float32', 1);
  const w = tf.randomUniform([3, 3, 8, 8], -1, 1, 'float32', 2);
  const y = tf.conv2d(x as import('@tensorflow/tfjs-core').Tensor4D, w as import('@tensorflow/tfjs-core').Tensor4D, 1, 'same');
  const values = y.dataSync();
  if (!values.every(Number.isFinite)) throw new Error('threaded wasm conv2d produced non-finite values');
  tf.dispose([x, w, y]);
  return { threads: wasm.getThreadsCount() };
}

/**
 * This file's URL without the `?tsx-namespace=...` query tsx adds when it was loaded through
 * `tsImport` (as in the engine worker); with the query, tsImport would not transpile it again.
 */
function plainModuleUrl(): string {
  const url = new URL(import.meta.url);
  url.search = '';
  url.hash = '';
  return url.href;
}

/** Starts the threaded backend in a throw-away worker thread; rejects on failure or timeout. */
function probeInWorker(threads: number, timeoutMs: number): Promise<{ threads: number }> {
  const code = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.tsxApi)
  .then(({ tsImport }) => tsImport(workerData.self, workerData.self))
  .then((m) => m.runWasmThreadsProbe(workerData.threads))
  .then((r) => parentPort.postMessage({ ok: true, threads: r.threads }),
        (e) => parentPort.postMessage({ ok: false, reason: e && e.message ? e.message : String(e) }));
`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = new NodeWorker(code, {
      eval: true,
      execArgv: [],
      workerData: { tsxApi: import.meta.resolve('tsx/esm/api'), self: plainModuleUrl(), threads },
      stdout: true,
      stderr: true,
    });
    // Keep the probe's Emscripten chatter out of our output; surface it in failures.
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
    worker.stdout.on('data', collect);
    worker.stderr.on('data', collect);
    const finish = (err: Error | null, value?: { threads: number }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`trial start timed out after ${timeoutMs} ms${output ? `: ${output.trim()}` : ''}`)), timeoutMs);
    worker.on('message', (m: { ok: boolean; threads?: number; reason?: string }) => {
      if (m.ok) finish(null, { threads: m.threads ?? 1 });
      else finish(new Error(`trial start failed: ${m.reason}${output ? ` (${output.trim()})` : ''}`));
    });
    worker.on('error', (err) => finish(new Error(`trial worker crashed: ${errorMessage(err)}`)));
    worker.on('exit', (code) => finish(new Error(`trial worker exited (code ${code}) before reporting`)));
  });
}

let pending: Promise<WasmThreadsResult> | null = null;

/**
 * Makes the next wasm backend start in this thread use the threaded build with `threads` threads
 * (default: the machine's cores, at most {@link MAX_WASM_THREADS}). Call it before the wasm
 * backend initialises (before `tf.setBackend('wasm')`); it works on the main thread and inside a
 * worker thread.
 *
 * Never throws for environmental problems and never hangs: anything that goes wrong (no shared
 * memory, trial start failing or taking over `timeoutMs`, backend already started) leaves tfjs on
 * its single-threaded build and resolves `{ threads: 1, reason }`, logged as a warning. Throws
 * only for a bad `threads` argument. Concurrent and repeated calls share the first call's result.
 */
export function enableWasmThreads(threads?: number, options: WasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new Error(`enableWasmThreads: threads must be a positive integer, got ${String(threads)}`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new Error(`enableWasmThreads: timeoutMs must be a positive number, got ${String(timeoutMs)}`);
  }
  const requested = threads ?? Math.min(MAX_WASM_THREADS, os.availableParallelism());
  pending ??= enable(requested, timeoutMs).then((result) => {
    if (result.reason != null) {
      // Asking for one thread is a choice, not a failure worth a warning.
      if (requested < 2) log.debug('wasm stays single-threaded', { reason: result.reason });
      else log.warn('wasm stays single-threaded', { reason: result.reason });
      pending = null; // a later call may try again (e.g. with a longer time limit)
    } else {
      log.info('wasm threads enabled', { threads: result.threads });
    }
    return result;
  });
  return pending;
}

async function enable(requested: number, timeoutMs: number): Promise<WasmThreadsResult> {
  const threads = Math.min(requested, MAX_WASM_THREADS);
  if (threads < 2) return { threads: 1, reason: `${requested} thread requested` };
  const unsupported = runtimeSupportsThreads();
  if (unsupported) return { threads: 1, reason: unsupported };
  let paths: Paths;
  let tf: TfCore;
  let wasm: TfWasm;
  try {
    paths = wasmPaths();
    ({ tf, wasm } = await loadTf());
  } catch (err) {
    return { threads: 1, reason: errorMessage(err) };
  }
  // Not tf.findBackend: that would start the backend (single-threaded) as a side effect.
  if (Object.hasOwn(tf.engine().registry, 'wasm')) {
    const active = wasm.getThreadsCount();
    if (active > 1) return { threads: active };
    return { threads: 1, reason: 'the wasm backend was already initialised single-threaded in this thread' };
  }
  let probed: { threads: number };
  try {
    probed = await probeInWorker(threads, timeoutMs);
  } catch (err) {
    return { threads: 1, reason: errorMessage(err) };
  }
  if (probed.threads < 2) return { threads: 1, reason: `the threaded build started with ${probed.threads} thread` };
  try {
    installShims(threads, paths);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
  } catch (err) {
    return { threads: 1, reason: errorMessage(err) };
  }
  return { threads: probed.threads };
}

/**
 * Terminates the pthread workers the threaded wasm backend started but does not use, and returns
 * how many. Call it once after the wasm backend has initialised in this thread.
 *
 * Why: the build's pool size is compiled in (8 workers, ~15 MB each), whereas pthreadpool only
 * takes `threads - 1` of them, all at start-up, and never creates threads later. Emscripten would
 * create a worker again on demand should anything ask for one.
 */
export function releaseIdleWasmWorkers(): number {
  const backend = (tfCore.engine().registry as Record<string, unknown>)['wasm'] as
    | { wasm?: { PThread?: { unusedWorkers?: { terminate(): Promise<number> }[] } } }
    | undefined;
  const idle = backend?.wasm?.PThread?.unusedWorkers;
  if (!Array.isArray(idle)) return 0;
  const released = idle.splice(0);
  for (const worker of released) void worker.terminate();
  return released.length;
}
