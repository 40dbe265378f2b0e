/**
 * The services of `npm run load -- --pg-latency MS` (scripts/load.ts): a redis-server, a
 * PostgreSQL and, between the servers and PostgreSQL, a TCP proxy that adds MS of round trip
 * (server/testing/tcp-proxy.ts), all on 127.0.0.1. The proxy runs in a child process of its own, so
 * the load generator's busy event loop does not add to the injected latency.
 *
 * Run as a script (`--proxy --target PORT --round-trip-ms MS`) it is that child: it starts the
 * proxy and sends its port over IPC.
 */
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exitWithUsage, numberArg, readArgs } from './cli-args.ts';
import { startPostgres, startRedis } from '../server/testing/services.ts';
import { TcpProxy } from '../server/testing/tcp-proxy.ts';

export interface LoadServices {
  redisUrl: string;
  /** PostgreSQL through the latency proxy. */
  databaseUrl: string;
  describe: string;
  stop(): Promise<void>;
}

export async function startLoadServices(roundTripMs: number): Promise<LoadServices> {
  const [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  const dbUrl = await pg.createDatabase();
  const proxyProc = fork(fileURLToPath(import.meta.url), ['--proxy', '--target', String(pg.port), '--round-trip-ms', String(roundTripMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proxyProc.once('exit', (code) => reject(new Error(`the latency proxy exited with code ${code}`)));
    proxyProc.once('message', (m: { port: number }) => resolve(m.port));
  });
  const u = new URL(dbUrl);
  u.port = String(port);
  return {
    redisUrl: redis.url,
    databaseUrl: u.toString(),
    describe: `redis-server ${redis.port}; PostgreSQL (fsync off) behind a TCP proxy adding ${roundTripMs} ms per round trip, in its own process`,
    stop: async () => {
      proxyProc.kill('SIGTERM');
      await Promise.all([redis.stop(), pg.stop()]);
    },
  };
}

// Only as the proxy child: load.ts imports this module and parses its own arguments.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const usage = 'scripts/load-cluster.ts --proxy --target PORT --round-trip-ms MS (started by scripts/load.ts)';
  const { values: a } = readArgs({ proxy: { type: 'boolean' }, target: { type: 'string' }, 'round-trip-ms': { type: 'string' } }, usage);
  const port = numberArg(a.target, 'target');
  const roundTripMs = numberArg(a['round-trip-ms'], 'round-trip-ms');
  if (!a.proxy || port === undefined || roundTripMs === undefined) exitWithUsage('this script only runs as the proxy child', usage);
  const proxy = await TcpProxy.start({ port }, { roundTripMs });
  process.send!({ port: proxy.port });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
