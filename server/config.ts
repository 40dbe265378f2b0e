/**
 * Server configuration from environment variables and command-line flags, validated with zod at
 * start so a typo fails loudly (exit code 2, see main.ts) instead of running with a surprise.
 *
 * Flags win over env: `--port 0`, `--host 127.0.0.1`, `--data-dir /tmp/x`, `--engine-backend cpu`,
 * `--model mobilenet_v2`, … (the env name in kebab case, with or without `=`).
 */
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { MODEL_NAMES } from '../shared/schema.ts';
import { BACKEND_NAMES } from './engine/api.ts';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every variable, its default and its range. Keep README/SPEC in sync with this table. */
export const ConfigSchema = z.object({
  /** TCP port; 0 picks a free one (tests). */
  PORT: intFrom(0, 65535).default(3000),
  /** 0.0.0.0 by default so a projector or phone on the LAN can join; use 127.0.0.1 to keep it local. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Where the SQLite database lives. */
  DATA_DIR: z.string().min(1).default('./data'),
  ENGINE_BACKEND: z.enum(['auto', ...BACKEND_NAMES]).default('auto'),
  /**
   * XNNPACK threads of the wasm backend; 0 = one per core but one, which is left to the main event
   * loop (at least 1, at most 8); 1 = single-threaded. With a thread on every core, the main thread
   * competed with the engine: `/healthz` max 276 ms and event-loop max 308 ms in `npm run attack
   * --only canvas`, against 80 / 113 ms with one core left, at no loss of steps/s on 2 cores.
   */
  WASM_THREADS: intFrom(0, 8).default(0),
  MODEL: z.enum(MODEL_NAMES).default('mobilenet_v2'),
  /** Path of the user-supplied VGG19 weights file (only for MODEL/params.model = vgg19). */
  VGG19_WEIGHTS: z.string().min(1).optional(),
  MAX_SESSIONS: intFrom(1, 1_000_000).default(1000),
  MAX_CLIENTS_PER_SESSION: intFrom(1, 10_000).default(256),
  MAX_UPLOAD_BYTES: intFrom(1024, 1024 ** 3).default(15 * 1024 * 1024),
  MAX_IMAGE_PIXELS: intFrom(1024, 1e9).default(40_000_000),
  /** Most frames per second sent to clients (and MJPEG streams) per session. */
  FRAME_RATE: z.coerce.number().gt(0).max(60).default(10),
  FRAME_QUALITY: intFrom(1, 100).default(80),
  /** A session with nobody connected pauses its optimization after this long. */
  IDLE_PAUSE_MS: intFrom(0, 24 * 3600 * 1000).default(30_000),
  /** How often a keyframe (latest frame + iter + losses) is stored while the image changes. */
  KEYFRAME_INTERVAL_MS: intFrom(100, 3600 * 1000).default(5_000),
  /** `1` runs the in-process fake engine instead of the real one (tests, demos without tfjs). */
  ATELIER_FAKE_ENGINE: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  /** Per socket: sustained y:sync/y:awareness messages per second, and the burst (docs/RELIABILITY.md). */
  SOCKET_MSG_RATE: z.coerce.number().gt(0).max(1e6).default(200),
  SOCKET_MSG_BURST: intFrom(1, 1e7).default(1000),
  /** Per socket: sustained payload bytes per second, and the burst. */
  SOCKET_BYTE_RATE: intFrom(1024, 1024 ** 3).default(4 * 1024 * 1024),
  SOCKET_BYTE_BURST: intFrom(1024, 1024 ** 3).default(16 * 1024 * 1024),
  /** Largest single socket message (a long stroke is ~200 KB). */
  SOCKET_MAX_MESSAGE_BYTES: intFrom(1024, 1024 ** 3).default(8 * 1024 * 1024),
  /** Bad or rate-limited messages a socket may send (one forgiven per 5 s) before it is disconnected; 0 = never. */
  SOCKET_MAX_BAD_MESSAGES: intFrom(0, 1e9).default(20),
  /** Bytes queued for a socket that does not read before it is dropped (it resyncs on reconnect). */
  SOCKET_MAX_BUFFERED_BYTES: intFrom(1024, 1024 ** 3).default(8 * 1024 * 1024),
  /** Concurrent sockets per client IP address. */
  MAX_SOCKETS_PER_IP: intFrom(1, 1e6).default(256),
  /** Per client IP: session creations per minute (burst and sustained). */
  SESSION_CREATES_PER_MIN: intFrom(1, 1e6).default(30),
  /** Per client IP: image uploads per minute (burst and sustained). */
  UPLOADS_PER_MIN: intFrom(1, 1e6).default(60),
  /**
   * Absolute base URL of this server as users reach it (e.g. https://atelier.example.org); the
   * editor/viewer links of new sessions and forks start with it. Unset: http://localhost:PORT.
   * Never taken from a request's Host header (which a client chooses).
   */
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an absolute http(s) URL without query or fragment')
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  /**
   * Which proxies may name the client address in X-Forwarded-For, for the HTTP and socket limits
   * alike (express 'trust proxy' syntax: loopback, a CIDR list, or a hop count).
   */
  TRUST_PROXY: z.string().min(1).default('loopback'),
  // ── Budgets (server/SPEC.md S24–S29): every costly input is admitted by the work it causes. ──
  /** Paint cost (pixels evaluated: stroke segments' boxes at working size) of one stroke (S24). */
  PAINT_MAX_STROKE_COST: intFrom(1000, 1e12).default(16_000_000),
  /** Paint cost one document update may add (S24). */
  PAINT_MAX_UPDATE_COST: intFrom(1000, 1e12).default(32_000_000),
  /** Paint cost of all of a session's strokes, i.e. of a full repaint (S24). */
  PAINT_MAX_SESSION_COST: intFrom(1000, 1e13).default(128_000_000),
  /** Paint work per second per session: after a repaint of cost C, the next waits C / this (S24). */
  PAINT_COST_PER_SEC: intFrom(1000, 1e12).default(50_000_000),
  /** Bytes of decoded image pixels kept in the cache (S25). */
  DECODED_CACHE_BYTES: intFrom(0, 64 * 1024 ** 3).default(128 * 1024 * 1024),
  /**
   * Uploaded pixels per minute per client address (S25): an upload is decoded whole to check it,
   * ~1 s of CPU for a 6300² PNG, so the rate of pixels is bounded, not only of uploads.
   */
  UPLOAD_PIXELS_PER_MIN: intFrom(1024, 1e12).default(120_000_000),
  /**
   * Style pixels per session at the size the engine uses them (S25). Their Gram targets cost about a
   * forward pass each, in one uninterruptible turn of the engine: eight 1024² styles (8 M pixels)
   * held the device for ~10 s in `npm run attack`; 2 M is two 1024² styles or thirty 256² ones.
   */
  SESSION_MAX_STYLE_PIXELS: intFrom(1024, 1e10).default(2_000_000),
  /** Estimated engine time of one optimization step of one session; resolution is admitted against it (S26). */
  ENGINE_MAX_STEP_MS: intFrom(10, 3_600_000).default(2_000),
  /** A step still running after this long is preempted and its session stopped with an error (S26). */
  ENGINE_STEP_TIME_LIMIT_MS: intFrom(100, 3_600_000).default(20_000),
  /** Optimizations run at once for the sessions one client address owns; the others wait (S26). */
  ENGINE_MAX_SESSIONS_PER_IP: intFrom(1, 10_000).default(4),
  /** Largest document update (sync step2/update) accepted (S27). */
  DOC_MAX_UPDATE_BYTES: intFrom(1024, 1024 ** 3).default(2 * 1024 * 1024),
  /** Stored document bytes per session (all its updates); beyond it edits are refused (S27). */
  SESSION_MAX_DOC_BYTES: intFrom(1024, 64 * 1024 ** 3).default(32 * 1024 * 1024),
  /** Export jobs queued or running per session and per client address (S28). */
  EXPORT_MAX_JOBS_PER_SESSION: intFrom(1, 1000).default(2),
  EXPORT_MAX_JOBS_PER_IP: intFrom(1, 1000).default(3),
  /** Export jobs queued or running in all (S28). */
  EXPORT_MAX_JOBS: intFrom(1, 100_000).default(32),
  /** Export jobs run at once (S28). */
  EXPORT_CONCURRENCY: intFrom(1, 64).default(2),
  /** Pixels of all frames of one export (decoded frames are what a job holds in memory) (S28). */
  EXPORT_MAX_PIXELS: intFrom(1024, 1e10).default(16_000_000),
  /**
   * Export pixels per minute per client address (S28): encoding competes with the optimization for
   * the cores, so the work rate is bounded, not only the number of jobs.
   */
  EXPORT_PIXELS_PER_MIN: intFrom(1024, 1e12).default(16_000_000),
  /** Several processes (docs/DEPLOY.md): Redis for the socket.io adapter, the doc bus and engine leases. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** PostgreSQL as the shared store instead of SQLite under DATA_DIR (postgres://user:pass@host:5432/db). */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  /** This process's name in engine leases and logs; unique per process (default: hostname-pid). */
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, . _ - (at most 100)').optional(),
  /** Engine lease time to live: a dead owner's sessions move to another process within about 4/3 of it. */
  LEASE_TTL_MS: intFrom(500, 10 * 60 * 1000).default(10_000),
  /** Longest one PostgreSQL call may take before it fails and its connection is dropped (S30). */
  DATABASE_TIMEOUT_MS: intFrom(100, 10 * 60 * 1000).default(10_000),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

/** The validated configuration, with friendly camelCase names. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  engineBackend: RawConfig['ENGINE_BACKEND'];
  /** Resolved: WASM_THREADS, or one per core but one when it is 0. */
  wasmThreads: number;
  model: RawConfig['MODEL'];
  vgg19Weights?: string;
  maxSessions: number;
  maxClientsPerSession: number;
  maxUploadBytes: number;
  maxImagePixels: number;
  frameRate: number;
  frameQuality: number;
  idlePauseMs: number;
  keyframeIntervalMs: number;
  fakeEngine: boolean;
  socketMsgRate: number;
  socketMsgBurst: number;
  socketByteRate: number;
  socketByteBurst: number;
  socketMaxMessageBytes: number;
  socketMaxBadMessages: number;
  socketMaxBufferedBytes: number;
  maxSocketsPerIp: number;
  sessionCreatesPerMin: number;
  uploadsPerMin: number;
  publicUrl?: string;
  trustProxy: string;
  paintMaxStrokeCost: number;
  paintMaxUpdateCost: number;
  paintMaxSessionCost: number;
  paintCostPerSec: number;
  decodedCacheBytes: number;
  sessionMaxStylePixels: number;
  uploadPixelsPerMin: number;
  engineMaxStepMs: number;
  engineStepTimeLimitMs: number;
  engineMaxSessionsPerIp: number;
  docMaxUpdateBytes: number;
  sessionMaxDocBytes: number;
  exportMaxJobsPerSession: number;
  exportMaxJobsPerIp: number;
  exportMaxJobs: number;
  exportConcurrency: number;
  exportMaxPixels: number;
  exportPixelsPerMin: number;
  redisUrl?: string;
  databaseUrl?: string;
  instanceId: string;
  leaseTtlMs: number;
  /** DATABASE_TIMEOUT_MS: deadline of one PostgreSQL call (S30). */
  databaseTimeoutMs: number;
}

/** WASM_THREADS=0 in the server: one thread per core but one (kept for the event loop), 1..8. */
export function serverWasmThreads(cores = availableParallelism()): number {
  return Math.min(8, Math.max(1, cores - 1));
}

/** Thrown for bad configuration; `main.ts` prints `message` and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KEYS = Object.keys(ConfigSchema.shape) as (keyof RawConfig)[];

/** Parses `--some-flag value` / `--some-flag=value` into env-style names (SOME_FLAG). */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}' (flags look like --port 3000)`);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const name = flag.replace(/-/g, '_').toUpperCase();
    if (!(KEYS as string[]).includes(name)) {
      const known = KEYS.map((k) => '--' + k.toLowerCase().replace(/_/g, '-')).join(', ');
      throw new ConfigError(`unknown flag --${flag}; known flags: ${known}`);
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (name === 'ATELIER_FAKE_ENGINE' && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) value = '1';
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`flag --${flag} needs a value`);
    out[name] = value;
  }
  return out;
}

/**
 * Builds the config from `env` (usually process.env) overridden by `argv` flags.
 * Throws {@link ConfigError} naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Config {
  const raw: Record<string, string> = {};
  for (const k of KEYS) {
    const v = env[k];
    if (v !== undefined && v !== '') raw[k] = v;
  }
  Object.assign(raw, flagsToEnv(argv));
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}=${JSON.stringify(raw[String(i.path[0])] ?? '')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return fromRaw(parsed.data);
}

function fromRaw(c: RawConfig): Config {
  return {
    port: c.PORT,
    host: c.HOST,
    dataDir: path.resolve(c.DATA_DIR),
    engineBackend: c.ENGINE_BACKEND,
    wasmThreads: c.WASM_THREADS || serverWasmThreads(),
    model: c.MODEL,
    vgg19Weights: c.VGG19_WEIGHTS,
    maxSessions: c.MAX_SESSIONS,
    maxClientsPerSession: c.MAX_CLIENTS_PER_SESSION,
    maxUploadBytes: c.MAX_UPLOAD_BYTES,
    maxImagePixels: c.MAX_IMAGE_PIXELS,
    frameRate: c.FRAME_RATE,
    frameQuality: c.FRAME_QUALITY,
    idlePauseMs: c.IDLE_PAUSE_MS,
    keyframeIntervalMs: c.KEYFRAME_INTERVAL_MS,
    fakeEngine: c.ATELIER_FAKE_ENGINE,
    socketMsgRate: c.SOCKET_MSG_RATE,
    socketMsgBurst: c.SOCKET_MSG_BURST,
    socketByteRate: c.SOCKET_BYTE_RATE,
    socketByteBurst: c.SOCKET_BYTE_BURST,
    socketMaxMessageBytes: c.SOCKET_MAX_MESSAGE_BYTES,
    socketMaxBadMessages: c.SOCKET_MAX_BAD_MESSAGES,
    socketMaxBufferedBytes: c.SOCKET_MAX_BUFFERED_BYTES,
    maxSocketsPerIp: c.MAX_SOCKETS_PER_IP,
    sessionCreatesPerMin: c.SESSION_CREATES_PER_MIN,
    uploadsPerMin: c.UPLOADS_PER_MIN,
    publicUrl: c.PUBLIC_URL,
    trustProxy: c.TRUST_PROXY,
    paintMaxStrokeCost: c.PAINT_MAX_STROKE_COST,
    paintMaxUpdateCost: c.PAINT_MAX_UPDATE_COST,
    paintMaxSessionCost: c.PAINT_MAX_SESSION_COST,
    paintCostPerSec: c.PAINT_COST_PER_SEC,
    decodedCacheBytes: c.DECODED_CACHE_BYTES,
    sessionMaxStylePixels: c.SESSION_MAX_STYLE_PIXELS,
    uploadPixelsPerMin: c.UPLOAD_PIXELS_PER_MIN,
    engineMaxStepMs: c.ENGINE_MAX_STEP_MS,
    engineStepTimeLimitMs: c.ENGINE_STEP_TIME_LIMIT_MS,
    engineMaxSessionsPerIp: c.ENGINE_MAX_SESSIONS_PER_IP,
    docMaxUpdateBytes: c.DOC_MAX_UPDATE_BYTES,
    sessionMaxDocBytes: c.SESSION_MAX_DOC_BYTES,
    exportMaxJobsPerSession: c.EXPORT_MAX_JOBS_PER_SESSION,
    exportMaxJobsPerIp: c.EXPORT_MAX_JOBS_PER_IP,
    exportMaxJobs: c.EXPORT_MAX_JOBS,
    exportConcurrency: c.EXPORT_CONCURRENCY,
    exportMaxPixels: c.EXPORT_MAX_PIXELS,
    exportPixelsPerMin: c.EXPORT_PIXELS_PER_MIN,
    redisUrl: c.REDIS_URL,
    databaseUrl: c.DATABASE_URL,
    instanceId: c.INSTANCE_ID ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_'),
    leaseTtlMs: c.LEASE_TTL_MS,
    databaseTimeoutMs: c.DATABASE_TIMEOUT_MS,
  };
}

/** Defaults for everything, with `overrides` on top (tests and embedding). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...fromRaw(ConfigSchema.parse({})), ...overrides };
}
