/**
 * The services of `npm run load -- --pg-latency MS` (scripts/load.ts): a redis-server, a
 * PostgreSQL and, between the servers and PostgreSQL, a TCP proxy that adds MS of round trip
 * (server/testing/tcp-proxy.ts), all on 127.0.0.1. The proxy runs in a child process of its own, so
 * the load generator's busy event loop does not add to the injected latency.
 *
 * Run as a script with `--proxy TARGET_PORT ROUND_TRIP_MS` it is that child: it starts the proxy
 * and sends its port over IPC.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  const proxyProc = fork(fileURLToPath(import.meta.url), ['--proxy', String(pg.port), String(roundTripMs)], {
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

if (process.argv[2] === '--proxy') {
  const proxy = await TcpProxy.start({ port: Number(process.argv[3]) }, { roundTripMs: Number(process.argv[4]) });
  process.send!({ port: proxy.port });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
