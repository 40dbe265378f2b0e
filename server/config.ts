/**
 * Server configuration from environment variables and command-line flags, validated with zod at
 * start so a typo fails loudly (exit code 2, see main.ts) instead of running with a surprise.
 *
 * Flags win over env: `--port 0`, `--host 127.0.0.1`, `--data-dir /tmp/x`, `--engine-backend cpu`,
 * `--model mobilenet_v2`, … (the env name in kebab case, with or without `=`).
 */
import { hostname } from 'node:os';
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
  /** XNNPACK threads of the wasm backend; 0 = one per core (at most 8), 1 = single-threaded. */
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
  /** Several processes (docs/DEPLOY.md): Redis for the socket.io adapter, the doc bus and engine leases. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** PostgreSQL as the shared store instead of SQLite under DATA_DIR (postgres://user:pass@host:5432/db). */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  /** This process's name in engine leases and logs; unique per process (default: hostname-pid). */
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, . _ - (at most 100)').optional(),
  /** Engine lease time to live: a dead owner's sessions move to another process within about 4/3 of it. */
  LEASE_TTL_MS: intFrom(500, 10 * 60 * 1000).default(10_000),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

/** The validated configuration, with friendly camelCase names. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  engineBackend: RawConfig['ENGINE_BACKEND'];
  /** 0 = auto. */
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
  redisUrl?: string;
  databaseUrl?: string;
  instanceId: string;
  leaseTtlMs: number;
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
    wasmThreads: c.WASM_THREADS,
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
    redisUrl: c.REDIS_URL,
    databaseUrl: c.DATABASE_URL,
    instanceId: c.INSTANCE_ID ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_'),
    leaseTtlMs: c.LEASE_TTL_MS,
  };
}

/** Defaults for everything, with `overrides` on top (tests and embedding). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...fromRaw(ConfigSchema.parse({})), ...overrides };
}
