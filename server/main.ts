/**
 * `npm start` / `node --import tsx server/main.ts [--port 3000] [--host 127.0.0.1] …`
 *
 * Loads the config (exit 2 with a clear message when it is bad), starts the server, logs the URL,
 * and shuts down gracefully on SIGINT/SIGTERM (keyframes stored, database closed); a second
 * signal exits at once.
 */
import { ConfigError, loadConfig, type Config } from './config.ts';
import { startServer } from './app/server.ts';
import { createLogger } from './log.ts';

const log = createLogger('main');

let config: Config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`atelier: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

try {
  const server = await startServer(config);
  log.info(`Atelier is up: ${server.url}  (create a session: POST ${server.url}/api/sessions, or open the page)`);
  if (config.host === '0.0.0.0') log.info(`listening on all interfaces, port ${server.port} (set HOST=127.0.0.1 to keep it local)`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn(`second ${signal}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: shutting down`);
    server.close().then(
      () => process.exit(0),
      (e) => {
        log.error('shutdown failed', { error: (e as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (e) {
  log.error(`could not start: ${(e as Error).message}`);
  process.exit(1);
}
