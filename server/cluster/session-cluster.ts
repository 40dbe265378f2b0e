/**
 * Several server processes serving the same sessions (REDIS_URL + DATABASE_URL; docs/DEPLOY.md).
 *
 * Who does what:
 * - **Clients ↔ clients**: socket.io's Redis streams adapter (`socketAdapter()`): a room broadcast
 *   (`io.to(session)`) reaches the session's sockets on every process, so a document update or an
 *   awareness change one process relays reaches every client, whatever process it is connected to.
 * - **Process ↔ process** (this file, Redis pub/sub, one channel per session, only processes that
 *   have the session loaded subscribe): each durable update and awareness change is published so
 *   the other processes apply it to their in-memory Y.Doc/Awareness with {@link REMOTE_ORIGIN}
 *   (neither stored nor relayed again: the writer stored it in the shared database first, and the
 *   adapter relayed it). So a process answers sync step1, validates, rasterises and feeds its
 *   engine from the same document as the others.
 * - **Engine**: one owner per session ({@link EngineLeases}). The owner publishes its frames and
 *   engine state; the other processes relay them to their own sockets through their per-client frame
 *   windows (S10 flow control stays per client) and mirror the state in `status`.
 * - A process that loads a session later reads it from the shared database (Session.load).
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { RedisClientType } from 'redis';
import type { EngineState, FramePayload } from '../../shared/protocol.ts';
import { createLogger } from '../log.ts';
import { REMOTE_ORIGIN, type Session, type SessionCluster } from '../session/session.ts';
import { EngineLeases } from './engine-lease.ts';
import { connectRedis } from './redis.ts';

const log = createLogger('cluster');

export interface ClusterOptions {
  redisUrl: string;
  /** Unique per process (INSTANCE_ID). */
  instanceId: string;
  /** Engine lease TTL (LEASE_TTL_MS). */
  leaseTtlMs: number;
  /** Redis key/channel prefix (default `atelier`). */
  prefix?: string;
}

type BusKind = 'update' | 'awareness' | 'frame' | 'state';

interface BusHeader {
  from: string;
  kind: BusKind;
  frame?: Omit<FramePayload, 'data'>;
  state?: EngineState;
  message?: string;
}

/** `[u32 header length][header JSON][binary body]`: one Redis message, binary-safe. */
export function encodeBusMessage(header: BusHeader, body: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(4 + h.length + body.byteLength);
  out.writeUInt32BE(h.length, 0);
  h.copy(out, 4);
  out.set(body, 4 + h.length);
  return out;
}

export function decodeBusMessage(msg: Buffer): { header: BusHeader; body: Uint8Array } {
  if (msg.length < 4) throw new Error('bus message too short');
  const n = msg.readUInt32BE(0);
  if (4 + n > msg.length) throw new Error('bus message header overruns the message');
  const header = JSON.parse(msg.subarray(4, 4 + n).toString('utf8')) as BusHeader;
  if (typeof header?.from !== 'string' || typeof header.kind !== 'string') throw new Error('bus message header is malformed');
  return { header, body: new Uint8Array(msg.buffer, msg.byteOffset + 4 + n, msg.length - 4 - n) };
}

interface Relay {
  session: Session;
  dispose(): void;
  lastState?: string;
}

export class RedisSessionCluster implements SessionCluster {
  readonly leases: EngineLeases;
  private relays = new Map<string, Relay>();
  private stateTimer: NodeJS.Timeout;
  private prefix: string;
  private shutDown = false;

  private constructor(
    private pub: RedisClientType,
    private sub: RedisClientType,
    readonly opts: ClusterOptions,
  ) {
    this.prefix = opts.prefix ?? 'atelier';
    this.leases = new EngineLeases(pub, { instanceId: opts.instanceId, ttlMs: opts.leaseTtlMs, prefix: this.prefix });
    // Followers that joined late learn the owner's state from this heartbeat.
    this.stateTimer = setInterval(() => {
      for (const r of this.relays.values()) if (r.session.ownsEngine) this.publishState(r, true);
    }, Math.max(100, Math.floor(opts.leaseTtlMs / 3)));
    this.stateTimer.unref();
    // Messages published while the subscriber was reconnecting are lost: catch up from storage.
    sub.on('ready', () => {
      for (const r of this.relays.values()) r.session.catchUp().catch((e: Error) => log.warn('catch-up from storage failed', { session: r.session.id, error: e.message }));
    });
  }

  /** Connects the publishing and subscribing Redis clients; throws a clear error when Redis is unreachable. */
  static async connect(opts: ClusterOptions): Promise<RedisSessionCluster> {
    const pub = await connectRedis(opts.redisUrl, 'commands');
    let sub: RedisClientType;
    try {
      sub = await connectRedis(opts.redisUrl, 'subscriber', pub);
    } catch (e) {
      await pub.quit().catch(() => {});
      throw e;
    }
    log.info('cluster mode', { instance: opts.instanceId, leaseTtlMs: opts.leaseTtlMs });
    return new RedisSessionCluster(pub, sub, opts);
  }

  /** The commands connection (shared per-address rate limits use it, S33). */
  get redis(): RedisClientType {
    return this.pub;
  }

  /** The socket.io adapter: room broadcasts reach every process's sockets (Redis streams). */
  socketAdapter(): ReturnType<typeof createAdapter> {
    return createAdapter(this.pub, { streamName: `${this.prefix}:socket.io`, maxLen: 10_000 });
  }

  private channel(sessionId: string): string {
    return `${this.prefix}:bus:${sessionId}`;
  }

  private publish(sessionId: string, header: Omit<BusHeader, 'from'>, body?: Uint8Array): void {
    if (this.shutDown) return;
    this.pub.publish(this.channel(sessionId), encodeBusMessage({ ...header, from: this.opts.instanceId }, body)).catch((e: Error) => {
      log.warn('bus publish failed', { session: sessionId, kind: header.kind, error: e.message });
    });
  }

  private publishState(r: Relay, force = false): void {
    const key = `${r.session.state}\u0000${r.session.message ?? ''}`;
    if (!force && key === r.lastState) return;
    r.lastState = key;
    this.publish(r.session.id, { kind: 'state', state: r.session.state, message: r.session.message });
  }

  opened(session: Session): void {
    if (this.shutDown) return;
    const id = session.id;
    const r: Relay = { session, dispose: () => {} };
    const unsubscribe = session.subscribe({
      // Fires for this process's durable writes (and catch-up), never for REMOTE_ORIGIN.
      durableUpdate: (update) => this.publish(id, { kind: 'update' }, update),
      frame: (frame) => {
        // Frames are latest-wins: while Redis is away (node-redis would queue every one and send
        // them all at its return) they are dropped; the next one after the return goes out.
        if (!session.ownsEngine || !this.pub.isReady) return;
        const { data, ...meta } = frame;
        this.publish(id, { kind: 'frame', frame: meta }, data);
      },
      status: () => {
        if (session.ownsEngine) this.publishState(r);
      },
    });
    const onAwareness = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin === REMOTE_ORIGIN || session.isClosed) return;
      this.publish(id, { kind: 'awareness' }, awarenessProtocol.encodeAwarenessUpdate(session.awareness, [...added, ...updated, ...removed]));
    };
    session.awareness.on('update', onAwareness);
    const listener = (msg: Buffer) => this.onBusMessage(r, msg);
    // Updates stored between the session's load and the subscription would be missed: once
    // subscribed, catch up from storage.
    this.sub.subscribe(this.channel(id), listener, true).then(
      () => {
        if (this.relays.get(id) === r) session.catchUp().catch((e: Error) => log.warn('catch-up from storage failed', { session: id, error: e.message }));
      },
      (e: Error) => log.warn('bus subscribe failed', { session: id, error: e.message }),
    );
    r.dispose = () => {
      unsubscribe();
      session.awareness.off('update', onAwareness);
      this.sub.unsubscribe(this.channel(id), listener, true).catch((e: Error) => log.warn('bus unsubscribe failed', { session: id, error: e.message }));
    };
    this.relays.get(id)?.dispose();
    this.relays.set(id, r);
  }

  private onBusMessage(r: Relay, msg: Buffer): void {
    const { session } = r;
    if (session.isClosed) return;
    try {
      const { header, body } = decodeBusMessage(msg);
      if (header.from === this.opts.instanceId) return;
      switch (header.kind) {
        case 'update':
          void session.applyRemoteUpdate(new Uint8Array(body));
          break;
        case 'awareness':
          awarenessProtocol.applyAwarenessUpdate(session.awareness, body, REMOTE_ORIGIN);
          break;
        case 'frame':
          if (header.frame) session.applyRemoteFrame({ ...header.frame, data: new Uint8Array(body) });
          break;
        case 'state':
          if (header.state) session.applyRemoteState(header.state, header.message);
          break;
      }
    } catch (e) {
      log.warn('bad bus message', { session: session.id, error: (e as Error).message });
    }
  }

  wantEngine(session: Session): void {
    this.leases.want(session);
  }

  releaseEngine(session: Session): void {
    this.leases.release(session);
  }

  closed(session: Session): void {
    const r = this.relays.get(session.id);
    if (r?.session !== session) return;
    r.dispose();
    this.relays.delete(session.id);
  }

  /** Releases held leases, unsubscribes and disconnects from Redis (after the sessions closed). */
  async close(): Promise<void> {
    if (this.shutDown) return;
    await this.leases.close();
    this.shutDown = true;
    clearInterval(this.stateTimer);
    for (const r of this.relays.values()) r.dispose();
    this.relays.clear();
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}
