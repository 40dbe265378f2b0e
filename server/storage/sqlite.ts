/**
 * SQLite {@link Storage}: the embedded default (`DATA_DIR/atelier.db`). The database itself is
 * {@link SqliteDatabase} (sqlite-db.ts), synchronous like better-sqlite3; here it runs in a worker
 * thread, so a commit's fsync never stalls the event loop (measured on this machine: p50 0.5 ms,
 * but up to 89 ms for one fsync of a 10-update batch, which in-process froze every socket and frame
 * for as long). Calls are posted with a request id and answered in order; the group commit
 * (group-commit.ts) still makes one transaction per 16 ms window.
 *
 * `{inProcess: true}` runs the database on the calling thread instead (read-only tools such as
 * `render --from-session`, which have no event loop to protect).
 */
import { Worker } from 'node:worker_threads';
import { SqliteDatabase, type SqliteOptions } from './sqlite-db.ts';
import {
  DuplicateSessionError,
  StaleFencingTokenError,
  StorageUnavailableError,
  type ImageInfo,
  type ImageRecord,
  type KeyframeMeta,
  type KeyframeRecord,
  type LossSampleRecord,
  type SessionRecord,
  type Storage,
  type StoredKeyframe,
  type StoredUpdate,
  type UpdateRecord,
} from './types.ts';
import { SchemaTooNewError } from './schema.ts';

export interface SqliteStorageOptions extends SqliteOptions {
  /** Run the database on this thread (blocking it) instead of a worker. */
  inProcess?: boolean;
}

export interface SqliteRequest {
  id: number;
  method: string;
  args: unknown[];
}

/** Plain Uint8Arrays (what structured clone makes of Buffers) back into Buffers, deeply; no copy. */
export function toBuffers(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(toBuffers);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toBuffers(x);
    return out;
  }
  return v;
}

const ERRORS: Record<string, new (m: string) => Error> = {
  DuplicateSessionError,
  StorageUnavailableError,
  SchemaTooNewError: class extends Error {
    override name = 'SchemaTooNewError';
  },
};

function rebuildError(e: { name: string; message: string; code?: string }): Error {
  if (e.name === 'StaleFencingTokenError') {
    const err = Object.create(StaleFencingTokenError.prototype) as Error;
    return Object.assign(err, { name: e.name, message: e.message });
  }
  const Cls = ERRORS[e.name];
  const err = Cls ? new Cls(e.message) : new Error(e.message);
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}

export class SqliteStorage implements Storage {
  readonly kind = 'sqlite';
  private worker: Worker | null = null;
  private db: SqliteDatabase | null = null;
  private ready: Promise<void>;
  private nextId = 1;
  private calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed: Promise<void> | null = null;

  /** Opens (creating and migrating if needed) `<dataDir>/atelier.db`; await {@link open} for errors. */
  constructor(
    readonly dataDir: string,
    options: SqliteStorageOptions = {},
  ) {
    if (options.inProcess) {
      try {
        this.db = new SqliteDatabase(dataDir, options);
        this.ready = Promise.resolve();
      } catch (e) {
        this.ready = Promise.reject(e);
      }
      return;
    }
    const worker = new Worker(new URL('./sqlite-worker-boot.mjs', import.meta.url), { workerData: { dataDir, readonly: !!options.readonly } });
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', (m: { ready: boolean; error?: { name: string; message: string } }) => (m.ready ? resolve() : reject(rebuildError(m.error!))));
      worker.once('error', reject);
    });
    this.ready.then(
      () =>
        worker.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: { name: string; message: string; code?: string } }) => {
          const call = this.calls.get(m.id);
          if (!call) return;
          this.calls.delete(m.id);
          if (m.ok) call.resolve(toBuffers(m.result));
          else call.reject(rebuildError(m.error!));
        }),
      () => {},
    );
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', () => this.failAll(new StorageUnavailableError('the SQLite worker stopped')));
    this.ready.catch(() => {});
  }

  /** Opens a storage and waits until its database is open and migrated (throws what opening threw). */
  static async open(dataDir: string, options: SqliteStorageOptions = {}): Promise<SqliteStorage> {
    const s = new SqliteStorage(dataDir, options);
    await s.ready;
    return s;
  }

  private failAll(e: Error): void {
    for (const c of this.calls.values()) c.reject(e);
    this.calls.clear();
  }

  private async call<T>(method: keyof SqliteDatabase, ...args: unknown[]): Promise<T> {
    await this.ready;
    if (this.db) return (this.db[method] as (...a: unknown[]) => T)(...args);
    if (this.closed && method !== 'close') throw new Error('storage is closed');
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker!.postMessage({ id, method, args } satisfies SqliteRequest);
    });
  }

  createSession(rec: SessionRecord): Promise<void> {
    return this.call('createSession', rec);
  }
  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.call('getSession', id);
  }
  countSessions(): Promise<number> {
    return this.call('countSessions');
  }
  appendUpdates(records: readonly UpdateRecord[], batchId?: string): Promise<void> {
    return records.length ? this.call('appendUpdates', records, batchId) : Promise.resolve();
  }
  loadUpdates(sessionId: string, afterSeq = 0): Promise<StoredUpdate[]> {
    return this.call('loadUpdates', sessionId, afterSeq);
  }
  putImage(rec: ImageRecord): Promise<void> {
    return this.call('putImage', rec);
  }
  getImage(id: string): Promise<ImageRecord | undefined> {
    return this.call('getImage', id);
  }
  imageInfo(ids: readonly string[]): Promise<ImageInfo[]> {
    return ids.length ? this.call('imageInfo', ids) : Promise.resolve([]);
  }
  putKeyframe(rec: KeyframeRecord): Promise<number> {
    return this.call('putKeyframe', rec);
  }
  latestKeyframe(sessionId: string): Promise<StoredKeyframe | undefined> {
    return this.call('latestKeyframe', sessionId);
  }
  listKeyframes(sessionId: string): Promise<KeyframeMeta[]> {
    return this.call('listKeyframes', sessionId);
  }
  getKeyframe(sessionId: string, id: number): Promise<StoredKeyframe | undefined> {
    return Number.isSafeInteger(id) ? this.call('getKeyframe', sessionId, id) : Promise.resolve(undefined);
  }
  appendLossSample(rec: LossSampleRecord): Promise<void> {
    return this.call('appendLossSample', rec);
  }
  lossSamples(sessionId: string): Promise<LossSampleRecord[]> {
    return this.call('lossSamples', sessionId);
  }
  /** Waits for the calls posted before it (answered in order), closes the database and stops the worker. */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      try {
        await this.ready;
      } catch {
        await this.worker?.terminate();
        return;
      }
      if (this.db) return this.db.close();
      const id = this.nextId++;
      await new Promise<void>((resolve) => {
        this.calls.set(id, { resolve: () => resolve(), reject: () => resolve() });
        this.worker!.postMessage({ id, method: 'close', args: [] } satisfies SqliteRequest);
      });
      await this.worker!.terminate();
    })());
  }
}
