/**
 * Slow consumers: socket.io has no bound on what it queues for a socket that does not read
 * (a stalled phone, a hostile client that never reads, an overloaded load generator). Document
 * updates are relayed to every socket of a session, so such sockets make the server's memory grow
 * with the session's whole edit traffic (seen in `npm run load`: 1.3 GB of heap). Frames are
 * bounded by their ack window (S10); this watchdog bounds the rest: a socket with more than
 * `maxBufferedBytes` queued (engine.io's write buffer plus the websocket's own buffer) is dropped.
 * A real client reconnects and resyncs with one step1/step2 exchange, far cheaper than the backlog.
 */
import type { Server } from 'socket.io';
import { createLogger } from '../log.ts';

const log = createLogger('realtime');

export interface SlowConsumerOptions {
  /** Bytes queued for one socket beyond which it is dropped. */
  maxBufferedBytes: number;
  /** How often the sockets are checked. */
  intervalMs?: number;
}

interface ConnInternals {
  writeBuffer?: { data?: unknown }[];
  transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
  close?: () => void;
}

/** Bytes queued for `socket` and not yet handed to the kernel (engine.io packets + websocket buffer). */
export function bufferedBytes(socket: { conn: unknown }): number {
  const conn = socket.conn as ConnInternals;
  let n = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const p of conn.writeBuffer ?? []) {
    const d = p.data;
    n += typeof d === 'string' ? d.length : d instanceof Uint8Array || d instanceof ArrayBuffer ? d.byteLength : 16;
  }
  return n;
}

/**
 * Checks every socket of `io` each `intervalMs` and drops the ones over the limit.
 * Returns a function that stops the watchdog (also stopped when `io`'s HTTP server closes).
 */
export function watchSlowConsumers(io: Server, opts: SlowConsumerOptions): () => void {
  const timer = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const n = bufferedBytes(socket);
      if (n <= opts.maxBufferedBytes) continue;
      log.warn('dropping a socket that does not read', { socket: socket.id, bufferedBytes: n });
      // An error would only queue behind the backlog, and a websocket close handshake would wait
      // (30 s) for a peer that does not read: drop the TCP connection at once, freeing the queue.
      socket.disconnect(true);
      const conn = socket.conn as unknown as ConnInternals;
      if (conn.transport?.socket?.terminate) conn.transport.socket.terminate();
      else conn.close?.();
    }
  }, opts.intervalMs ?? 1000);
  timer.unref();
  const stop = () => clearInterval(timer);
  io.httpServer?.once('close', stop);
  return stop;
}
