/**
 * socket.io transport: handshake authentication, y-protocols sync and awareness relay, frames and
 * status. The document logic lives in the session layer; this file only moves bytes and enforces
 * roles.
 *
 * - Handshake `auth` = {session, token, name}; unknown session / wrong token / full session are
 *   refused in middleware, so the client gets `connect_error` with a clear message (and
 *   `err.data.code`, an ErrorCode).
 * - Editors get sync step1 on connect (so their offline edits come back as step2) and may write.
 * - Viewers get no step1 from the server; they ask with their own step1. A viewer's step2/update
 *   that carries any change is dropped and answered with READ_ONLY; an empty one is ignored.
 * - The socket's {@link ClientOrigin} is the transaction origin: updates are relayed (after they
 *   are durable) to every other socket of the session, never echoed to their sender.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import {
  AWARENESS_LIMITS,
  ErrorCode,
  HandshakeAuth,
  MAX_UNACKED_FRAMES,
  PROTOCOL_VERSION,
  SOCKET_PATH,
  incompatibleClientMessage,
  protocolCompatible,
  type ClientToServerEvents,
  type ErrorPayload,
  type FramePayload,
  type Role,
  type ServerToClientEvents,
  type StatusPayload,
} from '../../shared/protocol.ts';
import { createLogger } from '../log.ts';
import { CONFIG_DEFAULTS, type Config } from '../config.ts';
import type { ServerMetrics } from '../app/metrics.ts';
import type { GroupCommit } from '../storage/group-commit.ts';
import { REMOTE_ORIGIN, type Session, type UpdateOrigin } from '../session/session.ts';
import type { SessionManager } from '../session/session-manager.ts';
import { AccessDenied, authorizeAccess } from '../session/access.ts';
import { FrameChannel } from './frame-channel.ts';
import {
  MAX_AWARENESS_ENTRIES,
  STEP1_COST,
  SYNC_STEP1,
  SocketGuard,
  checkStateVector,
  checkUpdate,
  inspectAwarenessUpdate,
  parseSyncMessage,
  type Admission,
  type SocketLimits,
} from '../reliability/message-guard.ts';
import { watchSlowConsumers } from '../reliability/slow-consumers.ts';
import { ConnectionCounter, clientAddress, compileTrust, type TrustFn } from '../reliability/client-address.ts';
import { TokenBucket } from '../reliability/rate-limit.ts';

const log = createLogger('realtime');

/** How long a frame may stay unacknowledged before its slot is reclaimed (lost acks, not slowness). */
const FRAME_ACK_TIMEOUT_MS = 30_000;

interface SocketData {
  session: Session;
  role: Role;
  name: string;
  /** Editors only: the session's view-only token, when the server can know it (S3). */
  viewerToken?: string;
  /** The trusted client address (client-address.ts). */
  address: string;
  /** Frees this socket's per-address slot. */
  releaseSlot: () => void;
}

type AtelierSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type AtelierServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** Transaction origin of a socket's edits. */
export class ClientOrigin implements UpdateOrigin {
  readonly author: string;
  /** Awareness client ids this socket has published (removed when it disconnects). */
  readonly awarenessClients = new Set<number>();
  constructor(
    readonly socket: AtelierSocket,
    readonly name: string,
  ) {
    this.author = `${name || 'anonymous'}#${socket.id}`;
  }

  /**
   * Whether this socket may take over awareness id(s) published by `owner` (S9): the owner is
   * gone, or it is the same tab reconnecting — same client address, handshake name and role —
   * before the old socket timed out.
   */
  mayTakeOver(owner: ClientOrigin): boolean {
    if (owner === this || owner.socket.disconnected) return true;
    const a = this.socket.data, b = owner.socket.data;
    return a.address === b.address && a.role === b.role && this.name === owner.name;
  }
}

export interface RealtimeOptions {
  maxClientsPerSession: number;
  commits: GroupCommit;
  metrics?: ServerMetrics;
  /** socket.io's cap on one message (default SOCKET_MAX_MESSAGE_BYTES's; a long stroke is ~200 KB). */
  maxMessageBytes?: number;
  /** Per-socket rate limits and strike policy (reliability/message-guard.ts); defaults below. */
  limits?: Partial<SocketLimits>;
  /** Concurrent sockets per client IP (default unbounded); ignored when `connections` is given. */
  maxSocketsPerIp?: number;
  /** Sockets and media streams per client address, shared with the REST routes (MAX_SOCKETS_PER_IP). */
  connections?: ConnectionCounter;
  /** Trusted proxies for the client address (TRUST_PROXY; default loopback). */
  trust?: TrustFn;
  /** Largest document update accepted (DOC_MAX_UPDATE_BYTES, S27). */
  docMaxUpdateBytes?: number;
  /** Stored document bytes per session (SESSION_MAX_DOC_BYTES, S27). */
  sessionMaxDocBytes?: number;
  /** A socket with more bytes queued than this (it does not read) is dropped (SOCKET_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
}

/** The per-socket limits a configuration sets (SOCKET_* settings; the strike forgiveness is fixed). */
export function socketLimits(c: Pick<Config, 'socketMsgRate' | 'socketMsgBurst' | 'socketByteRate' | 'socketByteBurst' | 'socketMaxMessageBytes' | 'socketMaxBadMessages'>): SocketLimits {
  return {
    msgRate: c.socketMsgRate,
    msgBurst: c.socketMsgBurst,
    byteRate: c.socketByteRate,
    byteBurst: c.socketByteBurst,
    maxMessageBytes: c.socketMaxMessageBytes,
    maxBadMessages: c.socketMaxBadMessages,
    strikeForgiveSec: 5,
  };
}

/** Limits used when RealtimeOptions.limits leaves them out: the configuration's defaults. */
export const DEFAULT_SOCKET_LIMITS: SocketLimits = socketLimits(CONFIG_DEFAULTS);

/** After an editor's update was dropped by a rate limit, ask it for a resync this much later. */
const RESYNC_AFTER_DROP_MS = 1000;

function refusal(code: ErrorPayload['code'], message: string): Error {
  const err = new Error(message) as Error & { data: ErrorPayload };
  err.data = { code, message };
  return err;
}

/** Per-session fan-out: one subscription to the session however many sockets it has. */
class SessionRoom {
  readonly origins = new Map<string, ClientOrigin>();
  /** Awareness client id → the socket that claimed it (S9). */
  readonly awarenessOwners = new Map<number, ClientOrigin>();
  readonly channels = new Map<string, FrameChannel>();
  private unsubscribe: () => void;
  private onAwareness: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void;

  constructor(
    readonly session: Session,
    private io: AtelierServer,
    private metrics?: ServerMetrics,
  ) {
    this.unsubscribe = session.subscribe({
      durableUpdate: (update, origin) => {
        this.pending.push({ update, from: origin instanceof ClientOrigin ? origin : null });
        // A committed batch calls this once per update, synchronously: relay them together.
        if (!this.relayTimer) this.relayTimer = setImmediate(() => this.relay());
      },
      frame: (frame) => {
        for (const ch of this.channels.values()) ch.offer(frame);
      },
      status: () => {
        for (const o of this.origins.values()) o.socket.emit('status', statusFor(session, o.socket.data.role, o.socket.data.viewerToken));
      },
      invalid: (origin, errors) => {
        if (!(origin instanceof ClientOrigin) || !this.origins.has(origin.socket.id)) return;
        for (const e of errors) origin.socket.emit('error', e);
      },
    });
    this.onAwareness = ({ added, updated, removed }, origin) => {
      // Another process's change (server/cluster): that process relayed it to every socket already.
      if (origin === REMOTE_ORIGIN) return;
      const changed = [...added, ...updated, ...removed];
      if (origin instanceof ClientOrigin) {
        for (const id of [...added, ...updated]) {
          const prev = this.awarenessOwners.get(id);
          if (prev && prev !== origin) prev.awarenessClients.delete(id);
          this.awarenessOwners.set(id, origin);
          origin.awarenessClients.add(id);
        }
        for (const id of removed) {
          origin.awarenessClients.delete(id);
          if (this.awarenessOwners.get(id) === origin) this.awarenessOwners.delete(id);
        }
      }
      const msg = awarenessProtocol.encodeAwarenessUpdate(session.awareness, changed);
      const target = this.io.to(session.id);
      (origin instanceof ClientOrigin ? target.except(origin.socket.id) : target).emit('y:awareness', msg);
    };
    session.awareness.on('update', this.onAwareness);
  }

  /** Durable updates waiting for the next relay (S5: batched, at most one message per socket per interval). */
  private pending: { update: Uint8Array; from: ClientOrigin | null }[] = [];
  private relayTimer: NodeJS.Immediate | null = null;

  /**
   * Relays the durable updates of one group commit (a 16 ms window, S6) as one merged update per socket: everyone
   * gets all of them, except that a socket whose own updates are in the batch gets the others'
   * (never its own, S5). With 20 editors painting at 20 Hz that is ~60 messages/s per socket
   * instead of 400 — the socket writes, not the Yjs work, were the relay's cost.
   */
  private relay(): void {
    this.relayTimer = null;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length || this.session.isClosed) return;
    const message = (updates: Uint8Array[]) => {
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates));
      return encoding.toUint8Array(enc);
    };
    const senders = new Set<ClientOrigin>();
    for (const b of batch) if (b.from) senders.add(b.from);
    const target = this.io.to(this.session.id);
    (senders.size ? target.except([...senders].map((o) => o.socket.id)) : target).emit('y:sync', message(batch.map((b) => b.update)));
    for (const sender of senders) {
      const others = batch.filter((b) => b.from !== sender).map((b) => b.update);
      if (others.length && sender.socket.connected) sender.socket.emit('y:sync', message(others));
    }
  }

  add(origin: ClientOrigin): FrameChannel {
    const socket = origin.socket;
    this.origins.set(socket.id, origin);
    const channel = new FrameChannel((frame: FramePayload, acked) => {
      this.metrics?.frameSent(frame.data.byteLength);
      // Own (unref'd) timer rather than socket.timeout(): a pending ack must not keep the process alive.
      const reclaim = setTimeout(acked, FRAME_ACK_TIMEOUT_MS);
      reclaim.unref();
      socket.emit('frame', frame, () => {
        clearTimeout(reclaim);
        acked();
      });
    }, MAX_UNACKED_FRAMES);
    this.channels.set(socket.id, channel);
    return channel;
  }

  remove(origin: ClientOrigin): void {
    this.origins.delete(origin.socket.id);
    const ch = this.channels.get(origin.socket.id);
    if (ch) this.metrics?.framesDropped.inc(ch.dropped);
    ch?.close();
    this.channels.delete(origin.socket.id);
    const owned = [...origin.awarenessClients].filter((id) => this.awarenessOwners.get(id) === origin);
    for (const id of owned) this.awarenessOwners.delete(id);
    if (owned.length && !this.session.isClosed) awarenessProtocol.removeAwarenessStates(this.session.awareness, owned, 'disconnect');
  }

  get empty(): boolean {
    return this.origins.size === 0;
  }

  dispose(): void {
    if (this.relayTimer) clearImmediate(this.relayTimer);
    this.relay();
    this.unsubscribe();
    this.session.awareness.off('update', this.onAwareness);
  }
}

/** The status a socket of `role` sees; `viewerToken` goes to editors only. */
export function statusFor(session: Session, role: Role, viewerToken?: string): StatusPayload {
  return {
    protocol: PROTOCOL_VERSION,
    session: session.id,
    role,
    ...(role === 'editor' && viewerToken ? { viewerToken } : {}),
    state: session.state,
    backend: session.backend,
    model: session.validator.state().params.model,
    iter: session.iter,
    stepsPerSec: session.stepsPerSec,
    clients: session.clientCount,
    ...(session.message ? { message: session.message } : {}),
  };
}

/** Attaches the realtime layer to `httpServer`. */
export function attachRealtime(httpServer: HttpServer, sessions: SessionManager, opts: RealtimeOptions): AtelierServer {
  const limits: SocketLimits = { ...DEFAULT_SOCKET_LIMITS, ...opts.limits };
  if (opts.maxMessageBytes !== undefined) limits.maxMessageBytes = opts.maxMessageBytes;
  const io: AtelierServer = new Server(httpServer, {
    path: SOCKET_PATH,
    serveClient: false,
    // Slack for socket.io framing; the guard enforces maxMessageBytes on the payload itself.
    maxHttpBufferSize: limits.maxMessageBytes + 1024,
  });
  const rooms = new Map<Session, SessionRoom>();
  const trust = opts.trust ?? compileTrust('loopback');
  const connections = opts.connections ?? (opts.maxSocketsPerIp !== undefined ? new ConnectionCounter(opts.maxSocketsPerIp) : undefined);
  const docMaxUpdateBytes = opts.docMaxUpdateBytes ?? CONFIG_DEFAULTS.docMaxUpdateBytes;
  const sessionMaxDocBytes = opts.sessionMaxDocBytes ?? CONFIG_DEFAULTS.sessionMaxDocBytes;
  watchSlowConsumers(io, { maxBufferedBytes: opts.maxBufferedBytes ?? CONFIG_DEFAULTS.socketMaxBufferedBytes });

  io.use(async (socket, next) => {
    const parsed = HandshakeAuth.safeParse(socket.handshake.auth ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return next(refusal(ErrorCode.BadRequest, `bad handshake auth: ${issue.path.join('.') || 'auth'}: ${issue.message}; send {session, token, name, protocol}`));
    }
    const { session: id, token, name, protocol } = parsed.data;
    // S32: a client that says which protocol it speaks must speak this server's.
    if (protocol !== undefined && !protocolCompatible(protocol)) {
      return next(refusal(ErrorCode.IncompatibleClient, incompatibleClientMessage(protocol)));
    }
    let auth: Exclude<Awaited<ReturnType<SessionManager['authorize']>>, { error: unknown }>;
    try {
      auth = await authorizeAccess((sid, t) => sessions.authorize(sid, t), id, token, 'viewer');
    } catch (e) {
      // The same refusals as REST (session/access.ts).
      if (e instanceof AccessDenied) return next(refusal(e.code, e.message));
      log.warn('handshake: the session could not be read', { session: id, error: (e as Error).message });
      return next(refusal(ErrorCode.Unavailable, 'the session cannot be read from storage right now; retrying'));
    }
    if (auth.session.watcherCount >= opts.maxClientsPerSession) {
      return next(refusal(ErrorCode.TooManyClients, `session '${id}' already has its maximum of ${opts.maxClientsPerSession} clients`));
    }
    // R2: the same client address as REST (X-Forwarded-For only from a trusted proxy); sockets
    // and MJPEG streams share the per-address allowance.
    const address = clientAddress(socket.request, trust);
    let releaseSlot = () => {};
    if (connections) {
      const slot = connections.acquire(address);
      if (!slot) return next(refusal(ErrorCode.TooManyClients, `your address already has its maximum of ${connections.maxPerAddress} connections`));
      releaseSlot = slot;
    }
    socket.data = {
      session: auth.session,
      role: auth.role,
      name: name ?? '',
      address,
      releaseSlot,
      ...(auth.role === 'editor' && auth.viewerToken ? { viewerToken: auth.viewerToken } : {}),
    };
    next();
  });

  io.on('connection', (socket: AtelierSocket) => {
    const { role } = socket.data;
    let session = socket.data.session;
    if (session.isClosed) {
      // Unloaded (idle) between the handshake and now: use the instance loaded since, if any;
      // otherwise the client reconnects and loads it again.
      const fresh = sessions.loadedSession(session.id);
      if (!fresh || fresh.isClosed) {
        socket.data.releaseSlot();
        return void socket.disconnect(true);
      }
      session = socket.data.session = fresh;
    }
    const origin = new ClientOrigin(socket, socket.data.name);
    let room = rooms.get(session);
    if (!room) {
      room = new SessionRoom(session, io, opts.metrics);
      rooms.set(session, room);
    }
    const channel = room.add(origin);
    void socket.join(session.id);
    const release = session.attach('socket', socket.data.address);
    const sendError = (e: ErrorPayload) => socket.emit('error', e);
    const guard = new SocketGuard(limits);
    const awarenessRate = new TokenBucket(AWARENESS_LIMITS.burst, AWARENESS_LIMITS.ratePerSec);
    let lastAwarenessNotice = -Infinity;
    const refuse = (a: Admission): void => {
      if (a.ok) return;
      if (a.error) sendError(a.error);
      if (a.disconnect) socket.disconnect(true);
    };
    let resyncTimer: NodeJS.Timeout | null = null;
    /** An editor's update was dropped: ask for its missing edits (step1 → its step2) a bit later. */
    const scheduleResync = () => {
      if (role !== 'editor' || resyncTimer) return;
      resyncTimer = setTimeout(() => {
        resyncTimer = null;
        if (socket.disconnected || session.isClosed) return;
        const enc = encoding.createEncoder();
        syncProtocol.writeSyncStep1(enc, session.doc);
        socket.emit('y:sync', encoding.toUint8Array(enc));
      }, RESYNC_AFTER_DROP_MS);
      resyncTimer.unref();
    };
    socket.onAny((event: unknown) => {
      if (event !== 'y:sync' && event !== 'y:awareness') refuse(guard.reject(ErrorCode.BadMessage, `unknown event '${String(event).slice(0, 40)}'`));
    });

    socket.emit('status', statusFor(session, role, socket.data.viewerToken));
    if (role === 'editor') {
      const enc = encoding.createEncoder();
      syncProtocol.writeSyncStep1(enc, session.doc);
      socket.emit('y:sync', encoding.toUint8Array(enc));
    }
    if (session.awareness.getStates().size) {
      socket.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(session.awareness, [...session.awareness.getStates().keys()]));
    }
    if (session.latestFrame) channel.offer(session.latestFrame);

    socket.on('y:sync', async (raw: unknown) => {
      // Guard first (binary, size, rate), then the message's structure, then a full decode of the
      // update, so nothing malformed reaches Y.applyUpdate (y-protocols would half-apply and log it).
      const first = raw instanceof Uint8Array || raw instanceof ArrayBuffer ? new Uint8Array(raw)[0] : undefined;
      const admitted = guard.admit('y:sync', raw, first === SYNC_STEP1 ? STEP1_COST : 1);
      if (!admitted.ok) {
        if (admitted.rateLimited && first !== SYNC_STEP1) scheduleResync();
        return refuse(admitted);
      }
      if (session.isClosed) return;
      const msg = parseSyncMessage(admitted.bytes);
      if (typeof msg === 'string') return refuse(guard.reject(ErrorCode.BadMessage, msg));
      if (msg.type === SYNC_STEP1) {
        const bad = checkStateVector(msg.payload);
        if (bad) return refuse(guard.reject(ErrorCode.BadMessage, bad));
        // R2: a step1 costs its answer's bytes; one that arrives while the socket's byte bucket
        // is spent is refused before the (whole-document) answer is built.
        if (guard.bytesAvailable <= 0) {
          return sendError({ code: ErrorCode.RateLimited, message: `too many document requests: each costs the document's size against ${limits.byteRate} bytes/s per connection; retry later` });
        }
        // Charged now (not after the commit wait below), so a burst of step1s cannot all pass the check.
        guard.chargeAnswer(session.encodeStateAsUpdate(msg.payload).length + 8);
        // Answer with durable state only: wait until the updates queued before it are committed (S6).
        await opts.commits.durable();
        if (session.isClosed || socket.disconnected) return;
      } else {
        if (role === 'editor' && msg.payload.length > docMaxUpdateBytes) {
          return sendError({ code: ErrorCode.OverBudget, message: `a document update of ${msg.payload.length} bytes is over the limit of ${docMaxUpdateBytes} (DOC_MAX_UPDATE_BYTES); it was dropped` });
        }
        // S30: a socket's updates are applied in the order they came. One that names images this
        // process does not know yet waits for their lookup, and the ones after it wait behind it.
        const payload = msg.payload;
        const wait = role === 'editor' ? session.imagesKnown(payload) : null;
        if (!wait && !applying) return applyUpdate(payload);
        const queued = (applying ?? Promise.resolve()).then(() => wait).then(() => applyUpdate(payload));
        applying = queued;
        void queued.finally(() => {
          if (applying === queued) applying = null;
        });
        return;
      }
      try {
        const update = session.encodeStateAsUpdate(msg.payload);
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, syncProtocol.messageYjsSyncStep2);
        encoding.writeVarUint8Array(enc, update);
        socket.emit('y:sync', encoding.toUint8Array(enc));
      } catch (e) {
        log.warn('bad sync message', { session: session.id, error: (e as Error).message });
        refuse(guard.reject(ErrorCode.BadMessage, `could not answer the sync message: ${(e as Error).message}`));
      }
    });

    /** Checks an update against the document as it is now and applies it (R1, S7, S27). */
    let applying: Promise<void> | null = null;
    const applyUpdate = (payload: Uint8Array): void => {
      if (session.isClosed || socket.disconnected) return;
      const { error, empty } = checkUpdate(payload, role === 'editor' ? session.doc : undefined);
      if (error) return refuse(guard.reject(ErrorCode.BadMessage, error));
      if (role !== 'editor') {
        if (!empty) sendError({ code: ErrorCode.ReadOnly, message: 'this is a view-only connection; the change was dropped' });
        return;
      }
      if (!empty && session.docBytes + payload.length > sessionMaxDocBytes) {
        sendError({
          code: ErrorCode.OverBudget,
          message: `this session's document has reached its budget of ${sessionMaxDocBytes} stored bytes (SESSION_MAX_DOC_BYTES); the change was dropped — fork the session to go on from its current state`,
        });
        return;
      }
      try {
        // Applied here rather than via y-protocols, which would swallow (and console.error) a throw.
        Y.applyUpdate(session.doc, payload, origin);
      } catch (e) {
        log.warn('bad sync message', { session: session.id, error: (e as Error).message });
        refuse(guard.reject(ErrorCode.BadMessage, `could not apply the sync message: ${(e as Error).message}`));
      }
    };

    socket.on('y:awareness', (raw: unknown) => {
      const admitted = guard.admit('y:awareness', raw);
      if (!admitted.ok) return refuse(admitted);
      if (session.isClosed) return;
      // S9: presence has its own, tighter rate (AWARENESS_LIMITS): it is fanned out to every listener.
      if (!awarenessRate.take()) {
        const t = Date.now();
        if (t - lastAwarenessNotice >= 1000) {
          lastAwarenessNotice = t;
          const disconnect = guard.strike();
          sendError({ code: ErrorCode.RateLimited, message: `too many awareness messages: at most ${AWARENESS_LIMITS.ratePerSec}/s per connection; dropped${disconnect ? '; disconnecting' : ''}` });
          if (disconnect) socket.disconnect(true);
        }
        return;
      }
      const ids = inspectAwarenessUpdate(admitted.bytes);
      if (typeof ids === 'string') return refuse(guard.reject(ErrorCode.BadMessage, ids));
      // S9: an awareness id belongs to the socket that published it first.
      for (const id of ids) {
        const owner = room!.awarenessOwners.get(id);
        if (owner && !origin.mayTakeOver(owner)) {
          return refuse(guard.reject(ErrorCode.BadMessage, `awareness id ${id} belongs to another connection`));
        }
      }
      const fresh = ids.filter((id) => !origin.awarenessClients.has(id));
      if (origin.awarenessClients.size + fresh.length > MAX_AWARENESS_ENTRIES) {
        return refuse(guard.reject(ErrorCode.BadMessage, `a connection may publish at most ${MAX_AWARENESS_ENTRIES} awareness states`));
      }
      try {
        awarenessProtocol.applyAwarenessUpdate(session.awareness, admitted.bytes, origin);
      } catch (e) {
        refuse(guard.reject(ErrorCode.BadMessage, `could not apply the awareness update: ${(e as Error).message}`));
      }
    });

    socket.on('disconnect', () => {
      if (resyncTimer) clearTimeout(resyncTimer);
      const r = rooms.get(session);
      r?.remove(origin);
      if (r?.empty) {
        r.dispose();
        rooms.delete(session);
      }
      release();
      socket.data.releaseSlot();
    });
  });

  return io;
}
