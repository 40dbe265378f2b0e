/**
 * The viewers of bench/fanout.ts, in their own process (started with `fork`), so their CPU time is
 * measured apart from the server's. Each viewer is a bare socket.io connection with a viewer
 * token that acknowledges every frame at once without decoding it: the cheapest client there is,
 * so what the benchmark sees is the server's cost of fan-out, not the clients'.
 *
 * Driven over the IPC channel: `connect` (url, session, token, count), `stats` (frames, frame bytes,
 * process.cpuUsage()), `disconnect`, `exit`.
 */
import { io, type Socket } from 'socket.io-client';
import { SOCKET_PATH, type ClientToServerEvents, type FramePayload, type ServerToClientEvents } from '../shared/protocol.ts';

export type ToViewers =
  | { type: 'connect'; url: string; session: string; token: string; count: number }
  | { type: 'stats' }
  | { type: 'disconnect' }
  | { type: 'exit' };

export interface ViewerStats {
  type: 'stats';
  /** Frames received by all viewers since the process started. */
  frames: number;
  /** Encoded image bytes of those frames. */
  bytes: number;
  cpu: NodeJS.CpuUsage;
  connected: number;
}

export type FromViewers = { type: 'connected'; count: number; ms: number } | { type: 'error'; message: string } | ViewerStats | { type: 'disconnected' };

type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let sockets: ViewerSocket[] = [];
let frames = 0;
let bytes = 0;

const send = (m: FromViewers) => process.send!(m);

function connectOne(url: string, session: string, token: string, i: number): Promise<ViewerSocket> {
  const socket: ViewerSocket = io(url, {
    path: SOCKET_PATH,
    auth: { session, token, name: `viewer-${i}` },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  socket.on('frame', (frame: FramePayload, ack: () => void) => {
    frames++;
    bytes += frame.data.byteLength;
    ack();
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => reject(new Error(`viewer ${i}: ${e.message}`)));
  });
}

async function connect(m: Extract<ToViewers, { type: 'connect' }>): Promise<void> {
  const started = performance.now();
  // In batches: hundreds of simultaneous handshakes only measure the handshake storm.
  for (let i = 0; i < m.count; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(m.count, i + 20); j++) batch.push(connectOne(m.url, m.session, m.token, j));
    sockets.push(...(await Promise.all(batch)));
  }
  send({ type: 'connected', count: sockets.length, ms: performance.now() - started });
}

function disconnect(): void {
  for (const s of sockets) s.disconnect();
  sockets = [];
  send({ type: 'disconnected' });
}

if (!process.send) throw new Error('bench/fanout-viewers.ts runs as a child of bench/fanout.ts (fork with an IPC channel)');
process.on('message', (m: ToViewers) => {
  switch (m.type) {
    case 'connect':
      connect(m).catch((e: Error) => send({ type: 'error', message: e.message }));
      break;
    case 'stats':
      send({ type: 'stats', frames, bytes, cpu: process.cpuUsage(), connected: sockets.filter((s) => s.connected).length });
      break;
    case 'disconnect':
      disconnect();
      break;
    case 'exit':
      for (const s of sockets) s.disconnect();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
