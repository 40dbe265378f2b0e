/**
 * A TCP proxy for fault injection in tests and load runs: put it between the server and
 * PostgreSQL (or Redis) to add latency, or to stop forwarding (a hung database: connections stay
 * open, bytes go nowhere) and resume later, with nothing lost or reordered. One direction can be
 * held alone (`pause('toClient')`: the database receives and commits, its answers are held — the
 * timeout whose write did happen). `cut()` drops every connection (a restart or a network reset).
 */
import net from 'node:net';

export type Direction = 'toServer' | 'toClient';

interface Pipe {
  queue: { chunk: Buffer; due: number }[];
  timer: NodeJS.Timeout | null;
  to: net.Socket;
  dir: Direction;
}

export class TcpProxy {
  /** One-way delay added to every chunk, ms (a round trip gains twice this). */
  oneWayDelayMs = 0;
  private paused = new Set<Direction>();
  private pipes = new Set<Pipe>();
  private sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port) and forwards every connection to `target`. */
  static async start(target: { host?: string; port: number }, opts: { roundTripMs?: number } = {}): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = net.createServer((client) => proxy.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    proxy.oneWayDelayMs = (opts.roundTripMs ?? 0) / 2;
    return proxy;
  }

  /** `url` with its port replaced by the proxy's (postgres://…:5432/db → postgres://…:<proxy>/db). */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private accept(client: net.Socket, target: { host?: string; port: number }): void {
    this.connections++;
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    const toServer: Pipe = { queue: [], timer: null, to: upstream, dir: 'toServer' };
    const toClient: Pipe = { queue: [], timer: null, to: client, dir: 'toClient' };
    this.pipes.add(toServer).add(toClient);
    client.on('data', (chunk) => this.enqueue(toServer, chunk));
    upstream.on('data', (chunk) => this.enqueue(toClient, chunk));
    const end = () => {
      this.pipes.delete(toServer);
      this.pipes.delete(toClient);
      for (const p of [toServer, toClient]) if (p.timer) clearTimeout(p.timer);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
  }

  private enqueue(pipe: Pipe, chunk: Buffer): void {
    pipe.queue.push({ chunk, due: Date.now() + this.oneWayDelayMs });
    this.pump(pipe);
  }

  /** Delivers the chunks that are due, in order, unless this direction is paused. */
  private pump(pipe: Pipe): void {
    if (pipe.timer) return;
    while (pipe.queue.length && !this.paused.has(pipe.dir)) {
      const wait = pipe.queue[0].due - Date.now();
      if (wait > 0) {
        pipe.timer = setTimeout(() => {
          pipe.timer = null;
          this.pump(pipe);
        }, wait);
        return;
      }
      if (!pipe.to.destroyed) pipe.to.write(pipe.queue.shift()!.chunk);
      else pipe.queue.shift();
    }
  }

  /** Stops forwarding (both directions by default): bytes are held, connections stay open. */
  pause(dir?: Direction): void {
    for (const d of dir ? [dir] : (['toServer', 'toClient'] as const)) this.paused.add(d);
  }

  /** Forwards again, starting with everything held, in order. */
  resume(): void {
    this.paused.clear();
    for (const p of this.pipes) this.pump(p);
  }

  /** Drops every open connection (both ends see a reset); new ones are accepted. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
