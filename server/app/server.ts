/**
 * Composition root: storage, image store, engine host, session manager, REST and socket.io on one
 * HTTP server and one port. `startServer` is what main.ts, tests and e2e call.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Config } from '../config.ts';
import { DEFAULT_CONTENT, DEFAULT_PARAMS, DEFAULT_SESSION_IMAGES } from '../../shared/schema.ts';
import { ROUTES } from '../../shared/protocol.ts';
import { ImageStore } from '../images/store.ts';
import { createLogger } from '../log.ts';
import { attachRealtime, socketLimits, type AtelierServer } from '../realtime/socket-server.ts';
import type { EngineHost } from '../session/engine-host.ts';
import { FakeEngineHost } from '../session/fake-engine.ts';
import { SessionManager, type SessionDefaults } from '../session/session-manager.ts';
import { GroupCommit } from '../storage/group-commit.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import type { Storage } from '../storage/types.ts';
import type { RedisSessionCluster } from '../cluster/session-cluster.ts';
import { ServerMetrics } from './metrics.ts';
import { apiRouter, errorHandler } from './routes.ts';
import { historyRouter } from './history-routes.ts';
import { exportLimits } from '../history/export.ts';
import { refuseStreamFlood, rejectBadPercentEncoding, requestLogger, securityHeaders } from './http-guards.ts';
import { rateLimits } from '../limits/shared-rate-limit.ts';
import { ConnectionCounter, compileTrust } from '../limits/client-address.ts';
import type { SessionBudgets } from '../session/session.ts';
import { paintBudget } from '../session/doc-state.ts';

const log = createLogger('server');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StartOptions {
  /** Use this engine host instead of the one the config selects (tests). */
  engineHost?: EngineHost;
  /** Use this storage instead of SQLite under DATA_DIR (tests: MemoryStorage). */
  storage?: Storage;
  /** Where preset images live (default: <repo>/assets). */
  assetsDir?: string;
  /** Built client to serve (default: <repo>/client/dist). */
  clientDist?: string;
}

export interface RunningServer {
  /** `http://host:port`, with 127.0.0.1 when listening on all interfaces. */
  url: string;
  port: number;
  sessions: SessionManager;
  storage: Storage;
  engineHost: EngineHost;
  io: AtelierServer;
  /** Set when REDIS_URL makes this process one of several (docs/DEPLOY.md). */
  cluster?: RedisSessionCluster;
  /** Stops accepting, disconnects clients, stores keyframes, closes the engine and storage. */
  close(): Promise<void>;
}

/** Creates the configured engine host: the fake one, or the real engine in a worker thread. */
export async function createEngineHost(config: Config): Promise<EngineHost> {
  if (config.fakeEngine) return new FakeEngineHost({ frameRate: config.frameRate, frameQuality: config.frameQuality });
  const { WorkerEngineHost } = await import('../worker/worker-host.ts');
  return new WorkerEngineHost({
    backend: config.engineBackend,
    wasmThreads: config.wasmThreads,
    model: config.model,
    vgg19Weights: config.vgg19Weights,
    frameRate: config.frameRate,
    frameQuality: config.frameQuality,
    stepTimeLimitMs: config.engineStepTimeLimitMs,
    maxSessionsPerGroup: config.engineMaxSessionsPerIp,
  });
}

const CLIENT_MISSING_PAGE = `<!doctype html><meta charset="utf-8"><title>Atelier</title>
<h1>Atelier server is running</h1>
<p>The browser client is not built. Run <code>npm run build:client</code> (or <code>npm start</code>, which builds it) and reload.</p>
<p>The REST API (<code>POST /api/sessions</code>) and socket.io endpoint work without it.</p>`;

/** PostgreSQL storage (DATABASE_URL); loaded on demand so single-machine setups never load pg. */
async function openPostgres(config: Config): Promise<Storage> {
  const { PostgresStorage } = await import('../storage/postgres.ts');
  return PostgresStorage.open(config.databaseUrl!, { callTimeoutMs: config.databaseTimeoutMs });
}

/** Redis-backed cluster hooks (REDIS_URL); closes `storage` when Redis cannot be reached. */
async function connectCluster(config: Config, storage: Storage): Promise<RedisSessionCluster> {
  const { RedisSessionCluster } = await import('../cluster/session-cluster.ts');
  try {
    return await RedisSessionCluster.connect({ redisUrl: config.redisUrl!, instanceId: config.instanceId, leaseTtlMs: config.leaseTtlMs });
  } catch (e) {
    await storage.close();
    throw e;
  }
}

/** Starts everything and listens on config.port (0 = any free port). */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const storage = options.storage ?? (config.databaseUrl ? await openPostgres(config) : await SqliteStorage.open(config.dataDir));
  if (config.redisUrl && !config.databaseUrl && !options.storage) {
    log.warn('REDIS_URL without DATABASE_URL: processes on other machines will not see this SQLite database (docs/DEPLOY.md)');
  }
  const cluster = config.redisUrl ? await connectCluster(config, storage) : undefined;
  const images = new ImageStore(storage, config.decodedCacheBytes);
  await images.seedPresets(options.assetsDir ?? path.join(repoRoot, 'assets'), {
    maxBytes: config.maxUploadBytes,
    maxPixels: config.maxImagePixels,
  });
  const engineHost = options.engineHost ?? (await createEngineHost(config));
  const commits = new GroupCommit(storage, {
    onRetry: () => metrics.storageRetries.inc(),
    onCommit: (updates) => metrics.docUpdates.inc(updates),
  });
  let sessions!: SessionManager;
  const budgets: SessionBudgets = {
    paint: paintBudget(config),
    paintCostPerSec: config.paintCostPerSec,
    maxStylePixels: config.sessionMaxStylePixels,
    engineMaxStepMs: config.engineMaxStepMs,
    engineMaxStepPixels: config.engineMaxStepPixels,
    maxDocBytes: config.sessionMaxDocBytes,
  };
  const metrics = new ServerMetrics(() => sessions, () => engineHost.backend, () => engineHost.tensorCount);
  const defaults = (): SessionDefaults => {
    const content = images.presetByFile(DEFAULT_SESSION_IMAGES.content) ?? images.presetByFile('content/astronaut.png');
    const style = images.presetByFile(DEFAULT_SESSION_IMAGES.style);
    return {
      params: { ...DEFAULT_PARAMS, model: config.model },
      content: content
        ? { imageId: content.imageId, background: DEFAULT_CONTENT.background, width: content.width, height: content.height }
        : { ...DEFAULT_CONTENT },
      styles: style ? [{ imageId: style.imageId, weight: 1, scale: 1 }] : [],
    };
  };
  sessions = new SessionManager(
    {
      budgets,
      storage,
      commits,
      images,
      engineHost,
      idlePauseMs: config.idlePauseMs,
      keyframeIntervalMs: config.keyframeIntervalMs,
      metrics: { step: () => metrics.steps.inc() },
      cluster,
    },
    config.maxSessions,
    defaults,
  );

  const app = express();
  app.disable('x-powered-by');
  // One trusted client address for HTTP (req.ip) and sockets (client-address.ts).
  const trust = compileTrust(config.trustProxy);
  app.set('trust proxy', trust);
  // S33: per-address limits count in Redis when there is one (every process shares them).
  const limit = rateLimits(cluster?.redis);
  const creations = limit('creations', config.sessionCreatesPerMin);
  const uploads = limit('uploads', config.uploadsPerMin);
  const uploadPixels = limit('upload-pixels', Math.max(config.uploadPixelsPerMin, config.maxImagePixels), config.uploadPixelsPerMin);
  const exportPixels = limit('export-pixels', Math.max(config.exportPixelsPerMin, config.exportMaxPixels), config.exportPixelsPerMin);
  const connections = new ConnectionCounter(config.maxSocketsPerIp);
  let listenPort = config.port;
  const publicUrl = () => config.publicUrl ?? `http://localhost:${listenPort}`;
  app.use(rejectBadPercentEncoding());
  app.use(securityHeaders());
  app.use(requestLogger());
  const history = historyRouter({
    sessions,
    storage,
    images,
    creations,
    sessionCreatesPerMin: config.sessionCreatesPerMin,
    publicUrl,
    paintBudget: budgets.paint,
    exportLimits: { dir: path.join(config.dataDir, 'exports'), ...exportLimits(config) },
    exportPixels,
  });
  app.use(history);
  app.use(apiRouter({ config, sessions, images, metrics, backend: () => engineHost.backend, creations, uploads, uploadPixels, connections, publicUrl }));
  const dist = options.clientDist ?? path.join(repoRoot, 'client', 'dist');
  if (existsSync(path.join(dist, 'index.html'))) {
    app.use(express.static(dist, { index: 'index.html' }));
    app.get([ROUTES.pages, '/'], (_req, res) => res.sendFile(path.join(dist, 'index.html')));
  } else {
    app.get(['/', ROUTES.pages], (_req, res) => res.type('html').send(CLIENT_MISSING_PAGE));
  }
  app.use(errorHandler);

  const refuseFlood = refuseStreamFlood(connections, trust);
  const httpServer = http.createServer((req, res) => {
    if (!refuseFlood(req, res)) app(req, res);
  });
  const io = attachRealtime(httpServer, sessions, {
    maxClientsPerSession: config.maxClientsPerSession,
    commits,
    metrics,
    connections,
    trust,
    docMaxUpdateBytes: config.docMaxUpdateBytes,
    sessionMaxDocBytes: config.sessionMaxDocBytes,
    maxBufferedBytes: config.socketMaxBufferedBytes,
    limits: socketLimits(config),
  });
  if (cluster) io.adapter(cluster.socketAdapter());
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  listenPort = port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info(`listening on ${url}`, { backend: engineHost.backend, dataDir: options.storage ? '(memory)' : config.dataDir });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      io.local.disconnectSockets(true); // this process's sockets only (with the Redis adapter, io.* is cluster-wide)
      const httpClosed = new Promise<void>((resolve) => io.close(() => resolve()));
      // Long-lived responses (MJPEG streams) would keep httpServer.close() waiting forever.
      httpServer.closeAllConnections();
      await httpClosed;
      await sessions.closeAll();
      history.exports.close();
      history.history.close();
      await commits.close();
      await engineHost.close();
      await cluster?.close();
      await storage.close();
    })());

  return { url, port, sessions, storage, engineHost, io, close, cluster };
}
