/**
 * Test helpers for the session server: a server on port 0 with a temp DATA_DIR and the fake
 * engine, socket.io clients that keep a Y.Doc in sync via y-protocols, and `waitFor`.
 * Used by server tests and by e2e; everything they start is torn down by `close()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import {
  PROTOCOL_VERSION,
  SOCKET_PATH,
  api,
  type ClientToServerEvents,
  type CreateSessionResponse,
  type ErrorPayload,
  type FramePayload,
  type ServerToClientEvents,
  type StatusPayload,
} from '../../shared/protocol.ts';
import { defaultConfig, type Config } from '../config.ts';
import { startServer, type RunningServer, type StartOptions } from '../app/server.ts';
import { WorkerEngineHost } from '../worker/worker-host.ts';

export interface TestServer extends RunningServer {
  config: Config;
  dataDir: string;
  /** Closes the server and removes the temp data dir (unless `keepDataDir`). */
  close(): Promise<void>;
}

export interface TestServerOptions extends StartOptions {
  /** Keep the temp DATA_DIR after close (it is removed by default). */
  keepDataDir?: boolean;
  /**
   * Run the real engine in its worker thread on the tiny random-weight network and the cpu
   * backend (every session, whatever params.model says): slow to start (seconds), but real.
   */
  tinyEngine?: boolean;
}

/**
 * Starts a server on 127.0.0.1:0 with a fresh temp DATA_DIR and the fake engine (10 fps), or the
 * tiny real engine with `{tinyEngine: true}`. `overrides` replace config values (e.g. `{dataDir}`
 * to restart on the same data).
 */
export async function startTestServer(overrides: Partial<Config> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(tmpdir(), 'atelier-test-'));
  const config = defaultConfig({ port: 0, host: '127.0.0.1', fakeEngine: !options.tinyEngine, ...overrides, dataDir });
  const engineHost =
    options.engineHost ??
    (options.tinyEngine
      ? new WorkerEngineHost({ backend: 'cpu', model: config.model, forceModel: 'tiny', frameRate: config.frameRate, frameQuality: config.frameQuality })
      : undefined);
  const server = await startServer(config, { ...options, engineHost });
  return {
    ...server,
    config,
    dataDir,
    close: async () => {
      await server.close();
      if (ownDir && !options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `POST /api/sessions` on `baseUrl` (with `headers`, e.g. X-Forwarded-For). */
export async function createSession(baseUrl: string, headers: Record<string, string> = {}): Promise<CreateSessionResponse> {
  const res = await fetch(baseUrl + api.sessions, { method: 'POST', headers });
  if (res.status !== 201) throw new Error(`POST /api/sessions answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as CreateSessionResponse;
}

export interface ConnectOptions {
  url: string;
  session: string;
  token: string;
  name?: string;
  /** Acknowledge frames (default true). `false` simulates a client that never keeps up. */
  ackFrames?: boolean;
  /** Resolve only after the initial sync (step2 from the server) arrived (default true). */
  waitForSync?: boolean;
  /** Extra handshake headers, e.g. `X-Forwarded-For` to act as another client address behind the trusted loopback proxy. */
  headers?: Record<string, string>;
}

export interface TestClient {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  frames: FramePayload[];
  errors: ErrorPayload[];
  statuses: StatusPayload[];
  /** Set once the server's step2 has been applied. */
  synced: boolean;
  close(): void;
}

/** Origin of updates that came from the server (not sent back). */
const REMOTE = Symbol('remote');

/** Connects a socket.io client that keeps `doc` in sync with the session (y-protocols sync). */
export function connectClient(opts: ConnectOptions): Promise<TestClient> {
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  awareness.setLocalState(null);
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(opts.url, {
    path: SOCKET_PATH,
    auth: { session: opts.session, token: opts.token, name: opts.name ?? 'test', protocol: PROTOCOL_VERSION },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(opts.headers ? { extraHeaders: opts.headers } : {}),
  });
  const client: TestClient = {
    socket,
    doc,
    awareness,
    frames: [],
    errors: [],
    statuses: [],
    synced: false,
    close: () => {
      socket.disconnect();
      awareness.destroy();
      doc.destroy();
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = () => {
      if (!settled) {
        settled = true;
        resolve(client);
      }
    };
    socket.on('connect_error', (e) => {
      client.close();
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    socket.on('y:sync', (msg) => {
      const enc = encoding.createEncoder();
      const type = syncProtocol.readSyncMessage(decoding.createDecoder(new Uint8Array(msg)), enc, doc, REMOTE);
      if (encoding.length(enc) > 0) socket.emit('y:sync', encoding.toUint8Array(enc));
      if (type === syncProtocol.messageYjsSyncStep2) {
        client.synced = true;
        done();
      }
    });
    socket.on('y:awareness', (msg) => awarenessProtocol.applyAwarenessUpdate(awareness, new Uint8Array(msg), REMOTE));
    socket.on('frame', (frame, ack) => {
      client.frames.push(frame);
      if (opts.ackFrames !== false) ack();
    });
    socket.on('status', (s) => client.statuses.push(s));
    socket.on('error', (e) => client.errors.push(e));
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return;
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, update);
      socket.emit('y:sync', encoding.toUint8Array(enc));
    });
    awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin === REMOTE) return;
      socket.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(awareness, [...added, ...updated, ...removed]));
    });
    socket.on('connect', () => {
      const enc = encoding.createEncoder();
      syncProtocol.writeSyncStep1(enc, doc);
      socket.emit('y:sync', encoding.toUint8Array(enc));
      if (opts.waitForSync === false) done();
    });
  });
}

/** Polls `predicate` until it is truthy; rejects with `message` after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, message = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The doc's content as plain JSON (for convergence checks). */
export function docJson(doc: Y.Doc): Record<string, unknown> {
  return {
    params: doc.getMap('params').toJSON(),
    styles: doc.getArray('styles').toJSON(),
    content: doc.getMap('content').toJSON(),
    strokes: doc.getArray('strokes').toJSON(),
  };
}
