/**
 * Server configuration from environment variables and command-line flags, validated with zod at
 * start so a typo fails loudly (exit code 2, see main.ts) instead of running with a surprise.
 *
 * Flags win over env: `--port 0`, `--host 127.0.0.1`, `--data-dir /tmp/x`, `--engine-backend cpu`,
 * `--model mobilenet_v2`, … (the env name in kebab case, with or without `=`).
 *
 * One table ({@link ConfigSchema}) drives everything: the environment variables, the flags, the
 * defaults and the {@link Config} type. Modules with a fallback for a setting (socket limits,
 * paint budget, export limits) take it from {@link CONFIG_DEFAULTS}, so no default is written twice.
 */
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { BACKEND_NAMES, MODEL_NAMES } from '../shared/names.ts';
import { DEFAULT_PARAMS } from '../shared/schema.ts';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every setting once: its name as a {@link Config} field, its range and its default. The
 * environment variable is the name in SNAKE_CASE (`maxSessions` → MAX_SESSIONS; exceptions in
 * {@link ENV_EXCEPTIONS}) and the flag the variable in kebab case (`--max-sessions`). Keep
 * README/SPEC in sync with this table.
 */
export const ConfigSchema = z.object({
  /** TCP port; 0 picks a free one (tests). */
  port: intFrom(0, 65535).default(3000),
  /** 0.0.0.0 by default so a projector or phone on the LAN can join; use 127.0.0.1 to keep it local. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Where the SQLite database lives (resolved to an absolute path). */
  dataDir: z.string().min(1).default('./data').transform((p) => path.resolve(p)),
  engineBackend: z.enum(['auto', ...BACKEND_NAMES]).default('auto'),
  /**
   * XNNPACK threads of the wasm backend; 0 = one per core but one, which is left to the main event
   * loop (at least 1, at most 8); 1 = single-threaded. With a thread on every core, the main thread
   * competed with the engine: `/healthz` max 276 ms and event-loop max 308 ms in `npm run attack
   * --only canvas`, against 80 / 113 ms with one core left, at no loss of steps/s on 2 cores.
   */
  wasmThreads: intFrom(0, 8)
    .default(0)
    .transform((n) => n || serverWasmThreads()),
  /** The model of new sessions (default: the document default's). */
  model: z.enum(MODEL_NAMES).default(DEFAULT_PARAMS.model),
  /** Path of the user-supplied VGG19 weights file (only for MODEL/params.model = vgg19). */
  vgg19Weights: z.string().min(1).optional(),
  maxSessions: intFrom(1, 1_000_000).default(1000),
  maxClientsPerSession: intFrom(1, 10_000).default(256),
  maxUploadBytes: intFrom(1024, 1024 ** 3).default(15 * 1024 * 1024),
  maxImagePixels: intFrom(1024, 1e9).default(40_000_000),
  /** Most frames per second sent to clients (and MJPEG streams) per session. */
  frameRate: z.coerce.number().gt(0).max(60).default(10),
  frameQuality: intFrom(1, 100).default(80),
  /** A session with nobody connected pauses its optimization after this long. */
  idlePauseMs: intFrom(0, 24 * 3600 * 1000).default(30_000),
  /** How often a keyframe (latest frame + iter + losses) is stored while the image changes. */
  keyframeIntervalMs: intFrom(100, 3600 * 1000).default(5_000),
  /** ATELIER_FAKE_ENGINE: `1` runs the in-process fake engine instead of the real one (tests, demos without tfjs). */
  fakeEngine: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('0')
    .transform((v) => v === '1' || v === 'true'),
  /** Per socket: sustained y:sync/y:awareness messages per second, and the burst (docs/RELIABILITY.md). */
  socketMsgRate: z.coerce.number().gt(0).max(1e6).default(200),
  socketMsgBurst: intFrom(1, 1e7).default(1000),
  /** Per socket: sustained payload bytes per second, and the burst. */
  socketByteRate: intFrom(1024, 1024 ** 3).default(4 * 1024 * 1024),
  socketByteBurst: intFrom(1024, 1024 ** 3).default(16 * 1024 * 1024),
  /** Largest single socket message (a long stroke is ~200 KB). */
  socketMaxMessageBytes: intFrom(1024, 1024 ** 3).default(8 * 1024 * 1024),
  /** Bad or rate-limited messages a socket may send (one forgiven per 5 s) before it is disconnected; 0 = never. */
  socketMaxBadMessages: intFrom(0, 1e9).default(20),
  /** Bytes queued for a socket that does not read before it is dropped (it resyncs on reconnect). */
  socketMaxBufferedBytes: intFrom(1024, 1024 ** 3).default(8 * 1024 * 1024),
  /** Concurrent sockets per client IP address. */
  maxSocketsPerIp: intFrom(1, 1e6).default(256),
  /** Per client IP: session creations per minute (burst and sustained). */
  sessionCreatesPerMin: intFrom(1, 1e6).default(30),
  /** Per client IP: image uploads per minute (burst and sustained). */
  uploadsPerMin: intFrom(1, 1e6).default(60),
  /**
   * Absolute base URL of this server as users reach it (e.g. https://atelier.example.org); the
   * editor/viewer links of new sessions and forks start with it. Unset: http://localhost:PORT.
   * Never taken from a request's Host header (which a client chooses).
   */
  publicUrl: z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an absolute http(s) URL without query or fragment')
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  /**
   * Which proxies may name the client address in X-Forwarded-For, for the HTTP and socket limits
   * alike (express 'trust proxy' syntax: loopback, a CIDR list, or a hop count).
   */
  trustProxy: z.string().min(1).default('loopback'),
  // ── Budgets (server/SPEC.md S24–S29): every costly input is admitted by the work it causes. ──
  /** Paint cost (pixels evaluated: stroke segments' boxes at working size) of one stroke (S24). */
  paintMaxStrokeCost: intFrom(1000, 1e12).default(16_000_000),
  /** Paint cost one document update may add (S24). */
  paintMaxUpdateCost: intFrom(1000, 1e12).default(32_000_000),
  /** Paint cost of all of a session's strokes, i.e. of a full repaint (S24). */
  paintMaxSessionCost: intFrom(1000, 1e13).default(128_000_000),
  /** Paint work per second per session: after a repaint of cost C, the next waits C / this (S24). */
  paintCostPerSec: intFrom(1000, 1e12).default(50_000_000),
  /** Bytes of decoded image pixels kept in the cache (S25). */
  decodedCacheBytes: intFrom(0, 64 * 1024 ** 3).default(128 * 1024 * 1024),
  /**
   * Uploaded pixels per minute per client address (S25): an upload is decoded whole to check it,
   * ~1 s of CPU for a 6300² PNG, so the rate of pixels is bounded, not only of uploads.
   */
  uploadPixelsPerMin: intFrom(1024, 1e12).default(120_000_000),
  /**
   * Style pixels per session at the size the engine uses them (S25). Their Gram targets cost about a
   * forward pass each, in one uninterruptible turn of the engine: eight 1024² styles (8 M pixels)
   * held the device for ~10 s in `npm run attack`; 2 M is two 1024² styles or thirty 256² ones.
   */
  sessionMaxStylePixels: intFrom(1024, 1e10).default(2_000_000),
  /** Estimated engine time of one optimization step of one session; resolution is admitted against it (S26). */
  engineMaxStepMs: intFrom(10, 3_600_000).default(2_000),
  /**
   * Pixels of one engine step; the resolution is admitted against it too (S26). The step's
   * activations are the engine's memory: 512² kept the server within 2 GB under `npm run attack`
   * on wasm (735 px, which the time budget alone admitted, took it to 2.2 GB). Raise it on GPU servers.
   */
  engineMaxStepPixels: intFrom(1024, 1e9).default(512 * 512),
  /** A step still running after this long is preempted and its session stopped with an error (S26). */
  engineStepTimeLimitMs: intFrom(100, 3_600_000).default(20_000),
  /** Optimizations run at once for the sessions one client address owns; the others wait (S26). */
  engineMaxSessionsPerIp: intFrom(1, 10_000).default(4),
  /** Largest document update (sync step2/update) accepted (S27). */
  docMaxUpdateBytes: intFrom(1024, 1024 ** 3).default(2 * 1024 * 1024),
  /** Stored document bytes per session (all its updates); beyond it edits are refused (S27). */
  sessionMaxDocBytes: intFrom(1024, 64 * 1024 ** 3).default(32 * 1024 * 1024),
  /** Export jobs queued or running per session and per client address (S28). */
  exportMaxJobsPerSession: intFrom(1, 1000).default(2),
  exportMaxJobsPerIp: intFrom(1, 1000).default(3),
  /** Export jobs queued or running in all (S28). */
  exportMaxJobs: intFrom(1, 100_000).default(32),
  /** Export jobs run at once (S28). */
  exportConcurrency: intFrom(1, 64).default(2),
  /** Pixels of all frames of one export (decoded frames are what a job holds in memory) (S28). */
  exportMaxPixels: intFrom(1024, 1e10).default(16_000_000),
  /**
   * Export pixels per minute per client address (S28): encoding competes with the optimization for
   * the cores, so the work rate is bounded, not only the number of jobs.
   */
  exportPixelsPerMin: intFrom(1024, 1e12).default(16_000_000),
  /** Several processes (docs/DEPLOY.md): Redis for the socket.io adapter, the doc bus and engine leases. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** PostgreSQL as the shared store instead of SQLite under DATA_DIR (postgres://user:pass@host:5432/db). */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  /** This process's name in engine leases and logs; unique per process (default: hostname-pid). */
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, . _ - (at most 100)')
    .optional()
    .transform((id) => id ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_')),
  /** Engine lease time to live: a dead owner's sessions move to another process within about 4/3 of it. */
  leaseTtlMs: intFrom(500, 10 * 60 * 1000).default(10_000),
  /** Longest one PostgreSQL call may take before it fails and its connection is dropped (S30). */
  databaseTimeoutMs: intFrom(100, 10 * 60 * 1000).default(10_000),
});


/** The validated configuration: one field per setting of {@link ConfigSchema}. */
export type Config = z.output<typeof ConfigSchema>;
type SettingName = keyof typeof ConfigSchema.shape;

/** WASM_THREADS=0 in the server: one thread per core but one (kept for the event loop), 1..8. */
export function serverWasmThreads(cores = availableParallelism()): number {
  return Math.min(8, Math.max(1, cores - 1));
}

/** Thrown for bad configuration; `main.ts` prints `message` and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Settings whose variable is not their name in SNAKE_CASE. */
const ENV_EXCEPTIONS: Partial<Record<SettingName, string>> = { fakeEngine: 'ATELIER_FAKE_ENGINE' };
/** On/off settings: their flag alone (`--atelier-fake-engine`) means on. */
const SWITCHES: ReadonlySet<SettingName> = new Set(['fakeEngine']);

const SETTINGS = Object.keys(ConfigSchema.shape) as SettingName[];
/** The environment variable of a setting: `maxSessions` → MAX_SESSIONS. */
export const envName = (setting: SettingName): string => ENV_EXCEPTIONS[setting] ?? setting.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
const BY_ENV = new Map(SETTINGS.map((k) => [envName(k), k] as const));
const flagOf = (env: string) => '--' + env.toLowerCase().replace(/_/g, '-');

/** Parses `--some-flag value` / `--some-flag=value` into env-style names (SOME_FLAG). */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}' (flags look like --port 3000)`);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const name = flag.replace(/-/g, '_').toUpperCase();
    const setting = BY_ENV.get(name);
    if (!setting) throw new ConfigError(`unknown flag --${flag}; known flags: ${[...BY_ENV.keys()].map(flagOf).join(', ')}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (SWITCHES.has(setting) && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) value = '1';
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
  const given: Record<string, string> = {};
  for (const name of BY_ENV.keys()) {
    const v = env[name];
    if (v !== undefined && v !== '') given[name] = v;
  }
  Object.assign(given, flagsToEnv(argv));
  const raw = Object.fromEntries(Object.entries(given).map(([name, v]) => [BY_ENV.get(name)!, v]));
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = envName(i.path[0] as SettingName);
      return `  ${[name, ...i.path.slice(1)].join('.')}=${JSON.stringify(given[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Defaults for everything, with `overrides` on top (tests and embedding). */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...ConfigSchema.parse({}), ...overrides };
}

/** Every setting's default: the fallback of modules that take a setting as an option. */
export const CONFIG_DEFAULTS: Readonly<Config> = Object.freeze(defaultConfig());
