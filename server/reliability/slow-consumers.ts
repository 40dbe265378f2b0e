/**
 * Slow consumers: socket.io has no bound on what it queues for a socket that does not read
 * (a stalled phone, a hostile client that never reads). Document updates are relayed to every
 * socket of a session, so one such socket would make the server's memory grow with the session's
 * whole edit traffic. Frames are bounded by their ack window (S10); this watchdog bounds the rest:
 * a socket whose engine.io write buffer holds more than `maxBufferedPackets` packets is
 * disconnected. A real client reconnects and resyncs with one step1/step2 exchange, which is far
 * cheaper than replaying the backlog.
 */
import type { Server } from 'socket.io';
import { createLogger } from '../log.ts';

const log = createLogger('realtime');

export interface SlowConsumerOptions {
  /** Packets queued for one socket beyond which it is dropped (a binary event is two packets). */
  maxBufferedPackets: number;
  /** How often the sockets are checked. */
  intervalMs?: number;
}

/** Packets engine.io holds for `socket` that the transport has not taken yet. */
export function bufferedPackets(socket: { conn: unknown }): number {
  const conn = socket.conn as { writeBuffer?: unknown[] };
  return conn.writeBuffer?.length ?? 0;
}

/**
 * Checks every socket of `io` each `intervalMs` and disconnects the ones over the limit.
 * Returns a function that stops the watchdog (also stopped when `io` closes its HTTP server).
 */
export function watchSlowConsumers(io: Server, opts: SlowConsumerOptions): () => void {
  const timer = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const n = bufferedPackets(socket);
      if (n > opts.maxBufferedPackets) {
        log.warn('dropping a socket that does not read', { socket: socket.id, bufferedPackets: n });
        // An error would only queue behind the backlog, and a websocket close handshake would wait
        // (30 s) for a peer that does not read: drop the TCP connection at once, freeing the queue.
        socket.disconnect(true);
        const transport = (socket.conn as { transport?: { socket?: { terminate?: () => void } } }).transport;
        if (transport?.socket?.terminate) transport.socket.terminate();
        else (socket.conn as { close?: () => void }).close?.();
      }
    }
  }, opts.intervalMs ?? 1000);
  timer.unref();
  const stop = () => clearInterval(timer);
  io.httpServer?.once('close', stop);
  return stop;
}
