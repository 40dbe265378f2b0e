/**
 * socket.io transport: handshake authentication, y-protocols sync and awareness relay, frames and
 * status. The document logic lives in the session layer; the realtime layer only moves bytes and
 * enforces roles. This file authenticates each handshake and hands the socket to a
 * {@link Connection} (connection.ts: one socket's messages) in its session's {@link SessionRoom}
 * (session-room.ts: the fan-out to all of a session's sockets).
 *
 * - Handshake `auth` = {session, token, name}; unknown session / wrong token / full session are
 *   refused in middleware, so the client gets `connect_error` with a clear message (and
 *   `err.data.code`, an ErrorCode).
 * - Editors get sync step1 on connect (so their offline edits come back as step2) and may write.
 * - Viewers get no step1 from the server; they ask with their own step1. A viewer's step2/update
 *   that carries any change is dropped and answered with READ_ONLY; an empty one is ignored.
 * - The socket's `ClientOrigin` (session-room.ts) is the transaction origin: updates are relayed (after they
 *   are durable) to every other socket of the session, never echoed to their sender.
 */
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import {
  ErrorCode,
  HandshakeAuth,
  SOCKET_PATH,
  incompatibleClientMessage,
  protocolCompatible,
  type ErrorPayload,
} from '../../shared/protocol.ts';
import { createLogger } from '../log.ts';
import { CONFIG_DEFAULTS, type Config } from '../config.ts';
import type { GroupCommit } from '../storage/group-commit.ts';
import type { Session } from '../session/session.ts';
import type { SessionManager } from '../session/session-manager.ts';
import { AccessDenied, authorizeAccess } from '../session/access.ts';
import type { SocketLimits } from './message-guard.ts';
import { watchSlowConsumers } from './slow-consumers.ts';
import { ConnectionCounter, addressFullMessage, clientAddress, compileTrust, type TrustFn } from '../limits/client-address.ts';
import { Connection, type ConnectionOptions } from './connection.ts';
import { SessionRoom, type RealtimeMetrics } from './session-room.ts';
import type { AtelierServer, AtelierSocket } from './socket-types.ts';

export type { AtelierServer } from './socket-types.ts';

const log = createLogger('realtime');

export interface RealtimeOptions {
  maxClientsPerSession: number;
  commits: GroupCommit;
  metrics?: RealtimeMetrics;
  /** socket.io's cap on one message (default SOCKET_MAX_MESSAGE_BYTES's; a long stroke is ~200 KB). */
  maxMessageBytes?: number;
  /** Per-socket rate limits and strike policy (message-guard.ts); defaults below. */
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

function refusal(code: ErrorPayload['code'], message: string): Error {
  const err = new Error(message) as Error & { data: ErrorPayload };
  err.data = { code, message };
  return err;
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
  const connectionOptions: ConnectionOptions = {
    limits,
    commits: opts.commits,
    docMaxUpdateBytes: opts.docMaxUpdateBytes ?? CONFIG_DEFAULTS.docMaxUpdateBytes,
    sessionMaxDocBytes: opts.sessionMaxDocBytes ?? CONFIG_DEFAULTS.sessionMaxDocBytes,
  };
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
      if (!slot) return next(refusal(ErrorCode.TooManyClients, addressFullMessage(connections.maxPerAddress)));
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
    let room = rooms.get(session);
    if (!room) {
      room = new SessionRoom(session, io, opts.metrics);
      rooms.set(session, room);
    }
    new Connection(socket, session, room, connectionOptions, (c) => {
      const r = rooms.get(session);
      r?.remove(c.origin);
      if (r?.empty) {
        r.dispose();
        rooms.delete(session);
      }
    });
  });

  return io;
}
