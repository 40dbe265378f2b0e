/**
 * The parent side of a server that a measuring script forks from itself (`npm run load`,
 * `npm run attack`): the child starts the server and answers over IPC — `ready` with its URL and
 * engine backend, `sample` with what the script measures (CPU, memory, event loop), `stop` to
 * close. Measuring from another process keeps the load generator's or attacker's own CPU out of
 * the server's figures.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface ServerChildOptions {
  /** The script to fork (the caller's own file) and its arguments (e.g. `--serve`). */
  script: string;
  args: string[];
  cwd: string;
  /** Env variable whose value (space-separated) is added to node's arguments, e.g. `--cpu-prof`. */
  nodeArgsVar: string;
  env: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  stopTimeoutMs: number;
}

/** The child's IPC messages: `{type: 'ready', url, backend}` once, `{type: 'sample', sample}` per request. */
export class ServerChild<S> {
  private waiting: ((s: S) => void)[] = [];

  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
    readonly backend: string,
    private readonly stopTimeoutMs: number,
  ) {
    proc.on('message', (m: { type: string; sample?: S }) => {
      if (m.type === 'sample') this.waiting.shift()?.(m.sample!);
    });
  }

  static start<S>(o: ServerChildOptions): Promise<ServerChild<S>> {
    const proc = fork(o.script, o.args, {
      cwd: o.cwd,
      execArgv: ['--import', 'tsx', ...(process.env[o.nodeArgsVar] ?? '').split(' ').filter(Boolean)],
      env: o.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start in ${o.startTimeoutMs / 1000} s`)), o.startTimeoutMs);
      proc.once('exit', (code) => reject(new Error(`the server exited with code ${code} before it was ready`)));
      proc.on('message', (m: { type: string; url?: string; backend?: string }) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(new ServerChild<S>(proc, m.url!, m.backend!, o.stopTimeoutMs));
        }
      });
    });
  }

  /** The child's sample now; null when it does not answer within `timeoutMs` (saturated). */
  sample(timeoutMs: number): Promise<S | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(done);
        if (i >= 0) this.waiting[i] = () => {};
        resolve(null);
      }, timeoutMs);
      const done = (s: S) => {
        clearTimeout(timer);
        resolve(s);
      };
      this.waiting.push(done);
      this.proc.send({ type: 'sample' });
    });
  }

  /** Asks the child to close; kills it after the stop timeout. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), this.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
