/**
 * Runs the real server entry point (server/main.ts) as a child process, for tests that need a
 * process boundary: kill -9 durability, exit codes, signal handling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ChildServer {
  url: string;
  proc: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGKILL) and resolves with the exit code/signal. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node --import tsx server/main.ts --port 0 --host 127.0.0.1` with the fake engine and
 * `env` on top; resolves once it logged its URL.
 */
export function spawnServer(env: Record<string, string>, args: string[] = [], timeoutMs = 30_000): Promise<ChildServer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ATELIER_FAKE_ENGINE: '1', ATELIER_LOG: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const child = (url: string): ChildServer => ({
    url,
    proc,
    stderr: () => err,
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(child(m[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${err}`), { code, stderr: err }));
    });
  });
}
