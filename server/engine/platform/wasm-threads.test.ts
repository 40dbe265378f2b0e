import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { enableWasmThreads } from './wasm-threads.ts';

// The wasm backend initialises once per thread, so every real start happens in a child process
// (plain `node -e`, loading this module through tsx's API like the engine worker does).
const TSX_API = import.meta.resolve('tsx/esm/api');
const MODULE = new URL('./wasm-threads.ts', import.meta.url).href;
const TF_CORE = import.meta.resolve('@tensorflow/tfjs-core');
const TF_WASM = import.meta.resolve('@tensorflow/tfjs-backend-wasm');
const DIST = path.dirname(fileURLToPath(TF_WASM)) + path.sep;

/** Starts wasm with `threads` threads (1: untouched single-threaded build) and runs three ops. */
const RUN = `async function run(threads) {
  const { tsImport } = await import(${JSON.stringify(TSX_API)});
  const wt = await tsImport(${JSON.stringify(MODULE)}, ${JSON.stringify(MODULE)});
  const core = await import(${JSON.stringify(TF_CORE)});
  const tf = core.conv2d ? core : core.default;
  const w = await import(${JSON.stringify(TF_WASM)});
  const wasm = w.setWasmPaths ? w : w.default;
  const enabled = threads > 1 ? await wt.enableWasmThreads(threads) : null;
  wasm.setWasmPaths(${JSON.stringify(DIST)});
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not start');
  const released = threads > 1 ? wt.releaseIdleWasmWorkers() : 0;
  const t = (shape, seed) => tf.randomUniform(shape, -1, 1, 'float32', seed);
  const x = t([1, 32, 32, 16], 1);
  const out = {
    conv2d: Array.from(tf.conv2d(x, t([3, 3, 16, 24], 2), 1, 'same').dataSync()),
    matMul: Array.from(tf.matMul(t([64, 96], 3), t([96, 48], 4)).dataSync()),
    depthwiseConv2d: Array.from(tf.depthwiseConv2d(x, t([3, 3, 16, 2], 5), 1, 'same').dataSync()),
  };
  return { enabled, threads: wasm.getThreadsCount(), released, out };
}`;

/** Child program: runs {@link RUN} on the main thread or inside a worker thread, prints JSON. */
const CHILD = `'use strict';
${RUN}
const threads = Number(process.env.WT_THREADS);
const fail = (e) => { console.error(e); process.exitCode = 1; };
if (process.env.WT_MODE === 'worker') {
  const { Worker } = require('node:worker_threads');
  const code = "const { parentPort, workerData } = require('node:worker_threads');" + run.toString() +
    ";run(workerData).then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: String(e && e.stack || e) }));";
  const w = new Worker(code, { eval: true, execArgv: [], workerData: threads });
  w.on('message', (r) => (r.error ? fail(r.error) : process.stdout.write(JSON.stringify({ ...r, inWorker: true }))));
  w.on('error', fail);
} else {
  run(threads).then((r) => process.stdout.write(JSON.stringify(r)), fail);
}
`;

interface ChildResult {
  enabled: { threads: number; reason?: string } | null;
  threads: number;
  /** Idle pool workers terminated after start-up by releaseIdleWasmWorkers. */
  released: number;
  inWorker?: boolean;
  out: Record<'conv2d' | 'matMul' | 'depthwiseConv2d', number[]>;
}

/**
 * Runs the child and waits for it to exit on its own: a child kept alive by wasm pthread workers
 * is killed by the hang guard and fails the test.
 */
function runChild(threads: number, mode: 'main' | 'worker'): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD], {
      env: { ...process.env, WT_THREADS: String(threads), WT_MODE: mode, ATELIER_LOG: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 120_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (hung) return reject(new Error(`child (${threads} threads, ${mode}) did not exit by itself; stderr: ${stderr}`));
      if (code !== 0) return reject(new Error(`child (${threads} threads, ${mode}) exited ${code ?? signal}; stderr: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as ChildResult);
      } catch {
        reject(new Error(`child printed no result: ${stdout.slice(0, 500)} ${stderr}`));
      }
    });
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const tol = 1e-4 * Math.max(Math.abs(a), Math.abs(e)) + 1e-6;
    if (!(Math.abs(a - e) <= tol)) assert.fail(`${what}[${i}]: ${a} vs single-threaded ${e}`);
  }
}

describe('enableWasmThreads', () => {
  test('E22: rejects a thread count that is not a positive integer', () => {
    assert.throws(() => enableWasmThreads(0), /positive integer/);
    assert.throws(() => enableWasmThreads(1.5), /positive integer/);
    assert.throws(() => enableWasmThreads(2, { timeoutMs: -1 }), /timeoutMs/);
  });

  test('E22: asking for one thread stays single-threaded with a reason and installs nothing', async () => {
    const r = await enableWasmThreads(1);
    assert.equal(r.threads, 1);
    assert.match(r.reason ?? '', /1 thread/);
    assert.equal((globalThis as { Worker?: unknown }).Worker, undefined);
  });

  test('E22: a trial start over the time limit falls back with a reason instead of hanging', async () => {
    const r = await enableWasmThreads(2, { timeoutMs: 1 });
    assert.equal(r.threads, 1);
    assert.match(r.reason ?? '', /timed out/);
    // nothing was switched on in this thread
    assert.equal((globalThis as { Worker?: unknown }).Worker, undefined);
    assert.notEqual(tf.env().getFlags()['WASM_HAS_MULTITHREAD_SUPPORT'], true);
  });

  describe('in child processes', () => {
    let single: ChildResult;
    before(async () => {
      single = await runChild(1, 'main');
    });

    test('E22: the reference child really is single-threaded', () => {
      assert.equal(single.threads, 1);
      assert.equal(single.enabled, null);
    });

    test('E22: threaded wasm runs on two threads, matches the single-threaded build and lets the process exit', async () => {
      const threaded = await runChild(2, 'main');
      assert.deepEqual(threaded.enabled, { threads: 2 });
      assert.equal(threaded.threads, 2);
      // the compiled-in pool has 8 workers; pthreadpool took one, the other 7 were let go and the
      // ops below ran after that
      assert.equal(threaded.released, 8 - 1);
      for (const op of ['conv2d', 'matMul', 'depthwiseConv2d'] as const) {
        assertClose(threaded.out[op], single.out[op], op);
      }
    });

    test('E22: threaded wasm also starts inside a worker thread and matches the single-threaded build', async () => {
      const threaded = await runChild(2, 'worker');
      assert.equal(threaded.inWorker, true);
      assert.deepEqual(threaded.enabled, { threads: 2 });
      assert.equal(threaded.threads, 2);
      for (const op of ['conv2d', 'matMul', 'depthwiseConv2d'] as const) {
        assertClose(threaded.out[op], single.out[op], op);
      }
    });
  });
});
