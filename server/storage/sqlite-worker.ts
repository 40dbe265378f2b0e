/**
 * Worker half of {@link SqliteStorage}: owns the {@link SqliteDatabase} and runs the calls the
 * main thread posts, one at a time, in order, each answered with its request id (so an answer can
 * never be taken for another call's). Structured clone turns Buffers into plain Uint8Arrays;
 * `toBuffers` turns them back on both sides.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatabase } from './sqlite-db.ts';
import { toBuffers, type SqliteRequest } from './sqlite.ts';

const { dataDir, readonly } = workerData as { dataDir: string; readonly: boolean };
const port = parentPort!;
let db: SqliteDatabase;
try {
  db = new SqliteDatabase(dataDir, { readonly });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: { name: (e as Error).name, message: (e as Error).message } });
  process.exit(0);
}

port.on('message', (req: SqliteRequest) => {
  try {
    const fn = (db as unknown as Record<string, (...a: unknown[]) => unknown>)[req.method];
    const result = fn.apply(db, toBuffers(req.args) as unknown[]);
    port.postMessage({ id: req.id, ok: true, result });
    if (req.method === 'close') port.close();
  } catch (e) {
    const err = e as Error & { code?: string };
    port.postMessage({ id: req.id, ok: false, error: { name: err.name, message: err.message, code: err.code } });
  }
});
