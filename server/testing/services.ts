/**
 * Real Redis and PostgreSQL servers for the cluster and storage-contract tests, each in a temp
 * directory on a free port, torn down by `stop()`. Debian packages: `apt-get install -y
 * redis-server postgresql` (CI installs them, see .ci/run).
 *
 * When a binary is missing the tests must fail and say what to install — unless
 * ATELIER_SKIP_SERVICES=1, then they are skipped ({@link servicesSkipReason}).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, test } from 'node:test';

const INSTALL_HINT = 'install them with `apt-get install -y redis-server postgresql` (CI does), or set ATELIER_SKIP_SERVICES=1 to skip these tests';

/** Directory holding initdb/pg_ctl/postgres (Debian keeps them out of PATH), or null. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(base, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? path.dirname(which.stdout.trim()) : null;
}

export function redisServerPath(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/**
 * `undefined` when redis-server and PostgreSQL are installed; a skip reason when they are missing
 * and ATELIER_SKIP_SERVICES=1. Throws (the test fails) when they are missing otherwise.
 */
export function servicesSkipReason(): string | undefined {
  const missing = [redisServerPath() ? null : 'redis-server', postgresBinDir() ? null : 'postgresql (initdb, pg_ctl)'].filter(Boolean);
  if (!missing.length) return undefined;
  const msg = `missing ${missing.join(' and ')}: ${INSTALL_HINT}`;
  if (process.env.ATELIER_SKIP_SERVICES === '1') return msg;
  throw new Error(msg);
}

/**
 * `describe` for suites that need real redis-server and PostgreSQL: when they are missing the
 * suite becomes one failing test that says how to install them (CI installs them), or a skipped
 * one when ATELIER_SKIP_SERVICES=1.
 */
export function describeWithServices(title: string, fn: () => void): void {
  let skip: string | undefined;
  try {
    skip = servicesSkipReason();
  } catch (e) {
    test(`${title}: needs redis-server and postgresql installed`, () => {
      throw e;
    });
    return;
  }
  if (skip) test(title, { skip }, () => {});
  else describe(title, fn);
}

/** A free TCP port on 127.0.0.1 (redis-server has no `--port 0`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, proc: ChildProcess | null, what: string, log: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (proc && proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode}:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RedisService {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Kills redis-server (SIGKILL: its data is gone, as after a restart without persistence). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free port without persistence, in a temp dir. */
export async function startRedis(): Promise<RedisService> {
  const bin = redisServerPath();
  if (!bin) throw new Error(`redis-server is not installed: ${INSTALL_HINT}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'atelier-redis-'));
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const p = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = p;
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    await waitForPort(port, p, 'redis-server', () => out);
  };
  const kill = async () => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
  };
  try {
    await start();
  } catch (e) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PostgresService {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

let dbCounter = 0;

/**
 * initdb + postgres in a temp dir on a free port, trust auth on 127.0.0.1 only, fsync off (a test
 * cluster). PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (made by
 * the Debian package) via runuser.
 */
export async function startPostgres(): Promise<PostgresService> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`PostgreSQL is not installed: ${INSTALL_HINT}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'atelier-pg-'));
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0) throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as (the Debian package creates it)');
    const uid = Number(id.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [initCmd, initArgs] = wrap(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8', cwd: dir });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout || init.error?.message}`);
  }
  const port = await freePort();
  const [cmd, args] = wrap(path.join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir,
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100',
  ]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    // SIGQUIT to the postmaster itself (runuser does not forward it): immediate shutdown of a
    // throwaway cluster.
    if (proc.exitCode === null) {
      try {
        const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        process.kill(pid, 'SIGQUIT');
      } catch {
        proc.kill('SIGQUIT');
      }
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, proc, 'postgres', () => out);
    // Listening is not yet accepting: wait until a query works.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
        break;
      } catch (e) {
        await c.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`postgres did not accept queries: ${(e as Error).message}\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    port,
    createDatabase: async () => {
      const name = `atelier_test_${process.pid}_${++dbCounter}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
