/**
 * Minimal leveled logger. One line per event on stderr, so stdout stays free for data (the CLI's
 * `--json` lines). Level from `ATELIER_LOG` (debug|info|warn|error|silent; default info).
 * Never pass tokens or other secrets to it.
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
type Level = keyof typeof LEVELS;

function threshold(): number {
  const env = (process.env.ATELIER_LOG ?? 'info').toLowerCase();
  return env in LEVELS ? LEVELS[env as Level] : LEVELS.info;
}

function emit(level: Exclude<Level, 'silent'>, scope: string, msg: string, fields?: Record<string, unknown>): void {
  if (LEVELS[level] < threshold()) return;
  const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}] ${msg}${extra}\n`);
}

/** Whether `level` lines are written now (to skip building a message nobody will read). */
export function logs(level: Exclude<Level, 'silent'>): boolean {
  return LEVELS[level] >= threshold();
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger whose lines are tagged with `scope` (e.g. `engine`, `session:ab12`). */
export function createLogger(scope: string): Logger {
  return {
    debug: (m, f) => emit('debug', scope, m, f),
    info: (m, f) => emit('info', scope, m, f),
    warn: (m, f) => emit('warn', scope, m, f),
    error: (m, f) => emit('error', scope, m, f),
  };
}
