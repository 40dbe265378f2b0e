/**
 * Redis connections (node-redis 4, which @socket.io/redis-streams-adapter supports). Failing to
 * connect at start is an error with the URL (password hidden) in the message; a connection lost
 * later is logged and node-redis reconnects on its own.
 */
import { createClient, type RedisClientType } from 'redis';
import { createLogger } from '../log.ts';

const log = createLogger('redis');

/** `redis://user:secret@host` → `redis://user:***@host` for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * Connects a client to `url` (or duplicates `from`), waiting at most `timeoutMs` for the first
 * connection. `role` only names it in logs.
 */
export async function connectRedis(url: string, role: string, from?: RedisClientType, timeoutMs = 10_000): Promise<RedisClientType> {
  const client = (from ? from.duplicate() : createClient({ url, socket: { connectTimeout: timeoutMs, reconnectStrategy: (n) => Math.min(100 * 2 ** n, 2_000) } })) as RedisClientType;
  let connected = false;
  let lastError = '';
  client.on('error', (e: Error) => {
    lastError = e.message;
    if (connected) log.warn(`redis ${role} connection error`, { error: e.message });
  });
  const timer = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`cannot connect to Redis at ${redactUrl(url)} within ${timeoutMs} ms${lastError ? `: ${lastError}` : ''}`)), timeoutMs);
    t.unref();
  });
  try {
    await Promise.race([client.connect(), timer]);
  } catch (e) {
    await client.disconnect().catch(() => {});
    throw e;
  }
  connected = true;
  return client;
}
